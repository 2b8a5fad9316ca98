"""Synonym and abbreviation rules from plain, admin-editable text files."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bot.errors import CorpusError
from bot.text import tokenize

log = logging.getLogger(__name__)

Phrase = tuple[str, ...]  # the stems of a word or phrase, stopwords included
GROUP_MARK = "§"  # group terms look like "§12"; the tokenizer never produces this character


def phrase_of(text: str) -> Phrase:
    return tuple(token.stem for token in tokenize(text))


@dataclass
class SynonymTable:
    """Equivalence groups and one-way rewrites, looked up by stemmed phrase."""

    groups: dict[Phrase, set[Phrase]] = field(default_factory=dict)
    group_ids: dict[Phrase, list[str]] = field(default_factory=dict)
    group_members: dict[str, set[str]] = field(default_factory=dict)  # group term -> member stems
    rewrites: dict[Phrase, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    digest: str = ""
    longest: int = 1  # the most tokens in any phrase, to bound phrase matching
    texts: list[str] = field(default_factory=list)  # the rule files' texts, stored with each index build
    _starts: frozenset[str] | None = field(default=None, repr=False, compare=False)

    def words(self) -> set[str]:
        """All words the rules mention, for the spelling vocabulary."""
        return {token.surface for text in self.sources for token in tokenize(text) if not token.stop}

    def add_line(self, line: str) -> None:
        """Parse one rule line (comments and blanks are ignored)."""
        line = line.split("#", 1)[0].strip()
        if not line:
            return
        if "=>" in line:
            left, right = (part.strip() for part in line.split("=>", 1))
            phrase = phrase_of(left)
            if phrase and right:
                self.rewrites[phrase] = right
                self.sources.append(right)
                self.longest = max(self.longest, len(phrase))
            return
        members = {phrase_of(part) for part in line.split(",")}
        members.discard(())
        if len(members) < 2:
            return
        self.sources.append(line)
        self._starts = None
        group_id = f"{GROUP_MARK}{len(self.sources)}"
        self.longest = max(self.longest, *(len(m) for m in members))
        for member in members:
            self.groups.setdefault(member, set()).update(members)
            self.group_ids.setdefault(member, []).append(group_id)
            self.group_members.setdefault(group_id, set()).update(member)

    def phrase_starts(self) -> frozenset[str]:
        """The first stem of every group member phrase (cached until a rule is added)."""
        if self._starts is None:
            self._starts = frozenset(phrase[0] for phrase in self.group_ids if phrase)
        return self._starts

    def group_terms(self, stems: list[str]) -> list[str]:
        """Group terms for a token sequence: one per occurrence of any member of a group.

        Indexed beside the words, they let a passage that says "sources" match a question
        about "foods" with the combined term frequency and document frequency of the group.
        """
        found: list[str] = []
        longest = self.longest
        starts = self.phrase_starts()
        i = 0
        while i < len(stems):
            if stems[i] not in starts:
                i += 1
                continue
            for n in range(min(longest, len(stems) - i), 0, -1):
                ids = self.group_ids.get(tuple(stems[i : i + n]))
                if ids:
                    found.extend(ids)
                    i += n
                    break
            else:
                i += 1
        return found


def default_synonyms_path() -> Path:
    return Path(str(resources.files("bot").joinpath("data/synonyms.txt")))


def read_rules(path: Path) -> str:
    """A rule file's text; a file that is not UTF-8 is an error naming its line, never silently dropped."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read synonyms file {path.name}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(
            f"synonyms file {path.name}, line {line}: not valid UTF-8 (byte {exc.start}); fix it and re-index, the "
            "current index stays in use"
        ) from None


def load_synonyms(*paths: Path | None) -> SynonymTable:
    """Read rule files in order; missing files are skipped, an unreadable one raises CorpusError."""
    return synonyms_from_texts([read_rules(path) for path in paths if path is not None and path.is_file()])


def synonyms_from_texts(texts: list[str]) -> SynonymTable:
    """The table for rule texts, in order (as read from files, or as stored with an index build)."""
    table = SynonymTable()
    for text in texts:
        for line in text.splitlines():
            table.add_line(line)
    table.digest = rules_digest(texts)
    table.texts = list(texts)
    return table


def rules_digest(texts: list[str]) -> str:
    """The SHA-256 of rule texts, in order: what an index build records of its synonyms."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def synonyms_digest(*paths: Path | None) -> str:
    """load_synonyms(*paths).digest without parsing the rules (a staleness check needs only this)."""
    return rules_digest([read_rules(path) for path in paths if path is not None and path.is_file()])

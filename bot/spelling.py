"""Correct misspelled question words to the closest word the index knows."""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

from spellchecker import SpellChecker

from bot.text import nltk_module, stem

MIN_LENGTH = 4  # shorter words are too ambiguous to correct
MIN_PART = 3  # each part of a split compound word has at least this many letters
# The only words a three-letter typo is read as ("hwo" -> "how"). Wider sets collide with
# abbreviations: "nad" (NAD+) is a swap of "and", "itp" of "tip".
SWAP_TARGETS = frozenset({"how", "who", "why", "the"})


def max_distance(word: str) -> int:
    """Edits allowed: one for words up to 7 letters, two for longer ones."""
    return 1 if len(word) <= 7 else 2


def deletes(word: str, distance: int) -> set[str]:
    """All strings made by deleting up to `distance` characters from `word`."""
    result = {word}
    for n in range(1, distance + 1):
        for positions in combinations(range(len(word)), n):
            result.add("".join(ch for i, ch in enumerate(word) if i not in positions))
    return result


@lru_cache(maxsize=1)
def english_frequencies() -> dict[str, int]:
    """pyspellchecker's bundled English word counts, loaded once (nothing is downloaded)."""
    return dict(SpellChecker(distance=1).word_frequency.dictionary)


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """A general English word list (pyspellchecker's bundled dictionary; nothing is downloaded)."""
    return frozenset(english_frequencies())


def one_edit_from_english(word: str) -> bool:
    """Is `word` one deletion, insertion, substitution or swap of adjacent letters away from an English word
    ("drnking")?"""
    words = english_words()
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = (
        [left + right[1:] for left, right in splits if right]
        + [left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1]
        + [left + c + right[1:] for left, right in splits if right for c in letters]
        + [left + c + right for left, right in splits for c in letters]
    )
    return any(edit != word and edit in words for edit in edits)


COMMON_SHARE = 3e-4  # a word this frequent in general English (about the 400 commonest) names no topic


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """The few hundred commonest English words ("take", "day", "much", "best"), by pyspellchecker's frequencies."""
    frequencies = english_frequencies()
    total = float(sum(frequencies.values()))
    return frozenset(word for word, count in frequencies.items() if count / total >= COMMON_SHARE)


@lru_cache(maxsize=1)
def common_stems() -> frozenset[str]:
    """The stems of common_words()."""
    return frozenset(stem(w) for w in common_words())


class SpellingCorrector:
    """Symmetric-delete candidate lookup, verified with NLTK's edit distance (with transpositions).

    A word found in a general English dictionary is never "corrected": "glass" is not a typo
    of "grass", it is a word the articles do not use.
    """

    def __init__(
        self,
        frequencies: dict[str, int],
        dictionary: frozenset[str] | None = None,
        function_words: frozenset[str] = frozenset(),
    ) -> None:
        self.frequencies = frequencies
        self.function_words = function_words  # also correction targets ("shuold" -> "should"), after index words
        self._dictionary = dictionary
        self._by_delete: dict[str, list[str]] | None = None
        self.correct = lru_cache(maxsize=10_000)(self._correct)

    @property
    def dictionary(self) -> frozenset[str]:
        """The general English word list, loaded when a question first has an unknown word."""
        if self._dictionary is None:
            self._dictionary = english_words()
        return self._dictionary

    @property
    def by_delete(self) -> dict[str, list[str]]:
        """Index words by their one-letter deletions, built on first use.

        The question word's side takes up to two deletions, so substitutions, transpositions, one
        missing letter and up to two extra letters are all found, while the index stays a few
        entries per word (a second deletion on this side made it 2 s to build at 100k passages).
        """
        if self._by_delete is None:
            index: dict[str, list[str]] = {}
            for word in (*self.frequencies, *(w for w in self.function_words if w not in self.frequencies)):
                if len(word) >= MIN_LENGTH - 1 and word.isalpha():
                    for key in deletes(word, 1):
                        index.setdefault(key, []).append(word)
            self._by_delete = index
        return self._by_delete

    def knows(self, word: str) -> bool:
        return word in self.frequencies

    def split_compound(self, word: str) -> str | None:
        """'bedtime' -> 'bed time' when both parts are words the index knows."""
        for i in range(MIN_PART, len(word) - MIN_PART + 1):
            left, right = word[:i], word[i:]
            if left in self.frequencies and right in self.frequencies:
                return f"{left} {right}"
        return None

    def swapped_function_word(self, word: str) -> str | None:
        """ "hwo" -> "how", "teh" -> "the": a three-letter word is only read as one of SWAP_TARGETS with two letters
        swapped.

        Anything looser would turn unknown abbreviations into function words ("ibs" -> "its",
        "nad" -> "and") and so hide that the articles never mention them.
        """
        if word in self.dictionary:
            return None
        swaps = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)} - {word}
        found = sorted(swaps & SWAP_TARGETS, key=lambda w: (-english_frequencies().get(w, 0), w))
        return found[0] if found else None  # "hwo": "how" and "who" are both a swap away; the commoner wins

    def _correct(self, word: str) -> str | None:
        """The known word (or two) closest to `word`, or None when there is none close enough."""
        if self.knows(word) or not word.isalpha() or not word.isascii():
            return None
        if len(word) == MIN_LENGTH - 1:
            return self.swapped_function_word(word)
        if len(word) < MIN_LENGTH:
            return None
        compound = self.split_compound(word)
        if compound:
            return compound
        if word in self.dictionary:
            return None
        limit = max_distance(word)
        candidates = {c for key in deletes(word, limit) for c in self.by_delete.get(key, ())}
        best: tuple[int, int, str] | None = None
        if not candidates:
            return None
        edit_distance = nltk_module("nltk.metrics.distance").edit_distance  # NLTK is imported on first use
        for candidate in candidates:
            distance = int(edit_distance(word, candidate, transpositions=True))
            if distance <= min(limit, max_distance(candidate)):
                rank = (distance, -self.frequencies.get(candidate, 0), candidate)  # a function word loses ties
                best = rank if best is None or rank < best else best
        return best[2] if best else None

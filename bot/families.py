"""Word families: index words that share an aggressive (Lancaster) stem with a question word.

Snowball keeps "denser" and "density", or "absorb" and "absorption", apart. A question word's
family members that the index has are a second guess, searched at a reduced weight (lower
still for a word the index has itself). The table is built with the index and stored in it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from bot.text import nltk_module, stem

MIN_ROOT = 4  # shorter Lancaster roots ("al" for "alive") join unrelated words


def lancaster_roots(words: Iterable[str]) -> dict[str, str]:
    """Each alphabetic word's Lancaster root (slow: about 65 microseconds a word)."""
    lancaster = nltk_module("nltk.stem").LancasterStemmer()
    return {word: lancaster.stem(word) for word in words if word.isalpha()}


def family_table(
    words: Iterable[str], roots: dict[str, str] | None = None, stems: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """Lancaster root -> the index stems of the words with that root (computed at build time).

    `roots` and `stems` may hold the roots and stems already known (from the build cache); the others are computed.
    """
    words = list(words)
    known = dict(roots or {})
    known.update(lancaster_roots(w for w in words if w not in known))
    stems = stems or {}
    members: dict[str, set[str]] = {}
    for word in words:
        root = known.get(word, "")
        if len(root) >= MIN_ROOT:
            members.setdefault(root, set()).add(stems.get(word) or stem(word))
    return {root: sorted(stems) for root, stems in sorted(members.items())}


LANCASTER_LOCK = threading.Lock()  # NLTK's stemmer fills its rule table lazily: threads must not race on it


@lru_cache(maxsize=1)
def lancaster() -> Any:
    """NLTK's Lancaster stemmer, imported on first use (a question word the index lacks)."""
    return nltk_module("nltk.stem").LancasterStemmer()


@lru_cache(maxsize=50_000)
def lancaster_root(word: str) -> str:
    """A question word's Lancaster root, or "" when it is too short to be trusted (cached: about 65 µs a word)."""
    with LANCASTER_LOCK:
        root = str(lancaster().stem(word))
    return root if len(root) >= MIN_ROOT else ""


class WordFamilies:
    """Looks up the index stems that share a Lancaster root with a word."""

    def __init__(self, members: dict[str, list[str]]) -> None:
        self.members = members

    def root(self, word: str) -> str:
        """The word's Lancaster root, or "" when it is too short to be trusted."""
        return lancaster_root(word)

    def relatives(self, word: str, word_stem: str) -> tuple[str, ...]:
        """Index stems of the same family as `word`, other than its own stem."""
        root = self.root(word) if word.isalpha() else ""
        return tuple(s for s in self.members.get(root, ()) if s != word_stem)

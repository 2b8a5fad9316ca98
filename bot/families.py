"""Word families: index words that share an aggressive (Lancaster) stem with a question word.

Snowball keeps "denser" and "density", or "absorb" and "absorption", apart. When a question
word is missing from the index, its family members that the index does have are a good
second guess, searched at a reduced weight.
"""

from __future__ import annotations

from nltk.stem import LancasterStemmer

from bot.text import stem

MIN_ROOT = 4  # shorter Lancaster roots ("al" for "alive") join unrelated words


class WordFamilies:
    """Looks up the index stems that share a Lancaster root with a word."""

    def __init__(self, words: dict[str, int] | set[str]) -> None:
        self.lancaster = LancasterStemmer()
        self.words = words
        self._members: dict[str, set[str]] | None = None

    @property
    def members(self) -> dict[str, set[str]]:
        """Lancaster root -> index stems, built the first time a question needs a family."""
        if self._members is None:
            members: dict[str, set[str]] = {}
            for word in self.words:
                if word.isalpha():
                    root = self.root(word)
                    if root:
                        members.setdefault(root, set()).add(stem(word))
            self._members = members
        return self._members

    def root(self, word: str) -> str:
        """The word's Lancaster root, or "" when it is too short to be trusted."""
        root = self.lancaster.stem(word)
        return root if len(root) >= MIN_ROOT else ""

    def relatives(self, word: str, word_stem: str) -> tuple[str, ...]:
        """Index stems of the same family as `word`, other than its own stem."""
        root = self.root(word) if word.isalpha() else ""
        return tuple(sorted(self.members.get(root, set()) - {word_stem}))

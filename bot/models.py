"""Plain data types shared along the pipeline: articles, blocks and passages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["heading", "paragraph", "list"]


@dataclass(frozen=True)
class Block:
    """One structural piece of an article as a reader found it.

    - ``heading``: ``text`` is the heading, ``level`` is 1 for the article title,
      2 for a main section and 3+ for subsections.
    - ``paragraph``: ``text`` is one paragraph of prose.
    - ``list``: ``items`` are the list items; ``text`` is them joined by newlines.
    """

    kind: BlockKind
    text: str
    level: int = 0
    items: tuple[str, ...] = ()

    @staticmethod
    def heading(text: str, level: int) -> Block:
        return Block("heading", text, level=level)

    @staticmethod
    def paragraph(text: str) -> Block:
        return Block("paragraph", text)

    @staticmethod
    def bullet_list(items: list[str] | tuple[str, ...]) -> Block:
        items = tuple(items)
        return Block("list", "\n".join(items), items=items)


@dataclass(frozen=True)
class Article:
    """A parsed article: its corpus file name, its title and its body blocks (title excluded)."""

    name: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Passage:
    """A retrievable piece of an article with the headings that give it context."""

    article: str  # article title
    source: str  # article file name in the corpus
    section: str
    subsection: str
    text: str
    position: int  # order of the passage within its article, from 0
    # where its sentences are in `text` ((start, end), as bot.text.split_sentences splits it), found at build time so
    # that answering needs no sentence splitter; () when unknown
    sentences: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)

    @property
    def heading(self) -> str:
        return heading_of(self.section, self.subsection)


def heading_of(section: str, subsection: str) -> str:
    """Section and subsection as one display title: "Section › Subsection"."""
    if subsection and subsection != section:
        return f"{section} › {subsection}" if section else subsection
    return section

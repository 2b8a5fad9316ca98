"""Split articles into coherent, section-aware passages."""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Article, Block, Passage
from bot.text import sentence_spans, split_sentences

DEFAULT_MAX_WORDS = 160
BULLET = "•"
MIN_WORDS = 6


@dataclass(frozen=True)
class Unit:
    """A paragraph, a list, or a piece of either, that is never split further."""

    text: str
    words: int


def build_passages(article: Article, max_words: int = DEFAULT_MAX_WORDS) -> list[Passage]:
    """Group an article's blocks under their headings and pack them into passages."""
    passages: list[Passage] = []
    for section, subsection, blocks in group_by_heading(article.blocks):
        for text in pack_units(units_of(blocks, max_words), max_words):
            passages.append(
                Passage(
                    article=article.title,
                    source=article.name,
                    section=section or article.title,
                    subsection=subsection,
                    text=text,
                    position=len(passages),
                    sentences=sentence_spans(text),
                )
            )
    return passages


def group_by_heading(blocks: tuple[Block, ...]) -> list[tuple[str, str, list[Block]]]:
    """Split blocks into runs that share one (section, subsection).

    A subsection heading with no text of its own before the next heading is dropped,
    so stray link text or a subtitle never becomes a passage title.
    """
    groups: list[tuple[str, str, list[Block]]] = []
    section, subsection = "", ""
    current: list[Block] = []

    def flush() -> None:
        if current:
            groups.append((section, subsection, list(current)))
            current.clear()

    for block in blocks:
        if block.kind != "heading":
            current.append(block)
            continue
        flush()
        if block.level <= 2:
            section, subsection = block.text, ""
        else:
            subsection = block.text
    flush()
    return groups


def word_count(text: str) -> int:
    return len(text.split())


def units_of(blocks: list[Block], max_words: int) -> list[Unit]:
    """Turn blocks into units: lists stay whole unless too long, long paragraphs split at sentences."""
    units: list[Unit] = []
    for block in blocks:
        if block.kind == "list":
            units.extend(chunk_lines([f"{BULLET} {item}" for item in block.items], max_words))
        elif word_count(block.text) > max_words:
            units.extend(chunk_lines(split_sentences(block.text), max_words, joiner=" "))
        else:
            units.append(Unit(block.text, word_count(block.text)))
    return units


def chunk_lines(lines: list[str], max_words: int, joiner: str = "\n") -> list[Unit]:
    """Pack list items or sentences into units of at most max_words (a single long line stays whole)."""
    units: list[Unit] = []
    chunk: list[str] = []
    words = 0
    for line in lines:
        n = word_count(line)
        if chunk and words + n > max_words:
            units.append(Unit(joiner.join(chunk), words))
            chunk, words = [], 0
        chunk.append(line)
        words += n
    if chunk:
        units.append(Unit(joiner.join(chunk), words))
    return units


def pack_units(units: list[Unit], max_words: int) -> list[str]:
    """Greedily pack consecutive units into passages of at most max_words.

    A paragraph ending in a colon stays with what follows it, and a fragment too short
    to stand alone is joined to its neighbour.
    """
    passages: list[list[Unit]] = []
    for unit in units:
        last = passages[-1] if passages else None
        if last is not None:
            size = sum(u.words for u in last)
            leads_in = last[-1].text.rstrip().endswith(":")
            too_small = size < MIN_WORDS or unit.words < MIN_WORDS
            if size + unit.words <= max_words or leads_in or (too_small and size + unit.words <= 2 * max_words):
                last.append(unit)
                continue
        passages.append([unit])
    return ["\n".join(u.text for u in group) for group in passages]

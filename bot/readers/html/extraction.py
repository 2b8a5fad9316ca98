"""Stage 2, extraction: the title, then the cleaned root's headings, lists, tables, preformatted text
and paragraphs as blocks in document order (steps 4-5 in ``bot.readers.html``).
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, Tag

from bot.models import Block
from bot.readers.common import prettify_name
from bot.readers.html.dom import (
    HEADING_TAGS,
    INVISIBLE,
    collapse,
    find_descendant,
    finish,
    is_readable_string,
    outermost,
    squash,
)

LIST_TAGS: frozenset[str] = frozenset({"ul", "ol"})

INLINE_TAGS: frozenset[str] = frozenset(
    {
        "a",
        "abbr",
        "acronym",
        "b",
        "bdi",
        "bdo",
        "big",
        "cite",
        "code",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "img",
        "ins",
        "kbd",
        "label",
        "mark",
        "nobr",
        "picture",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
        "wbr",
    }
)

MAX_LIST_DEPTH = 8

LAYOUT_MARKERS: frozenset[str] = HEADING_TAGS | {"table"}

HEADING_MARKS = " \t\n¶#§🔗"

STRONG_TITLE_SEPARATOR = re.compile(r"\s+(?:\||–|—|·|»|::)\s+")

HYPHEN_TITLE_SEPARATOR = re.compile(r"\s+-\s+")

MAX_SITE_SUFFIX_WORDS = 3


class _Close:
    """Stack marker: the block element opened before it has ended."""


_CLOSE = _Close()

_GAP = " "


def choose_title(root: Tag, soup: BeautifulSoup, page_title: str, name: str) -> tuple[str, Tag | None]:
    """The title text and, when it came from an <h1>, that element."""
    for scope in (root, soup):
        heading, text = first_h1(scope)
        if heading is not None:
            return text, heading
    stripped = _strip_site_suffix(page_title)
    if stripped:
        return stripped, None
    return prettify_name(name), None


def first_h1(scope: Tag) -> tuple[Tag | None, str]:
    """The first <h1> in scope that has text (h1s nested in h1s are not looked at), and its text."""
    for heading in outermost(scope, frozenset({"h1"})):
        text = _heading_text(heading)
        if text:
            return heading, text
    return None, ""


def _strip_site_suffix(title: str) -> str:
    """Drop " | Site Name", " – Shop" and similar site suffixes from a <title>."""
    title = collapse(title)
    parts = [part.strip() for part in STRONG_TITLE_SEPARATOR.split(title)]
    if len(parts) > 1 and parts[0]:
        return parts[0]
    parts = HYPHEN_TITLE_SEPARATOR.split(title)
    if len(parts) > 1 and len(parts[-1].split()) <= MAX_SITE_SUFFIX_WORDS:
        head = " - ".join(parts[:-1]).strip()
        if head:
            return head
    return title


class Collector:
    """Turns the cleaned content root into blocks in document order."""

    def __init__(self, skip: Tag | None, headings_only: set[int]) -> None:
        self.skip = skip
        self.headings_only = headings_only
        self.blocks: list[Block] = []
        self._run: list[str] = []

    def collect(self, root: Tag) -> list[Block]:
        """Walk the root iteratively; block elements end the current paragraph."""
        stack: list[PageElement | _Close] = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, _Close):
                self._flush()
            elif isinstance(node, NavigableString):
                if is_readable_string(node):
                    self._run.append(squash(str(node)))
            elif isinstance(node, Tag):
                stack.extend(self._visit(node))
        self._flush()
        return self.blocks

    def _visit(self, tag: Tag) -> list[PageElement | _Close]:
        """Handle one element; return what to push on the stack (children reversed)."""
        if tag is self.skip:
            self._flush()
            return []
        if tag.name == "br":
            self._run.append("\n")
            return []
        if id(tag) in self.headings_only:
            self._flush()
            headings: list[PageElement | _Close] = [*reversed(outermost(tag, HEADING_TAGS))]
            return headings
        if self._emit_special(tag):
            return []
        children: list[PageElement | _Close] = list(reversed(tag.contents))
        if tag.name in INLINE_TAGS:
            return children
        self._flush()
        return [_CLOSE, *children]

    def _emit_special(self, tag: Tag) -> bool:
        """Headings, lists, data tables and pre blocks become blocks of their own."""
        new_blocks: list[Block] | None = None
        if tag.name in HEADING_TAGS:
            new_blocks = _heading_blocks(tag)
        elif tag.name in LIST_TAGS:
            new_blocks = _list_blocks(tag)
        elif tag.name == "table" and not _is_layout_table(tag):
            new_blocks = _table_blocks(tag)
        elif tag.name == "pre":
            new_blocks = _pre_blocks(tag)
        if new_blocks is None:
            return False
        self._flush()
        self.blocks.extend(new_blocks)
        return True

    def _flush(self) -> None:
        text = finish("".join(self._run), keep_breaks=True)
        self._run.clear()
        if text:
            self.blocks.append(Block.paragraph(text))


def _flat_text(tag: Tag, exclude: frozenset[str] = frozenset(), keep_breaks: bool = False) -> str:
    """All readable text under a tag, with spaces between block-level children."""
    parts: list[str] = []
    stack: list[PageElement | str] = list(reversed(tag.contents))
    while stack:
        node = stack.pop()
        if isinstance(node, NavigableString):
            if is_readable_string(node):
                parts.append(squash(str(node)))
        elif isinstance(node, Tag):
            if node.name in exclude:
                continue
            if node.name == "br":
                parts.append("\n")
            elif node.name in INLINE_TAGS:
                stack.extend(reversed(node.contents))
            else:
                stack.extend([_GAP, *reversed(node.contents), _GAP])
        elif node is _GAP:
            parts.append(_GAP)
    return finish("".join(parts), keep_breaks)


def _heading_text(tag: Tag) -> str:
    """A heading's text without trailing permalink marks such as "¶" or "#"."""
    return _flat_text(tag).strip(HEADING_MARKS)


def _heading_blocks(tag: Tag) -> list[Block]:
    text = _heading_text(tag)
    return [Block.heading(text, int(tag.name[1]))] if text else []


def _list_blocks(tag: Tag) -> list[Block]:
    items = _list_items(tag, depth=0)
    return [Block.bullet_list(items)] if items else []


def _list_items(list_tag: Tag, depth: int) -> list[str]:
    """One string per <li>; nested lists are folded into the item that holds them."""
    items: list[str] = []
    for child in list_tag.children:
        if not isinstance(child, Tag):
            continue
        if child.name in LIST_TAGS:  # a list nested directly in a list belongs to the item above
            nested = _nested_items(child, depth + 1)
            if items:
                items[-1] = _fold(items[-1], nested)
            else:
                items.extend(nested)
            continue
        text = _list_item_text(child, depth) if child.name == "li" else _flat_text(child)
        if text:
            items.append(text)
    return items


def _list_item_text(item: Tag, depth: int) -> str:
    own = _flat_text(item, exclude=LIST_TAGS)
    nested = [text for sub in outermost(item, LIST_TAGS) for text in _nested_items(sub, depth + 1)]
    return _fold(own, nested)


def _nested_items(list_tag: Tag, depth: int) -> list[str]:
    """Items of a nested list; beyond MAX_LIST_DEPTH the rest is read as flat text."""
    if depth >= MAX_LIST_DEPTH:
        text = _flat_text(list_tag)
        return [text] if text else []
    return _list_items(list_tag, depth)


def _fold(parent: str, nested: list[str]) -> str:
    """'Parent: child one; child two' (no extra colon if the parent already ends with one)."""
    children = "; ".join(text.rstrip(";") for text in nested if text)
    if not children:
        return parent
    if not parent:
        return children
    return f"{parent} {children}" if parent.endswith(":") else f"{parent}: {children}"


def _is_layout_table(table: Tag) -> bool:
    """Tables that hold headings or other tables are page layout, not data."""
    return find_descendant(table, lambda tag: tag.name in LAYOUT_MARKERS) is not None


def _table_blocks(table: Tag) -> list[Block] | None:
    """Caption paragraph plus one list item per row; None when the table has no rows."""
    rows = [row for row in (_row_text(tr) for tr in outermost(table, frozenset({"tr"}))) if row]
    if not rows:
        return None
    captions = outermost(table, frozenset({"caption"}))
    caption_text = _flat_text(captions[0]) if captions else ""
    blocks = [Block.paragraph(caption_text)] if caption_text else []
    return [*blocks, Block.bullet_list(rows)]


def _row_text(row: Tag) -> str:
    cells = [_flat_text(cell) for cell in row.find_all(["td", "th"], recursive=False)]
    while cells and not cells[-1]:
        cells.pop()
    return " | ".join(cells) if any(cells) else ""


def _pre_blocks(tag: Tag) -> list[Block]:
    """Preformatted text keeps its lines; spaces within a line are collapsed."""
    lines = (collapse(line) for line in INVISIBLE.sub("", tag.get_text()).splitlines())
    text = "\n".join(line for line in lines if line)
    return [Block.paragraph(text)] if text else []

"""What every stage of the HTML reader shares: tag sets, text tidying and iterative tree walks.

Every walk here is our own iterative one: bs4's find()/descendants first walk a subtree's whole
rightmost chain, which turns deep nesting quadratic.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bs4.element import (
    CData,
    NavigableString,
    PageElement,
    PreformattedString,
    Script,
    Stylesheet,
    Tag,
    TemplateString,
)

HEADING_TAGS: frozenset[str] = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

WHITESPACE = re.compile(r"\s+")

INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def is_readable_string(node: NavigableString) -> bool:
    """Text and CDATA count; comments, doctypes, scripts and styles do not."""
    if isinstance(node, (Script, Stylesheet, TemplateString)):
        return False
    return isinstance(node, CData) or not isinstance(node, PreformattedString)


def squash(text: str) -> str:
    """Collapse all whitespace (source newlines included) to single spaces."""
    return WHITESPACE.sub(" ", INVISIBLE.sub("", text))


def collapse(text: str) -> str:
    return squash(text).strip()


def finish(text: str, keep_breaks: bool) -> str:
    """Tidy gathered text: single spaces, <br> line breaks kept (or flattened), no edge space."""
    text = re.sub(r"[^\S\n]+", " ", text)
    text = re.sub(r" ?\n[\n ]*", "\n", text).strip()
    return text if keep_breaks else text.replace("\n", " ")


def find_descendant(tag: Tag, predicate: Callable[[Tag], bool], limit: int | None = None) -> Tag | None:
    """The first descendant element (document order) matching predicate, looking at no more
    than ``limit`` elements. Unlike bs4's find(), it does not first walk the whole subtree."""
    stack: list[PageElement] = list(reversed(tag.contents))
    seen = 0
    while stack and (limit is None or seen < limit):
        node = stack.pop()
        if not isinstance(node, Tag):
            continue
        seen += 1
        if predicate(node):
            return node
        stack.extend(reversed(node.contents))
    return None


def outermost(tag: Tag, names: frozenset[str]) -> list[Tag]:
    """Descendants named in ``names`` that are not inside another such descendant, in order."""
    found: list[Tag] = []
    stack: list[PageElement] = list(reversed(tag.contents))
    while stack:
        node = stack.pop()
        if not isinstance(node, Tag):
            continue
        if node.name in names:
            found.append(node)
        else:
            stack.extend(reversed(node.contents))
    return found


def lineage_ids(tag: Tag) -> frozenset[int]:
    """Identities of a tag and its ancestors."""
    return frozenset({id(tag), *(id(parent) for parent in tag.parents)})

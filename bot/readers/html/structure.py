"""Stage 3, structure: drop navigation leftovers and boilerplate sections, drop the heading that
repeats the title, and re-rank heading levels (step 6 in ``bot.readers.html``).
"""

from __future__ import annotations

import dataclasses
import re

from bot.models import Block
from bot.readers.html.dom import WHITESPACE

ALNUM = re.compile(r"\w")

NAV_STRIP = " \t\n«»‹›←→↑↓<>|·•–—-:….!?()[]"

NAV_PHRASES: frozenset[str] = frozenset(
    {
        "back",
        "back to blog",
        "back to the blog",
        "back to top",
        "return to blog",
        "read more",
        "read the full post",
        "continue reading",
        "keep reading",
        "share",
        "share this",
        "share this post",
        "share this article",
        "share this page",
        "tweet",
        "pin it",
        "print",
        "email",
        "previous",
        "next",
        "previous post",
        "next post",
        "previous article",
        "next article",
        "older post",
        "newer post",
        "older posts",
        "newer posts",
        "all posts",
        "view all posts",
        "skip to content",
        "skip to main content",
        "leave a comment",
        "leave a reply",
        "load more",
        "show more",
        "view all",
        "see all",
        "home",
        "menu",
        "search",
        "close",
        "advertisement",
        "sponsored",
        "scroll to top",
        "go to top",
        "toggle navigation",
    }
)

NAV_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(share|post|pin) (on|to) [\w.+ ]{1,20}"),
    re.compile(r"\d+ (comments?|responses?|replies)"),
    re.compile(r"continue reading\b.*"),
)

BOILERPLATE_HEADINGS: frozenset[str] = frozenset(
    {
        "related",
        "related posts",
        "related articles",
        "you may also like",
        "you might also like",
        "more from the blog",
        "recent posts",
        "popular posts",
        "leave a reply",
        "leave a comment",
        "comments",
        "share",
        "share this",
        "share this post",
        "share this article",
        "newsletter",
        "subscribe to our newsletter",
        "join our newsletter",
        "sign up for our newsletter",
    }
)

BOILERPLATE_HEADING_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\d+ (comments?|responses?|replies)( to .*)?"),
    re.compile(r"(\d+ |one )?thoughts? on .*"),
)


def postprocess(blocks: list[Block], title: str) -> list[Block]:
    blocks = _drop_boilerplate_sections(blocks)
    blocks = _drop_title_repeat(blocks, title)
    blocks = [cleaned for block in blocks if (cleaned := _without_noise(block)) is not None]
    return _normalise_levels(blocks)


def _nav_key(text: str) -> str:
    return WHITESPACE.sub(" ", text.casefold()).strip(NAV_STRIP)


def _is_nav_text(text: str) -> bool:
    """Whole-block navigation leftovers such as "Read more »" or "Next post"."""
    key = _nav_key(text)
    return key in NAV_PHRASES or any(pattern.fullmatch(key) for pattern in NAV_PATTERNS)


def _is_boilerplate_heading(text: str) -> bool:
    key = _nav_key(text)
    return key in BOILERPLATE_HEADINGS or any(p.fullmatch(key) for p in BOILERPLATE_HEADING_PATTERNS)


def _drop_boilerplate_sections(blocks: list[Block]) -> list[Block]:
    """Skip a "Related posts"-style heading and everything under it."""
    kept: list[Block] = []
    skip_level: int | None = None
    for block in blocks:
        if block.kind == "heading":
            if skip_level is not None and block.level <= skip_level:
                skip_level = None
            if skip_level is None and _is_boilerplate_heading(block.text):
                skip_level = block.level
        if skip_level is None:
            kept.append(block)
    return kept


def _drop_title_repeat(blocks: list[Block], title: str) -> list[Block]:
    """Remove the first heading that merely repeats the title."""
    key = title.casefold()
    for index, block in enumerate(blocks):
        if block.kind == "heading" and block.text.casefold() == key:
            return blocks[:index] + blocks[index + 1 :]
    return blocks


def _without_noise(block: Block) -> Block | None:
    """The block minus navigation leftovers, or None if nothing readable is left."""
    if block.kind == "list":
        items = [item for item in block.items if ALNUM.search(item) and not _is_nav_text(item)]
        return Block.bullet_list(items) if items else None
    if not ALNUM.search(block.text):
        return None
    if block.kind == "paragraph" and _is_nav_text(block.text):
        return None
    return block


def _normalise_levels(blocks: list[Block]) -> list[Block]:
    """Re-rank heading levels densely from 2 (the shallowest level used below the title)."""
    used = sorted({block.level for block in blocks if block.kind == "heading"})
    rank = {level: min(2 + index, 6) for index, level in enumerate(used)}
    return [
        dataclasses.replace(block, level=rank[block.level]) if block.kind == "heading" else block for block in blocks
    ]

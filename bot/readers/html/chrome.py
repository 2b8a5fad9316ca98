"""What marks an element as page chrome: tag names, ARIA roles, hidden markers and class/id tokens.

Class/id values are split into tokens on ``-``, ``_``, spaces and camelCase, so "main-menu" matches
"menu" but "menudo" and "post-header-title" match nothing; state classes ("has-sidebar") are ignored.
"""

from __future__ import annotations

import re
from typing import Literal

from bs4.element import Tag

from bot.readers.html.dom import find_descendant

SECTIONING_TAGS: frozenset[str] = frozenset({"article", "main", "section"})

ALWAYS_DROP_TAGS: frozenset[str] = frozenset({"nav", "aside", "footer"})

JUNK_ROLES: frozenset[str] = frozenset(
    {
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "dialog",
        "alertdialog",
        "search",
        "menu",
        "menubar",
        "toolbar",
    }
)

# Class/id tokens that always mark boilerplate.
STRONG_TOKENS: frozenset[str] = frozenset(
    {
        "cookie",
        "cookies",
        "consent",
        "gdpr",
        "newsletter",
        "subscribe",
        "subscription",
        "signup",
        "optin",
        "share",
        "shares",
        "sharing",
        "sharedaddy",
        "sharethis",
        "addthis",
        "addtoany",
        "a2a",
        "social",
        "breadcrumb",
        "breadcrumbs",
        "crumbs",
        "comment",
        "comments",
        "commentlist",
        "respond",
        "disqus",
        "related",
        "relatedposts",
        "pagination",
        "pager",
        "paging",
        "cart",
        "minicart",
        "basket",
        "byline",
        "tags",
        "ad",
        "ads",
        "advert",
        "advertisement",
        "adsbygoogle",
        "skiplink",
    }
)

STRONG_PREFIXES: tuple[str, ...] = (
    "cookie",
    "consent",
    "gdpr",
    "newsletter",
    "subscribe",
    "breadcrumb",
    "pagination",
    "relatedpost",
    "sharing",
    "social",
    "disqus",
    "minicart",
)

# Whole class/id values that always mark boilerplate (their tokens alone are too common).
STRONG_VALUES: frozenset[str] = frozenset(
    {
        "screen-reader-text",
        "sr-only",
        "visually-hidden",
        "visuallyhidden",
        "skip-link",
        "skip-to-content",
        "post-meta",
        "entry-meta",
        "article-meta",
        "post-info",
        "cat-links",
        "tags-links",
        "tag-links",
        "post-navigation",
        "nav-links",
        "share-buttons",
    }
)

# Class/id tokens for page chrome that is sometimes used on wrappers around the whole post.
AMBIGUOUS_TOKENS: frozenset[str] = frozenset(
    {
        "sidebar",
        "menu",
        "submenu",
        "megamenu",
        "menubar",
        "nav",
        "navbar",
        "navigation",
        "modal",
        "popup",
        "overlay",
        "masthead",
        "footer",
        "colophon",
        "toc",
        "search",
        "searchform",
        "searchbox",
    }
)

AMBIGUOUS_PREFIXES: tuple[str, ...] = ("sidebar", "navbar", "popup")

STATE_PREFIXES: tuple[str, ...] = ("has-", "with-", "no-", "is-", "show-", "hide-")

MAX_CLASS_VALUES = 64

MAX_VALUE_CHARS = 200

MAX_HEADER_SCAN = 500

HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def _attr_values(tag: Tag, key: str) -> list[str]:
    """An attribute as a list of strings, however the parser stored it."""
    value = tag.attrs.get(key) if isinstance(tag.attrs, dict) else None
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value][:MAX_CLASS_VALUES]


def roles(tag: Tag) -> set[str]:
    return {role.lower() for value in _attr_values(tag, "role") for role in value[:MAX_VALUE_CHARS].split()}


def is_hidden(tag: Tag) -> bool:
    """True for hidden, aria-hidden="true" and inline display:none/visibility:hidden elements."""
    if "hidden" in tag.attrs:
        return True
    if any(value.strip().lower() == "true" for value in _attr_values(tag, "aria-hidden")):
        return True
    return any(HIDDEN_STYLE.search(value[: MAX_VALUE_CHARS * 5]) for value in _attr_values(tag, "style"))


def _class_tokens(value: str) -> list[str]:
    """Split one class/id value into lower-case tokens on -, _, spaces and camelCase."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", value[:MAX_VALUE_CHARS])
    return [token for token in re.split(r"[^a-z0-9]+", spaced.lower()) if token]


def _value_verdict(value: str) -> Literal["strong", "ambiguous"] | None:
    """Classify one class or id value."""
    lowered = value[:MAX_VALUE_CHARS].strip().lower()
    if not lowered or lowered.startswith(STATE_PREFIXES):
        return None
    if lowered in STRONG_VALUES:
        return "strong"
    tokens = _class_tokens(value)
    if any(token in STRONG_TOKENS or token.startswith(STRONG_PREFIXES) for token in tokens):
        return "strong"
    if any(token in AMBIGUOUS_TOKENS or token.startswith(AMBIGUOUS_PREFIXES) for token in tokens):
        return "ambiguous"
    return None


def class_verdict(tag: Tag) -> Literal["strong", "ambiguous"] | None:
    """The strongest verdict over a tag's class and id values."""
    verdicts = {_value_verdict(value) for key in ("class", "id") for value in _attr_values(tag, key)}
    if "strong" in verdicts:
        return "strong"
    return "ambiguous" if "ambiguous" in verdicts else None


def is_sectioning(tag: Tag) -> bool:
    """article, main, section or role=main."""
    return tag.name in SECTIONING_TAGS or "main" in roles(tag)


def is_site_header(header: Tag, in_sectioning: bool) -> bool:
    """A page-level <header>: outside any article/main/section and holding navigation, a form or
    menu-like elements (looked for among its first MAX_HEADER_SCAN elements). Other headers (a
    post's own header with its byline and share links, even on a page without <article>) keep
    their headings.
    """
    if in_sectioning:
        return False
    return find_descendant(header, _marks_site_chrome, limit=MAX_HEADER_SCAN) is not None


def _marks_site_chrome(tag: Tag) -> bool:
    return tag.name in {"nav", "form"} or bool(roles(tag) & JUNK_ROLES) or class_verdict(tag) == "ambiguous"


def is_chrome(tag: Tag) -> bool:
    """Containers whose articles are not the page's content (body/html classes are ignored)."""
    if tag.name in {"html", "body"}:
        return False
    return tag.name in ALWAYS_DROP_TAGS or is_hidden(tag) or class_verdict(tag) == "strong"


def has_main_role(tag: Tag) -> bool:
    return "main" in roles(tag)

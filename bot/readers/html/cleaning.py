"""Stage 1, cleaning: parse the page, drop never-readable elements, choose the content root and
remove page chrome around it (steps 1-3 in ``bot.readers.html``).
"""

from __future__ import annotations

import html as html_lib
import re
import warnings
from dataclasses import dataclass, field
from typing import Literal

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import NavigableString, PageElement, Tag

from bot.readers.html.chrome import (
    ALWAYS_DROP_TAGS,
    JUNK_ROLES,
    class_verdict,
    has_main_role,
    is_chrome,
    is_hidden,
    is_sectioning,
    is_site_header,
    roles,
)
from bot.readers.html.dom import collapse, is_readable_string, outermost

RAW_TAGS: frozenset[str] = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "canvas",
        "iframe",
        "object",
        "embed",
        "select",
        "option",
        "datalist",
        "input",
        "button",
        "textarea",
        "meta",
        "link",
        "base",
        "audio",
        "video",
        "source",
        "track",
        "map",
        "head",
    }
)

CODE_TAGS: frozenset[str] = frozenset({"pre", "code"})

GUARDED_DROP_TAGS: frozenset[str] = frozenset({"form", "dialog"})


def parse(text: str) -> BeautifulSoup:
    """Parse with html.parser, defusing markup the stdlib parser rejects, then as plain text."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        for candidate in (text, _defuse_declarations(text)):
            try:
                return BeautifulSoup(candidate, "html.parser")
            except Exception:  # html.parser can assert on hostile "<![" sections
                continue
        return BeautifulSoup(_as_plain_text_html(text), "html.parser")


def _defuse_declarations(text: str) -> str:
    """Escape "<!" constructs other than comments, CDATA and doctypes."""
    return re.sub(r"<!(?!--|\[CDATA\[|doctype)", "&lt;!", text, flags=re.IGNORECASE)


def _as_plain_text_html(text: str) -> str:
    """Last resort: strip anything tag-like and keep each non-empty line as a paragraph."""
    stripped = html_lib.unescape(re.sub(r"<[^>]*>?", "\n", text))
    lines = (line.strip() for line in stripped.splitlines())
    return "<body>" + "".join(f"<p>{html_lib.escape(line)}</p>" for line in lines if line) + "</body>"


def drop_raw_elements(soup: BeautifulSoup) -> None:
    """Remove scripts, styles, embeds and form controls; <title> is kept for the title."""
    for tag in outermost(soup, RAW_TAGS - {"head"}):
        tag.extract()


def text_sizes(soup: BeautifulSoup) -> dict[int, int]:
    """Collapsed text length of every element, keyed by id(), computed in one bottom-up pass."""
    sizes: dict[int, int] = {}
    for tag in reversed([soup, *soup.find_all(True)]):  # children always come before parents
        sizes[id(tag)] = sum(
            sizes.get(id(child), 0) if isinstance(child, Tag) else _string_size(child) for child in tag.contents
        )
    return sizes


def _string_size(node: PageElement) -> int:
    if isinstance(node, NavigableString) and is_readable_string(node):
        return len(collapse(str(node)))
    return 0


def choose_root(soup: BeautifulSoup, sizes: dict[int, int]) -> Tag:
    """The longest real <article>, else <main>, else [role=main], else <body>, else the document."""
    sized = [(sizes.get(id(tag), 0), index, tag) for index, tag in enumerate(_content_articles(soup))]
    sized = [entry for entry in sized if entry[0] > 0]
    if sized:
        return max(sized, key=lambda entry: (entry[0], -entry[1]))[2]
    for found in (soup.find("main"), soup.find(has_main_role), soup.find("body")):
        if isinstance(found, Tag):
            return found
    return soup


def _content_articles(soup: BeautifulSoup) -> list[Tag]:
    """<article>s that are not comments, related-post cards or inside page chrome, in order."""
    found: list[Tag] = []
    stack: list[Tag] = [tag for tag in reversed(soup.contents) if isinstance(tag, Tag)]
    while stack:
        tag = stack.pop()
        if is_chrome(tag):
            continue
        if tag.name == "article":
            found.append(tag)
        stack.extend(child for child in reversed(tag.contents) if isinstance(child, Tag))
    return found


Action = Literal["keep", "drop", "guarded", "reduce"]


@dataclass(frozen=True)
class _Context:
    """What encloses an element during the cleaning walk."""

    in_sectioning: bool = False  # inside article, main, section or role=main
    in_header: bool = False  # inside a kept (headings-only) header
    in_code: bool = False  # inside pre/code, where classes are syntax highlighting ("hljs-comment")

    def enter(self, tag: Tag) -> _Context:
        """The context for the children of ``tag``."""
        entered = _Context(
            in_sectioning=self.in_sectioning or is_sectioning(tag),
            in_header=self.in_header or tag.name == "header",
            in_code=self.in_code or tag.name in CODE_TAGS,
        )
        return self if entered == self else entered


@dataclass
class Cleaner:
    """Removes page chrome from the whole document, never touching the root or its ancestors."""

    protected: frozenset[int]  # the root and its ancestors
    title_lineage: frozenset[int]  # the title h1 and its ancestors
    sizes: dict[int, int]  # text size of every element before cleaning
    root_size: int
    page_title: str = field(default="")
    headings_only: set[int] = field(default_factory=set)  # headers whose other text is dropped

    def clean(self, soup: BeautifulSoup) -> None:
        """Walk the tree top-down, removing boilerplate subtrees without descending into them."""
        stack: list[tuple[Tag, _Context]] = [(soup, _Context())]
        while stack:
            tag, context = stack.pop()
            inside = context.enter(tag)
            for child in list(tag.children):
                if isinstance(child, Tag) and self._visit(child, inside):
                    stack.append((child, inside))

    def _visit(self, tag: Tag, context: _Context) -> bool:
        """Apply the cleaning rule to one element; True when its children should be visited."""
        if id(tag) in self.protected:
            return True
        if tag.name == "title":
            self._remember_title(tag)
            tag.extract()
            return False
        action = self._action(tag, context)
        if action == "guarded":
            action = "keep" if self._holds_content(tag) else "drop"
        if action == "drop":
            tag.extract()
            return False
        if action == "reduce":
            self.headings_only.add(id(tag))
        return True

    def _action(self, tag: Tag, context: _Context) -> Action:
        if tag.name in RAW_TAGS - {"head"} or is_hidden(tag):
            return "drop"
        if context.in_code:
            return "keep"
        verdict = class_verdict(tag)
        if verdict == "strong" or tag.name in ALWAYS_DROP_TAGS:
            return "drop"
        if tag.name == "header" and not context.in_header:
            return "drop" if is_site_header(tag, context.in_sectioning) else "reduce"
        if verdict == "ambiguous" or tag.name in GUARDED_DROP_TAGS or roles(tag) & JUNK_ROLES:
            return "guarded"
        return "keep"

    def _holds_content(self, tag: Tag) -> bool:
        """True when dropping the tag would lose the title h1 or most of the article."""
        if id(tag) in self.title_lineage:
            return True
        return self.root_size >= 200 and 2 * self.sizes.get(id(tag), 0) > self.root_size

    def _remember_title(self, tag: Tag) -> None:
        if not self.page_title:
            self.page_title = collapse(tag.get_text())

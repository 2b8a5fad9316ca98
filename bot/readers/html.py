"""Read a blog page saved or exported from a browser (``.html``/``.htm``) into an Article.

The page is parsed with BeautifulSoup's stdlib ``html.parser`` backend, so there is no lxml
dependency. Every walk over the tree is our own iterative one (bs4's find()/descendants first walk
a subtree's whole rightmost chain, which turns deep nesting quadratic), so hostile pages - deep
nesting, unclosed tags, huge attributes - neither raise RecursionError nor take minutes.

Steps:

1. Drop raw, never-readable elements everywhere (script, style, noscript, template, svg, canvas,
   iframe, form controls, media...).
2. Choose the content root: the longest ``<article>`` (by text) that is not itself boilerplate
   (inside aside/nav/footer, or marked as a comment/related post...), else ``<main>``, else
   ``[role=main]``, else ``<body>``, else the whole document.
3. Clean the page. The root and its ancestors are never dropped. Elsewhere, drop:
   ``nav``, ``aside``, ``footer`` (article footers too: tags, author boxes); site headers (a
   ``header`` outside any article/main/section that holds navigation, a form or menu-like
   elements); every other ``header`` keeps only its headings, so a post's h1 survives but its
   byline and share links go; ``hidden``/``aria-hidden="true"``/``display:none`` elements;
   elements whose class/id tokens mark cookie/consent banners, newsletter/subscribe boxes,
   share/social widgets, breadcrumbs, comments, related posts, pagination, carts, ads, bylines
   and screen-reader-only text.
   "Ambiguous" chrome - forms, ``<dialog>``, ARIA landmark roles (navigation, banner,
   contentinfo, complementary, dialog, search...) and class/id tokens such as menu, nav, sidebar,
   modal, popup, footer, toc - is dropped too unless it holds the title h1 or over half of the
   root's text (so a WebForms ``<form>`` or a ``has-sidebar`` wrapper around the whole post
   survives). Class/id values are split into tokens on ``-``, ``_``, spaces and camelCase, so
   "main-menu" matches "menu" but "menudo" and "post-header-title" do not match anything;
   state classes ("has-sidebar", "is-menu-open", "no-comments") are ignored, and class rules do
   not apply inside ``pre``/``code`` (syntax highlighting uses classes such as "hljs-comment").
4. Title: the first non-empty ``<h1>`` in the root, else in the rest of the cleaned page, else
   ``<title>`` with a site suffix (" | Site", " – Shop", short " - Shop") removed, else the file
   name stem prettified. The title heading is not repeated in the blocks.
5. Blocks, in document order:
   - ``h1``-``h6`` -> heading blocks. Levels are re-ranked densely so the shallowest level used
     below the title becomes 2 (extra h1s count as the shallowest), the next 3, and so on.
   - ``ul``/``ol`` -> ONE list block, one item per ``li``. Nested lists are folded into their
     parent item: "Parent: child one; child two".
   - data ``table`` -> an optional caption paragraph plus one list block with one item per row,
     cells joined by " | ". Tables holding headings or other tables are layout tables and are
     read like ``div``s.
   - ``pre`` -> one paragraph keeping its lines.
   - everything else: inline text (``a``, ``strong``, ``span``...) is joined exactly as written,
     and any block-level element (``p``, ``div``, ``blockquote``, ``dt``/``dd``,
     ``figcaption``...) ends the current paragraph, so bare text in a ``div`` is a paragraph too.
     Whitespace is collapsed, entities decoded, ``<br>`` becomes a line break inside the paragraph.
6. Noise is removed: empty or symbol-only paragraphs, whole-block navigation leftovers
   ("Read more", "Back to blog", "Share", "Next post"...), and sections whose heading is
   boilerplate ("Related posts", "Leave a reply", "3 thoughts on ...") up to the next heading of
   the same or a shallower level.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
import warnings
from dataclasses import dataclass, field
from typing import Callable, Literal

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
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

from bot.models import Article, Block
from bot.readers.plaintext import prettify_name

# --- element classes -------------------------------------------------------------------------

RAW_TAGS: frozenset[str] = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
        "select", "option", "datalist", "input", "button", "textarea", "meta", "link", "base",
        "audio", "video", "source", "track", "map", "head",
    }
)
HEADING_TAGS: frozenset[str] = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
LIST_TAGS: frozenset[str] = frozenset({"ul", "ol"})
CODE_TAGS: frozenset[str] = frozenset({"pre", "code"})
SECTIONING_TAGS: frozenset[str] = frozenset({"article", "main", "section"})
ALWAYS_DROP_TAGS: frozenset[str] = frozenset({"nav", "aside", "footer"})
GUARDED_DROP_TAGS: frozenset[str] = frozenset({"form", "dialog"})
INLINE_TAGS: frozenset[str] = frozenset(
    {
        "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn",
        "em", "font", "i", "img", "ins", "kbd", "label", "mark", "nobr", "picture", "q", "rp",
        "rt", "ruby", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time",
        "tt", "u", "var", "wbr",
    }
)

JUNK_ROLES: frozenset[str] = frozenset(
    {
        "navigation", "banner", "contentinfo", "complementary", "dialog", "alertdialog", "search",
        "menu", "menubar", "toolbar",
    }
)

# Class/id tokens that always mark boilerplate.
STRONG_TOKENS: frozenset[str] = frozenset(
    {
        "cookie", "cookies", "consent", "gdpr", "newsletter", "subscribe", "subscription", "signup",
        "optin", "share", "shares", "sharing", "sharedaddy", "sharethis", "addthis", "addtoany",
        "a2a", "social", "breadcrumb", "breadcrumbs", "crumbs", "comment", "comments",
        "commentlist", "respond", "disqus", "related", "relatedposts", "pagination", "pager",
        "paging", "cart", "minicart", "basket", "byline", "tags", "ad", "ads", "advert",
        "advertisement", "adsbygoogle", "skiplink",
    }
)
STRONG_PREFIXES: tuple[str, ...] = (
    "cookie", "consent", "gdpr", "newsletter", "subscribe", "breadcrumb", "pagination",
    "relatedpost", "sharing", "social", "disqus", "minicart",
)
# Whole class/id values that always mark boilerplate (their tokens alone are too common).
STRONG_VALUES: frozenset[str] = frozenset(
    {
        "screen-reader-text", "sr-only", "visually-hidden", "visuallyhidden", "skip-link",
        "skip-to-content", "post-meta", "entry-meta", "article-meta", "post-info", "cat-links",
        "tags-links", "tag-links", "post-navigation", "nav-links", "share-buttons",
    }
)
# Class/id tokens for page chrome that is sometimes used on wrappers around the whole post.
AMBIGUOUS_TOKENS: frozenset[str] = frozenset(
    {
        "sidebar", "menu", "submenu", "megamenu", "menubar", "nav", "navbar", "navigation",
        "modal", "popup", "overlay", "masthead", "footer", "colophon", "toc", "search",
        "searchform", "searchbox",
    }
)
AMBIGUOUS_PREFIXES: tuple[str, ...] = ("sidebar", "navbar", "popup")
STATE_PREFIXES: tuple[str, ...] = ("has-", "with-", "no-", "is-", "show-", "hide-")

MAX_CLASS_VALUES = 64
MAX_VALUE_CHARS = 200
MAX_LIST_DEPTH = 8
MAX_HEADER_SCAN = 500
LAYOUT_MARKERS: frozenset[str] = HEADING_TAGS | {"table"}

# --- text clean-up ---------------------------------------------------------------------------

WHITESPACE = re.compile(r"\s+")
INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
ALNUM = re.compile(r"\w")
HEADING_MARKS = " \t\n¶#§🔗"
NAV_STRIP = " \t\n«»‹›←→↑↓<>|·•–—-:….!?()[]"

NAV_PHRASES: frozenset[str] = frozenset(
    {
        "back", "back to blog", "back to the blog", "back to top", "return to blog", "read more",
        "read the full post", "continue reading", "keep reading", "share", "share this",
        "share this post", "share this article", "share this page", "tweet", "pin it", "print",
        "email", "previous", "next", "previous post", "next post", "previous article",
        "next article", "older post", "newer post", "older posts", "newer posts", "all posts",
        "view all posts", "skip to content", "skip to main content", "leave a comment",
        "leave a reply", "load more", "show more", "view all", "see all", "home", "menu",
        "search", "close", "advertisement", "sponsored", "scroll to top", "go to top",
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
        "related", "related posts", "related articles", "you may also like", "you might also like",
        "more from the blog", "recent posts", "popular posts", "leave a reply", "leave a comment",
        "comments", "share", "share this", "share this post", "share this article", "newsletter",
        "subscribe to our newsletter", "join our newsletter", "sign up for our newsletter",
    }
)
BOILERPLATE_HEADING_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\d+ (comments?|responses?|replies)( to .*)?"),
    re.compile(r"(\d+ |one )?thoughts? on .*"),
)
STRONG_TITLE_SEPARATOR = re.compile(r"\s+(?:\||–|—|·|»|::)\s+")
HYPHEN_TITLE_SEPARATOR = re.compile(r"\s+-\s+")
MAX_SITE_SUFFIX_WORDS = 3


class _Close:
    """Stack marker: the block element opened before it has ended."""


_CLOSE = _Close()
_GAP = " "


# --- public entry point ----------------------------------------------------------------------


def read_html(text: str, name: str) -> Article:
    """Parse one saved HTML page into an Article; never raises on malformed markup."""
    soup = _parse(text)
    _drop_raw_elements(soup)
    sizes = _text_sizes(soup)
    root = _choose_root(soup, sizes)
    title_h1 = _first_h1(root)[0]
    cleaner = _Cleaner(
        protected=_lineage_ids(root),
        title_lineage=_lineage_ids(title_h1) if title_h1 is not None else frozenset(),
        sizes=sizes,
        root_size=sizes.get(id(root), 0),
    )
    cleaner.clean(soup)
    title, title_tag = _choose_title(root, soup, cleaner.page_title, name)
    blocks = _Collector(skip=title_tag, headings_only=cleaner.headings_only).collect(root)
    return Article(name=name, title=title, blocks=tuple(_postprocess(blocks, title)))


# --- parsing ---------------------------------------------------------------------------------


def _parse(text: str) -> BeautifulSoup:
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


def _drop_raw_elements(soup: BeautifulSoup) -> None:
    """Remove scripts, styles, embeds and form controls; <title> is kept for the title."""
    for tag in _outermost(soup, RAW_TAGS - {"head"}):
        tag.extract()


def _text_sizes(soup: BeautifulSoup) -> dict[int, int]:
    """Collapsed text length of every element, keyed by id(), computed in one bottom-up pass."""
    sizes: dict[int, int] = {}
    for tag in reversed([soup, *soup.find_all(True)]):  # children always come before parents
        sizes[id(tag)] = sum(
            sizes.get(id(child), 0) if isinstance(child, Tag) else _string_size(child)
            for child in tag.contents
        )
    return sizes


def _string_size(node: PageElement) -> int:
    if isinstance(node, NavigableString) and _is_readable_string(node):
        return len(_collapse(str(node)))
    return 0


# --- choosing the content root ---------------------------------------------------------------


def _choose_root(soup: BeautifulSoup, sizes: dict[int, int]) -> Tag:
    """The longest real <article>, else <main>, else [role=main], else <body>, else the document."""
    sized = [(sizes.get(id(tag), 0), index, tag) for index, tag in enumerate(_content_articles(soup))]
    sized = [entry for entry in sized if entry[0] > 0]
    if sized:
        return max(sized, key=lambda entry: (entry[0], -entry[1]))[2]
    for found in (soup.find("main"), soup.find(_has_main_role), soup.find("body")):
        if isinstance(found, Tag):
            return found
    return soup


def _has_main_role(tag: Tag) -> bool:
    return "main" in _roles(tag)


def _content_articles(soup: BeautifulSoup) -> list[Tag]:
    """<article>s that are not comments, related-post cards or inside page chrome, in order."""
    found: list[Tag] = []
    stack: list[Tag] = [tag for tag in reversed(soup.contents) if isinstance(tag, Tag)]
    while stack:
        tag = stack.pop()
        if _is_chrome(tag):
            continue
        if tag.name == "article":
            found.append(tag)
        stack.extend(child for child in reversed(tag.contents) if isinstance(child, Tag))
    return found


def _is_chrome(tag: Tag) -> bool:
    """Containers whose articles are not the page's content (body/html classes are ignored)."""
    if tag.name in {"html", "body"}:
        return False
    return tag.name in ALWAYS_DROP_TAGS or _is_hidden(tag) or _class_verdict(tag) == "strong"


def _lineage_ids(tag: Tag) -> frozenset[int]:
    """Identities of a tag and its ancestors."""
    return frozenset({id(tag), *(id(parent) for parent in tag.parents)})


# --- attribute tests -------------------------------------------------------------------------


def _attr_values(tag: Tag, key: str) -> list[str]:
    """An attribute as a list of strings, however the parser stored it."""
    value = tag.attrs.get(key) if isinstance(tag.attrs, dict) else None
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value][:MAX_CLASS_VALUES]


def _roles(tag: Tag) -> set[str]:
    return {role.lower() for value in _attr_values(tag, "role") for role in value[:MAX_VALUE_CHARS].split()}


def _is_hidden(tag: Tag) -> bool:
    """True for hidden, aria-hidden="true" and inline display:none/visibility:hidden elements."""
    if "hidden" in tag.attrs:
        return True
    if any(value.strip().lower() == "true" for value in _attr_values(tag, "aria-hidden")):
        return True
    return any(HIDDEN_STYLE.search(value[:MAX_VALUE_CHARS * 5]) for value in _attr_values(tag, "style"))


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


def _class_verdict(tag: Tag) -> Literal["strong", "ambiguous"] | None:
    """The strongest verdict over a tag's class and id values."""
    verdicts = {_value_verdict(value) for key in ("class", "id") for value in _attr_values(tag, key)}
    if "strong" in verdicts:
        return "strong"
    return "ambiguous" if "ambiguous" in verdicts else None


def _is_sectioning(tag: Tag) -> bool:
    """article, main, section or role=main."""
    return tag.name in SECTIONING_TAGS or "main" in _roles(tag)


def _is_site_header(header: Tag, in_sectioning: bool) -> bool:
    """A page-level <header>: outside any article/main/section and holding navigation, a form or
    menu-like elements (looked for among its first MAX_HEADER_SCAN elements). Other headers (a
    post's own header with its byline and share links, even on a page without <article>) keep
    their headings.
    """
    if in_sectioning:
        return False
    return _find_descendant(header, _marks_site_chrome, limit=MAX_HEADER_SCAN) is not None


def _marks_site_chrome(tag: Tag) -> bool:
    return tag.name in {"nav", "form"} or bool(_roles(tag) & JUNK_ROLES) or _class_verdict(tag) == "ambiguous"


# --- cleaning --------------------------------------------------------------------------------

Action = Literal["keep", "drop", "guarded", "reduce"]


@dataclass(frozen=True)
class _Context:
    """What encloses an element during the cleaning walk."""

    in_sectioning: bool = False  # inside article, main, section or role=main
    in_header: bool = False  # inside a kept (headings-only) header
    in_code: bool = False  # inside pre/code, where classes are syntax highlighting ("hljs-comment")

    def enter(self, tag: Tag) -> "_Context":
        """The context for the children of ``tag``."""
        entered = _Context(
            in_sectioning=self.in_sectioning or _is_sectioning(tag),
            in_header=self.in_header or tag.name == "header",
            in_code=self.in_code or tag.name in CODE_TAGS,
        )
        return self if entered == self else entered


@dataclass
class _Cleaner:
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
        if tag.name in RAW_TAGS - {"head"} or _is_hidden(tag):
            return "drop"
        if context.in_code:
            return "keep"
        verdict = _class_verdict(tag)
        if verdict == "strong" or tag.name in ALWAYS_DROP_TAGS:
            return "drop"
        if tag.name == "header" and not context.in_header:
            return "drop" if _is_site_header(tag, context.in_sectioning) else "reduce"
        if verdict == "ambiguous" or tag.name in GUARDED_DROP_TAGS or _roles(tag) & JUNK_ROLES:
            return "guarded"
        return "keep"

    def _holds_content(self, tag: Tag) -> bool:
        """True when dropping the tag would lose the title h1 or most of the article."""
        if id(tag) in self.title_lineage:
            return True
        return self.root_size >= 200 and 2 * self.sizes.get(id(tag), 0) > self.root_size

    def _remember_title(self, tag: Tag) -> None:
        if not self.page_title:
            self.page_title = _collapse(tag.get_text())


def _find_descendant(tag: Tag, predicate: Callable[[Tag], bool], limit: int | None = None) -> Tag | None:
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


def _outermost(tag: Tag, names: frozenset[str]) -> list[Tag]:
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


# --- title -----------------------------------------------------------------------------------


def _choose_title(root: Tag, soup: BeautifulSoup, page_title: str, name: str) -> tuple[str, Tag | None]:
    """The title text and, when it came from an <h1>, that element."""
    for scope in (root, soup):
        heading, text = _first_h1(scope)
        if heading is not None:
            return text, heading
    stripped = _strip_site_suffix(page_title)
    if stripped:
        return stripped, None
    return prettify_name(name), None


def _first_h1(scope: Tag) -> tuple[Tag | None, str]:
    """The first <h1> in scope that has text (h1s nested in h1s are not looked at), and its text."""
    for heading in _outermost(scope, frozenset({"h1"})):
        text = _heading_text(heading)
        if text:
            return heading, text
    return None, ""


def _strip_site_suffix(title: str) -> str:
    """Drop " | Site Name", " – Shop" and similar site suffixes from a <title>."""
    title = _collapse(title)
    parts = [part.strip() for part in STRONG_TITLE_SEPARATOR.split(title)]
    if len(parts) > 1 and parts[0]:
        return parts[0]
    parts = HYPHEN_TITLE_SEPARATOR.split(title)
    if len(parts) > 1 and len(parts[-1].split()) <= MAX_SITE_SUFFIX_WORDS:
        head = " - ".join(parts[:-1]).strip()
        if head:
            return head
    return title


# --- block collection ------------------------------------------------------------------------


class _Collector:
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
                if _is_readable_string(node):
                    self._run.append(_squash(str(node)))
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
            headings: list[PageElement | _Close] = [*reversed(_outermost(tag, HEADING_TAGS))]
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
        text = _finish("".join(self._run), keep_breaks=True)
        self._run.clear()
        if text:
            self.blocks.append(Block.paragraph(text))


def _is_readable_string(node: NavigableString) -> bool:
    """Text and CDATA count; comments, doctypes, scripts and styles do not."""
    if isinstance(node, (Script, Stylesheet, TemplateString)):
        return False
    return isinstance(node, CData) or not isinstance(node, PreformattedString)


def _squash(text: str) -> str:
    """Collapse all whitespace (source newlines included) to single spaces."""
    return WHITESPACE.sub(" ", INVISIBLE.sub("", text))


def _collapse(text: str) -> str:
    return _squash(text).strip()


def _finish(text: str, keep_breaks: bool) -> str:
    """Tidy gathered text: single spaces, <br> line breaks kept (or flattened), no edge space."""
    text = re.sub(r"[^\S\n]+", " ", text)
    text = re.sub(r" ?\n[\n ]*", "\n", text).strip()
    return text if keep_breaks else text.replace("\n", " ")


def _flat_text(tag: Tag, exclude: frozenset[str] = frozenset(), keep_breaks: bool = False) -> str:
    """All readable text under a tag, with spaces between block-level children."""
    parts: list[str] = []
    stack: list[PageElement | str] = list(reversed(tag.contents))
    while stack:
        node = stack.pop()
        if isinstance(node, NavigableString):
            if _is_readable_string(node):
                parts.append(_squash(str(node)))
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
    return _finish("".join(parts), keep_breaks)


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
    nested = [text for sub in _outermost(item, LIST_TAGS) for text in _nested_items(sub, depth + 1)]
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
    return _find_descendant(table, lambda tag: tag.name in LAYOUT_MARKERS) is not None


def _table_blocks(table: Tag) -> list[Block] | None:
    """Caption paragraph plus one list item per row; None when the table has no rows."""
    rows = [row for row in (_row_text(tr) for tr in _outermost(table, frozenset({"tr"}))) if row]
    if not rows:
        return None
    captions = _outermost(table, frozenset({"caption"}))
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
    lines = (_collapse(line) for line in INVISIBLE.sub("", tag.get_text()).splitlines())
    text = "\n".join(line for line in lines if line)
    return [Block.paragraph(text)] if text else []


# --- post-processing -------------------------------------------------------------------------


def _postprocess(blocks: list[Block], title: str) -> list[Block]:
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
            return blocks[:index] + blocks[index + 1:]
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
        dataclasses.replace(block, level=rank[block.level]) if block.kind == "heading" else block
        for block in blocks
    ]

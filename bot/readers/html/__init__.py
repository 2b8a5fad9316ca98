"""Read a blog page saved or exported from a browser (``.html``/``.htm``) into an Article.

The page is parsed with BeautifulSoup's stdlib ``html.parser`` backend, so there is no lxml
dependency. Every walk over the tree is our own iterative one (bs4's find()/descendants first walk
a subtree's whole rightmost chain, which turns deep nesting quadratic), so hostile pages - deep
nesting, unclosed tags, huge attributes - neither raise RecursionError nor take minutes.

The reader is a package by stage: ``cleaning`` (steps 1-3, with ``chrome`` deciding what counts as
page chrome), ``extraction`` (steps 4-5) and ``structure`` (step 6); ``dom`` holds the tag sets,
text tidying and tree walks they share. Steps:

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

from bot.models import Article
from bot.readers.html.cleaning import Cleaner, choose_root, drop_raw_elements, parse, text_sizes
from bot.readers.html.dom import lineage_ids
from bot.readers.html.extraction import Collector, choose_title, first_h1
from bot.readers.html.structure import postprocess

__all__ = ["read_html"]


def read_html(text: str, name: str) -> Article:
    """Parse one saved HTML page into an Article; never raises on malformed markup."""
    soup = parse(text)
    drop_raw_elements(soup)
    sizes = text_sizes(soup)
    root = choose_root(soup, sizes)
    title_h1 = first_h1(root)[0]
    cleaner = Cleaner(
        protected=lineage_ids(root),
        title_lineage=lineage_ids(title_h1) if title_h1 is not None else frozenset(),
        sizes=sizes,
        root_size=sizes.get(id(root), 0),
    )
    cleaner.clean(soup)
    title, title_tag = choose_title(root, soup, cleaner.page_title, name)
    blocks = Collector(skip=title_tag, headings_only=cleaner.headings_only).collect(root)
    return Article(name=name, title=title, blocks=tuple(postprocess(blocks, title)))

"""Read plain-text articles scraped from blog pages.

Such text has no markup, so structure is inferred from the lines:
- the first real line is the title; a lone image file name before it is dropped;
- a "Table of Contents" block lists the main sections; it is removed, and the
  lines that match its entries (in order) become section headings;
- other short Title Case lines (questions included) become subsection headings, and so do
  short sentence-case or numbered lines ("What to keep out", "1. Choosing a spot") set
  between running text;
- a short line ending in ":" followed by short unpunctuated lines is a heading with a list;
- bullet and numbered lines are list items;
- navigation debris ("Back to blog", "Share this post") is dropped.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from bot.models import Article, Block
from bot.readers.common import NAVIGATION, prettify_name

IMAGE_LINE = re.compile(r"^\S+\.(png|jpe?g|gif|webp|svg|avif|bmp)$", re.IGNORECASE)
TOC_TITLE = re.compile(r"^(table of contents|contents|in this (article|post|guide))\s*:?$", re.IGNORECASE)
TOC_ENTRY = re.compile(r"^(?:\d+[.)]|[-*•·▪])\s+(.+)$")
BULLET = re.compile(r"^(?:[-*•·▪◦‣]|\d{1,2}[.)])\s+(.+)$")
MINOR_WORDS = {
    "a",
    "an",
    "and",
    "as",
    "at",
    "but",
    "by",
    "for",
    "from",
    "in",
    "into",
    "nor",
    "of",
    "on",
    "or",
    "per",
    "the",
    "to",
    "vs",
    "via",
    "with",
    "your",
    "our",
    "its",
    "is",
    "are",
}
MAX_HEADING_WORDS = 12
MAX_TITLE_WORDS = 25  # a longer first line is a paragraph, not a title
SENTENCE_END = (".", "!", "?", ";", ",", "…", '"', "”")


def read_plaintext(text: str, name: str) -> Article:
    """Parse a plain-text article into a title and structural blocks."""
    cleaned = [clean_line(line) for line in text.splitlines()]
    lines = [line for line in cleaned if line is not None]
    title, body = split_title(lines, name)
    toc, body = extract_toc(body)
    section_rows = match_toc_sections(body, toc)
    return Article(name=name, title=title, blocks=tuple(build_blocks(body, section_rows, toc)))


def clean_line(line: str) -> str | None:
    """Collapse whitespace; return None for navigation debris and image file names."""
    line = " ".join(line.replace("\u00a0", " ").split())
    if IMAGE_LINE.match(line) or NAVIGATION.match(line):
        return None
    return line


def split_title(lines: list[str], name: str) -> tuple[str, list[str]]:
    """Take the first non-empty line as the title, unless it is a paragraph (then use the file name)."""
    for i, line in enumerate(lines):
        if line:
            if len(line.split()) > MAX_TITLE_WORDS:
                return prettify_name(name), lines[i:]
            return line, lines[i + 1 :]
    return prettify_name(name), []


def extract_toc(lines: list[str]) -> tuple[list[str], list[str]]:
    """Remove a table-of-contents block; return its entries and the remaining lines."""
    for i, line in enumerate(lines):
        if not TOC_TITLE.match(line):
            continue
        entries: list[str] = []
        j = i + 1
        while j < len(lines):
            if not lines[j]:
                j += 1
                continue
            match = TOC_ENTRY.match(lines[j])
            if not match:
                break
            entries.append(match.group(1).strip())
            j += 1
        if len(entries) >= 2:
            return entries, lines[:i] + lines[j:]
    return [], lines


def heading_key(text: str) -> str:
    """Normalise a heading for matching against the table of contents."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def match_toc_sections(lines: list[str], toc: list[str]) -> dict[int, int]:
    """Map line numbers to TOC entry numbers, choosing the longest in-order match.

    A summary box near the top may repeat some section titles; picking the longest
    increasing run of TOC positions keeps the real section headings.
    """
    keys = {heading_key(entry): n for n, entry in enumerate(toc)}
    candidates = [(i, keys[heading_key(line)]) for i, line in enumerate(lines) if line and heading_key(line) in keys]
    best = longest_increasing(candidates)
    return dict(best)


def longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Longest subsequence of (line, toc_no) pairs with strictly increasing toc_no."""
    tails: list[int] = []
    tail_idx: list[int] = []
    parent: list[int] = [-1] * len(pairs)
    for k, (_, value) in enumerate(pairs):
        pos = bisect_left(tails, value)
        if pos == len(tails):
            tails.append(value)
            tail_idx.append(k)
        else:
            tails[pos] = value
            tail_idx[pos] = k
        parent[k] = tail_idx[pos - 1] if pos else -1
    result: list[tuple[int, int]] = []
    k = tail_idx[-1] if tail_idx else -1
    while k >= 0:
        result.append(pairs[k])
        k = parent[k]
    return result[::-1]


def is_title_case(line: str) -> bool:
    """True when the significant words of a short line start with a capital or a digit."""
    words = re.findall(r"[A-Za-z0-9][\w'’&-]*", line)
    significant = [w for w in words if w.lower() not in MINOR_WORDS]
    if not significant:
        return False
    capitalised = sum(1 for w in significant if w[0].isupper() or w[0].isdigit())
    return capitalised / len(significant) >= 0.8


def is_short(line: str) -> bool:
    return len(line.split()) <= MAX_HEADING_WORDS


def has_heading_shape(line: str) -> bool:
    """Short, and not ending like a sentence ("?" is allowed: "How Much Should You Drink?")."""
    label_and_value = re.search(r":\s*\d", line)  # "Adults: 1,000-5,000 IU daily" is text
    ends_as_sentence = line.endswith(SENTENCE_END + (":",)) and not line.endswith("?")
    return is_short(line) and not ends_as_sentence and not label_and_value


def is_heading_line(line: str) -> bool:
    """A short Title Case line without sentence punctuation at its end."""
    return has_heading_shape(line) and is_title_case(line)


def is_sentence(line: str | None) -> bool:
    """A line of running text: at least eight words, ending like a sentence (or a lead-in colon)."""
    return line is not None and len(line.split()) >= 8 and line.endswith(SENTENCE_END + (":", ")"))


def is_sentence_case_heading(text: str, lines: list[str], i: int, after_from: int | None = None) -> bool:
    """Row i (whose text is `text`) is a short capitalised line set between running text.

    Modern posts often write headings in sentence case ("What to keep out"). Such a line
    counts as a heading only when the text before it has ended (a sentence or a bullet) and a
    sentence follows it (from row `after_from`, default i + 1), so an unbulleted list item
    or an infographic caption stays text.
    """
    if not (text[:1].isupper() and has_heading_shape(text)):
        return False
    before, after = neighbours(lines, i, after_from)
    ended = before is None or bool(BULLET.match(before)) or before.endswith(SENTENCE_END + (")",))
    return ended and is_sentence(after)


def neighbours(lines: list[str], i: int, j: int | None = None) -> tuple[str | None, str | None]:
    """The non-empty lines before row i and from row j (default i + 1) on."""
    before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k]), None)
    after = next((lines[k] for k in range(i + 1 if j is None else j, len(lines)) if lines[k]), None)
    return before, after


def is_list_intro(line: str) -> bool:
    """A short line ending in a colon that introduces a list, like 'Vitamin D3 Sources:'."""
    return line.endswith(":") and is_short(line) and is_title_case(line)


def is_unpunctuated_item(line: str) -> bool:
    return bool(line) and len(line.split()) <= 25 and not line.endswith((".", "!", "?", ":"))


def build_blocks(lines: list[str], section_rows: dict[int, int], toc: list[str]) -> list[Block]:
    """Turn cleaned body lines into heading, paragraph and list blocks."""
    blocks: list[Block] = []
    if toc and (not section_rows or min(section_rows) > first_text_row(lines)):
        first_section = min(section_rows.values(), default=len(toc))
        if first_section > 0:
            blocks.append(Block.heading(toc[0], 2))  # e.g. an "Introduction" with no heading line
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        if i in section_rows:
            blocks.append(Block.heading(toc[section_rows[i]], 2))
            i += 1
            continue
        bullet = BULLET.match(line)
        if bullet:
            items, j = collect_items(lines, i, bulleted=True)
            if len(items) == 1 and line[:1].isdigit() and is_sentence_case_heading(items[0], lines, i, j):
                blocks.append(Block.heading(items[0], 3 if toc else 2))  # "1. Choosing a spot" over its text
            else:
                blocks.append(Block.bullet_list(items))
            i = j
            continue
        if is_list_intro(line):
            items, j = collect_items(lines, i + 1, bulleted=False)
            if len(items) >= 2:
                blocks.append(Block.heading(line.rstrip(":").strip(), 3 if toc else 2))
                blocks.append(Block.bullet_list(items))
                i = j
                continue
        if is_heading_line(line) or is_sentence_case_heading(line, lines, i):
            blocks.append(Block.heading(line, 3 if toc else 2))
        else:
            blocks.append(Block.paragraph(line))
        i += 1
    return blocks


def first_text_row(lines: list[str]) -> int:
    return next((i for i, line in enumerate(lines) if line), len(lines))


def collect_items(lines: list[str], start: int, bulleted: bool) -> tuple[list[str], int]:
    """Collect consecutive list items from `start`; return them and the next line number."""
    items: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        if bulleted:
            match = BULLET.match(line)
            if not match:
                break
            items.append(match.group(1).strip())
        else:
            if BULLET.match(line) or is_list_intro(line) or not is_unpunctuated_item(line) or is_title_case(line):
                break
            items.append(line)
        i += 1
    return items, i

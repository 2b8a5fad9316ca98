"""Read Markdown articles: ATX/Setext headings, paragraphs and lists; inline markup is stripped."""

from __future__ import annotations

import re

from bot.models import Article, Block
from bot.readers.common import NAVIGATION, prettify_name

ATX_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
SETEXT_UNDERLINE = re.compile(r"^(=+|-+)\s*$")
LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,9}[.)])\s+(.*)$")
CONTINUATION = re.compile(r"^\s{2,}\S")
FENCE = re.compile(r"^\s*(```|~~~)")
RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")

INLINE_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), ""),  # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<[^>\n]+>"), ""),  # inline HTML tags
    (re.compile(r"`([^`]*)`"), r"\1"),  # code spans
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])"), r"\2"),  # italics
    (re.compile(r"~~(.+?)~~"), r"\1"),  # strikethrough
]


def read_markdown(text: str, name: str) -> Article:
    """Parse a Markdown article into a title and structural blocks."""
    lines = strip_front_matter(text.splitlines())
    front_title = front_matter_title(text)
    raw = parse_blocks(lines)
    title = front_title
    blocks: list[Block] = []
    seen_title = False
    for block in raw:
        if block.kind == "heading" and block.level == 1 and not seen_title and not blocks:
            title, seen_title = title or block.text, True
            continue
        blocks.append(block)
    return Article(name=name, title=title or prettify_name(name), blocks=tuple(normalise_levels(blocks)))


def strip_front_matter(lines: list[str]) -> list[str]:
    """Drop a leading YAML front matter block delimited by '---' lines."""
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                return lines[i + 1 :]
    return lines


def front_matter_title(text: str) -> str:
    """The `title:` field of YAML front matter, if any."""
    match = re.match(r"\A---\s*\n(.*?)\n(?:---|\.\.\.)\s*(\n|\Z)", text, re.DOTALL)
    if not match:
        return ""
    field = re.search(r"^title:\s*(.+)$", match.group(1), re.MULTILINE)
    return field.group(1).strip().strip("\"'") if field else ""


def clean_inline(text: str) -> str:
    """Strip inline Markdown markup and collapse whitespace."""
    for pattern, replacement in INLINE_RULES:
        text = pattern.sub(replacement, text)
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!>])", r"\1", text)
    return " ".join(text.split())


def parse_blocks(lines: list[str]) -> list[Block]:
    """Group Markdown lines into heading, paragraph and list blocks."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    items: list[str] = []
    in_fence = False

    def flush() -> None:
        if paragraph:
            text = clean_inline(" ".join(paragraph))
            if text and not NAVIGATION.match(text):
                blocks.append(Block.paragraph(text))
            paragraph.clear()
        if items:
            cleaned = [clean_inline(item) for item in items]
            cleaned = [item for item in cleaned if item]
            if cleaned:
                blocks.append(Block.bullet_list(cleaned))
            items.clear()

    for line in lines:
        if FENCE.match(line):
            in_fence = not in_fence
            flush()
            continue
        if in_fence:
            paragraph.append(line)
            continue
        stripped = line.strip()
        heading = ATX_HEADING.match(stripped)
        if heading:
            flush()
            text = clean_inline(heading.group(2))
            if text:
                blocks.append(Block.heading(text, len(heading.group(1))))
            continue
        if paragraph and not items and SETEXT_UNDERLINE.match(stripped) and len(paragraph) == 1:
            text = clean_inline(paragraph.pop())
            flush()
            blocks.append(Block.heading(text, 1 if stripped.startswith("=") else 2))
            continue
        if not stripped or RULE.match(stripped):
            flush()
            continue
        item = LIST_ITEM.match(line)
        if item:
            if paragraph:
                flush()
            items.append(item.group(1))
            continue
        if items and CONTINUATION.match(line):
            items[-1] += " " + stripped
            continue
        if items:
            flush()
        paragraph.append(stripped.lstrip("> ").strip() if stripped.startswith(">") else stripped)
    flush()
    return blocks


def normalise_levels(blocks: list[Block]) -> list[Block]:
    """Shift heading levels so the shallowest one below the title becomes a level-2 section."""
    levels = [b.level for b in blocks if b.kind == "heading"]
    if not levels:
        return blocks
    shift = min(levels) - 2
    return [Block.heading(b.text, max(2, b.level - shift)) if b.kind == "heading" else b for b in blocks]

"""Pure rendering for Telegram: text with formatting spans, split on text boundaries, then turned into HTML.

It depends on data only (answers, titles, topic lists), never on the engine that produced them.

Everything a user sees is built as `Rich` (plain text plus spans) and split *before* any markup
exists, so every chunk is at most `LIMIT` UTF-16 units once Telegram has parsed it, and every tag
is opened and closed inside one chunk. Only `to_html` produces markup, and it escapes all text.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.answers import Answer, Result, never_mentioned
from bot.text import word_spans

MAX_MESSAGE = 4096  # Telegram's limit, in UTF-16 code units of the parsed text
LIMIT = 4000  # what we aim for (headroom below MAX_MESSAGE)
MAX_CALLBACK_DATA = 64  # bytes
MAX_SHOWN_QUERY = 200  # characters of the interpreted query shown back to the user

# Outermost first: a tag earlier in this list is always opened before (outside) a later one.
TAGS: dict[str, tuple[str, str]] = {
    "quote": ("<blockquote expandable>", "</blockquote>"),
    "pre": ("<pre>", "</pre>"),
    "b": ("<b>", "</b>"),
    "i": ("<i>", "</i>"),
    "u": ("<u>", "</u>"),
    "code": ("<code>", "</code>"),
}
TAG_ORDER = {name: n for n, name in enumerate(TAGS)}
SENTENCE_END = re.compile(r"[.!?…。؟](?=\s)")


@dataclass(frozen=True)
class Span:
    """A formatting tag over text[start:end]."""

    start: int
    end: int
    tag: str


@dataclass(frozen=True)
class Rich:
    """Plain text plus formatting spans; markup is produced only by `to_html`, after splitting."""

    text: str = ""
    spans: tuple[Span, ...] = ()

    def __add__(self, other: Rich | str) -> Rich:
        """Concatenate, shifting the other part's spans."""
        other = plain(other) if isinstance(other, str) else other
        shift = len(self.text)
        moved = tuple(Span(s.start + shift, s.end + shift, s.tag) for s in other.spans)
        return Rich(self.text + other.text, self.spans + moved)

    def __radd__(self, other: str) -> Rich:
        """Allow `"text" + rich`."""
        return plain(other) + self

    def slice(self, start: int, end: int) -> Rich:
        """text[start:end] with the spans clipped to it."""
        spans = tuple(
            Span(max(s.start, start) - start, min(s.end, end) - start, s.tag)
            for s in self.spans
            if min(s.end, end) > max(s.start, start)
        )
        return Rich(self.text[start:end], spans)

    def strip(self) -> Rich:
        """Drop surrounding whitespace (Telegram strips it too)."""
        left = len(self.text) - len(self.text.lstrip())
        right = len(self.text.rstrip())
        return self.slice(left, max(left, right))


def plain(text: str) -> Rich:
    """Unformatted text."""
    return Rich(text)


def styled(text: str, tag: str) -> Rich:
    """`text` wrapped in one tag (see TAGS)."""
    return Rich(text, (Span(0, len(text), tag),) if text else ())


def bold(text: str) -> Rich:
    """Bold text."""
    return styled(text, "b")


def italic(text: str) -> Rich:
    """Italic text."""
    return styled(text, "i")


def join(parts: Iterable[Rich | str], separator: str = "") -> Rich:
    """Concatenate parts with a plain separator."""
    out = Rich()
    for n, part in enumerate(parts):
        out = out + separator + part if n else out + part
    return out


def highlighted(text: str, stems: frozenset[str] | set[str]) -> Rich:
    """`text` with the words whose stems are in `stems` in bold."""
    return highlighted_cached(text, frozenset(stems))


@functools.lru_cache(maxsize=4096)
def highlighted_cached(text: str, stems: frozenset[str]) -> Rich:
    """`highlighted`, remembered: the same passages are shown for the same words to many chats."""
    spans = tuple(Span(a, b, "b") for a, b in word_spans(text, set(stems)) if b > a)
    return Rich(text, spans)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, Telegram's unit for message length."""
    return len(text.encode("utf-16-le")) // 2


# ----- HTML --------------------------------------------------------------------------------
def to_html(rich: Rich) -> str:
    """Telegram HTML for `rich`: every text piece escaped, tags properly nested and balanced."""
    cuts = sorted({0, len(rich.text), *(s.start for s in rich.spans), *(s.end for s in rich.spans)})
    out: list[str] = []
    stack: list[str] = []
    for start, end in zip(cuts, cuts[1:]):
        wanted = active_tags(rich.spans, start, end)
        keep = common_prefix(stack, wanted)
        out.extend(TAGS[tag][1] for tag in reversed(stack[keep:]))
        out.extend(TAGS[tag][0] for tag in wanted[keep:])
        stack = wanted
        out.append(html.escape(rich.text[start:end], quote=False))
    out.extend(TAGS[tag][1] for tag in reversed(stack))
    return "".join(out)


def active_tags(spans: Sequence[Span], start: int, end: int) -> list[str]:
    """The tags covering text[start:end], outermost first."""
    tags = {s.tag for s in spans if s.start <= start and end <= s.end}
    return sorted(tags, key=TAG_ORDER.__getitem__)


def common_prefix(a: list[str], b: list[str]) -> int:
    """Length of the shared start of two tag stacks."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


# ----- splitting ---------------------------------------------------------------------------
def split(rich: Rich, limit: int = LIMIT) -> list[Rich]:
    """Split on paragraph, line, sentence or word boundaries so each chunk is <= limit UTF-16 units."""
    chunks: list[Rich] = []
    rest = rich.strip()
    while rest.text:
        if utf16_len(rest.text) <= limit:
            chunks.append(rest)
            break
        cut = cut_point(rest.text, limit)
        chunks.append(rest.slice(0, cut).strip())
        rest = rest.slice(cut, len(rest.text)).strip()
    return [c for c in chunks if c.text]


def to_messages(rich: Rich, limit: int = LIMIT) -> list[str]:
    """Split, then render each chunk as HTML."""
    return [to_html(chunk) for chunk in split(rich, limit)]


def cut_point(text: str, limit: int) -> int:
    """Where to cut `text` (longer than limit): the last good boundary that keeps the head within limit."""
    window = fitting_prefix(text, limit)
    floor = max(1, window // 3)
    head = text[:window]
    for separator in ("\n\n", "\n"):
        at = head.rfind(separator)
        if at >= floor:
            return at
    ends = [m.end() for m in SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= floor:
        return ends[-1]
    at = max(head.rfind(" "), head.rfind("\t"))
    if at >= floor:
        return at
    return window


def fitting_prefix(text: str, limit: int) -> int:
    """The largest n such that text[:n] is at most `limit` UTF-16 units (at least 1)."""
    units = 0
    for n, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return max(1, n)
    return len(text)


# ----- answers -----------------------------------------------------------------------------
def result_block(result: Result, number: int) -> Rich:
    """One result: numbered heading in bold, article title, the answer sentence, the passage."""
    head = bold(f"{number}. {result.heading}") + "\n" + italic(f"📄 {result.article}") + "\n"
    passage = result.text.strip()
    answer = result.answer.strip()
    if not answer or answer == passage.lstrip("• ").strip():
        return head + highlighted(passage, result.highlights)
    lead = "💡 " + highlighted(answer, result.highlights)
    quoted = highlighted(passage, result.highlights)
    return head + lead + "\n" + Rich(quoted.text, quoted.spans + (Span(0, len(quoted.text), "quote"),))


def interpretation(answer: Answer) -> Rich:
    """A line saying how the question was read, when it was corrected or continued a conversation."""
    notes: list[str] = []
    if answer.corrections:
        notes.append(", ".join(f"{typed} → {fixed}" for typed, fixed in answer.corrections.items()))
    if answer.follow_up:
        notes.append("following on from your last question")
    if not notes:
        return Rich()
    query = answer.query if len(answer.query) <= MAX_SHOWN_QUERY else answer.query[:MAX_SHOWN_QUERY] + "…"
    return italic("🔎 Searching for: ") + bold(query) + italic(f" ({'; '.join(notes)})") + "\n\n"


def page_footer(first: int, last: int, total: int) -> str:
    """'1–3 of 10 · More below' (or just the range on the last page)."""
    shown = f"{first} of {total}" if first == last else f"{first}–{last} of {total}"
    return shown + (" · More below" if last < total else "")


def answer_page(answer: Answer, start: int, size: int) -> Rich:
    """Results start..start+size of an answer, with a footer; the interpretation line on the first page."""
    results = answer.results[start : start + size]
    blocks = [result_block(r, start + n + 1) for n, r in enumerate(results)]
    intro = interpretation(answer) if start == 0 else Rich()
    footer = page_footer(start + 1, start + len(results), len(answer.results))
    return intro + join(blocks, "\n\n") + "\n\n" + italic(footer)


def no_answer(answer: Answer, topics: Sequence[str]) -> Rich:
    """The reply when nothing matched (or the question had no words to search for)."""
    if not answer.query:
        return plain("🤔 " + (answer.message or "Please type a question in words."))
    text = plain("🤷 I couldn't find anything about that in my articles.")
    if answer.unknown:
        text = text + plain(" " + never_mentioned(answer.unknown))
    if topics:
        text = text + "\n\nI can answer questions about topics such as:\n" + bullets(topics)
    return text + "\n\nSend /sources to see everything I know."


def bullets(items: Iterable[str]) -> Rich:
    """A bulleted list, one item per line."""
    return join((plain(f"• {item}") for item in items), "\n")


def welcome(name: str, examples: Sequence[str]) -> Rich:
    """The /start greeting with example questions."""
    text = plain(f"👋 Hi {name}! " if name else "👋 Hi! ")
    text = text + "I answer questions from a small library of articles.\n\nJust type a question"
    if examples:
        text = text + ", for example:\n" + join((italic(f"• {q}") for q in examples), "\n")
    else:
        text = text + "."
    return text + "\n\nSend /help for all commands."


def help_text(commands: Sequence[tuple[str, str]], admin_commands: Sequence[tuple[str, str]]) -> Rich:
    """The /help text: how to ask, then the command list (admin commands only for admins)."""
    text = plain(
        "Type a question and I'll find the passages of my articles that answer it, "
        "with the words you asked about in bold. Tap More for further results, 👍/👎 to tell me "
        'whether an answer helped. A short follow-up such as "and why?" continues your last question.\n\n'
        "In groups, use /ask <question>, reply to one of my messages, or mention me.\n\n"
    )
    text = text + bold("Commands") + "\n" + command_list(commands)
    if admin_commands:
        text = text + "\n\n" + bold("Admin") + "\n" + command_list(admin_commands)
        text = text + "\nSend a .txt, .md or .html file to add or replace an article."
    return text


def command_list(commands: Sequence[tuple[str, str]]) -> Rich:
    """'/name - description' lines."""
    return join((plain(f"/{name} – {description}") for name, description in commands), "\n")


def sources(sections: Sequence[tuple[str, Sequence[str]]]) -> Rich:
    """The /sources text: every article with its sections."""
    if not sections:
        return plain("No articles are indexed yet.")
    blocks = [bold(f"📄 {title}") + ("\n" + bullets(secs) if secs else "") for title, secs in sections]
    return plain(f"I answer from {len(sections)} article(s):\n\n") + join(blocks, "\n\n")


def article_list(articles: Sequence[tuple[str, str, int]], encoding: str = "") -> Rich:
    """The /articles text: file name, title and passage count of each article, then the encoding's progress."""
    if not articles:
        return plain("No articles are indexed.")
    lines = [bold(name) + plain(f" — {title} ({passages} passages)") for name, title, passages in articles]
    text = plain(f"{len(articles)} article(s):\n") + join(lines, "\n")
    return text + plain(f"\n\n⏳ {encoding}") if encoding else text


def preformatted(text: str) -> Rich:
    """Text in a <pre> block (monospace, no other formatting)."""
    return styled(text, "pre")


def callback_data(*parts: str | int) -> str:
    """'a:b:c', checked against Telegram's 64-byte limit."""
    data = ":".join(str(p) for p in parts)
    if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
        raise ValueError(f"callback data must be 1-{MAX_CALLBACK_DATA} bytes: {data!r}")
    return data

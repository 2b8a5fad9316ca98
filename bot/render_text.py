"""Plain-text rendering of answers for the terminal (the `ask` command and the REPL)."""

from __future__ import annotations

import textwrap

from bot.answers import Answer, Result
from bot.terminal import visible, visible_line
from bot.text import word_spans

BOLD, RESET = "\033[1m", "\033[0m"
ANSWER_LABEL = "    answer: "


def highlight(text: str, stems: frozenset[str], ansi: bool) -> str:
    """Wrap matched words in ANSI bold when `ansi` is true."""
    if not ansi:
        return text
    out, last = [], 0
    for start, end in word_spans(text, set(stems)):
        out.append(text[last:start] + BOLD + text[start:end] + RESET)
        last = end
    return "".join(out) + text[last:]


def format_result(number: int, result: Result, ansi: bool = False, width: int = 88) -> str:
    """One result: its number, section heading and article, the answer sentence (bold on a terminal),
    then the passage, indented."""
    title = f"[{number}] {visible_line(result.heading)}"
    lines = [BOLD + title + RESET if ansi else title, f"    from: {visible_line(result.article)}"]
    answer = visible_line(result.answer.strip())
    if answer and answer != visible(result.text).strip().lstrip("• ").strip():  # not a one-sentence passage again
        first, *rest = textwrap.wrap(answer, width - len(ANSWER_LABEL)) or [""]
        wrapped = [ANSWER_LABEL + first] + [" " * len(ANSWER_LABEL) + line for line in rest]
        lines.extend(
            line[: len(ANSWER_LABEL)] + BOLD + line[len(ANSWER_LABEL) :] + RESET if ansi else line for line in wrapped
        )
    for paragraph in visible(result.text).splitlines():
        wrapped = textwrap.wrap(paragraph, width - 4) or [""]
        lines.extend("    " + highlight(line, result.highlights, ansi) for line in wrapped)
    return "\n".join(lines)


def format_answer(answer: Answer, start: int, count: int, ansi: bool = False, more_hint: bool = True) -> str:
    """Results start..start+count of an answer, or its message when there are none."""
    if not answer.results:
        return visible(answer.message) or "Nothing found."
    notes = []
    if answer.corrections:
        fixed = visible_line(", ".join(f"{a} → {b}" for a, b in answer.corrections.items()))
        notes.append(f"(searched with corrected spelling: {fixed})")
    if answer.follow_up and start == 0:
        notes.append(f"(follow-up; searched: {visible_line(answer.query)})")
    shown = answer.results[start : start + count]
    blocks = [format_result(start + i + 1, r, ansi) for i, r in enumerate(shown)]
    remaining = len(answer.results) - start - len(shown)
    if remaining > 0 and more_hint:
        blocks.append(f"({remaining} more: type 'more')")
    return "\n".join(notes + ["\n\n".join(blocks)])

"""Text safe to print on a terminal: what articles, file names and questions hold is shown, never run."""

from __future__ import annotations

import unicodedata


def visible(text: str, keep: str = "\n\t") -> str:
    """`text` with control characters (an escape sequence, a bell) shown as \\xNN; newlines and tabs kept."""
    if text.isprintable():
        return text
    return "".join(ch if ch in keep or unicodedata.category(ch) != "Cc" else f"\\x{ord(ch):02x}" for ch in text)


def visible_line(text: str) -> str:
    """`text` safe to print as part of one line (a file name, a title): newlines shown as \\x0a too."""
    return visible(text, keep="")

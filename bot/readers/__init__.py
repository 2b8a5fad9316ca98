"""Read article files: validate the bytes, then hand the text to the reader for its format."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from bot.errors import ArticleError
from bot.models import Article
from bot.readers.markdown import read_markdown
from bot.readers.plaintext import read_plaintext

Reader = Callable[[str, str], Article]


def read_html(text: str, name: str) -> Article:
    """The HTML reader, imported on first use: BeautifulSoup costs ~0.1 s to import, and answering
    a question (or a corpus without HTML) never needs it."""
    from bot.readers.html import read_html as read

    return read(text, name)


READERS: dict[str, Reader] = {
    ".txt": read_plaintext,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
}

ARTICLE_EXTENSIONS: tuple[str, ...] = tuple(sorted(READERS))  # the one list of accepted extensions
UNSUPPORTED_TYPE = f"unsupported file type; use one of {', '.join(ARTICLE_EXTENSIONS)}"
CANONICAL_EXTENSIONS = {".htm": ".html", ".markdown": ".md"}  # the name an upload is stored under
DEFAULT_MAX_ARTICLE_BYTES = 2_000_000
UTF16_MIN_HIGH_ZEROS = 0.1  # share of 16-bit units with a zero high byte for bytes to read as UTF-16...
UTF16_MAX_LOW_ZEROS = 0.01  # ...and at most this share with a zero low byte (U+0100, U+4E00 and the like)
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0e-\x1f]")  # control characters other than \t \n \f \r


def has_reader(name: str) -> bool:
    """True when the file name's extension is one an article may have."""
    return Path(name).suffix.lower() in READERS


def bomless_utf16(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when bytes without a byte-order mark are laid out as UTF-16 text, else None.

    UTF-16 text puts the zero high byte of every ASCII or Latin-1 character (spaces and punctuation in
    any script) at one parity of the byte offsets, and almost never a zero byte at the other; binary
    data has zero bytes at both. Decoding, and the checks after it, still decide whether it is text.
    """
    units = len(data) // 2
    if len(data) % 2 or units == 0:
        return None
    zeros_even, zeros_odd = data[0::2].count(0), data[1::2].count(0)
    for high, low, encoding in ((zeros_odd, zeros_even, "utf-16-le"), (zeros_even, zeros_odd, "utf-16-be")):
        if high >= UTF16_MIN_HIGH_ZEROS * units and low <= UTF16_MAX_LOW_ZEROS * units:
            return encoding
    return None


def decode_article(data: bytes, name: str, max_bytes: int = DEFAULT_MAX_ARTICLE_BYTES) -> str:
    """Check an article's raw bytes and return its text, or raise ArticleError saying why not."""
    if len(data) > max_bytes:
        raise ArticleError.too_large(name, len(data), max_bytes)
    if not data.strip():
        raise ArticleError(name, "file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its byte-order mark ("Unicode" in Windows Notepad)
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ArticleError(name, f"file starts as UTF-16 but is not valid UTF-16 (byte {exc.start})") from None
    elif b"\x00" in data:
        binary = ArticleError(name, "file is binary (it contains NUL bytes), not text")
        encoding = bomless_utf16(data)
        if encoding is None:
            raise binary
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ArticleError(
                name,
                f"file looks like UTF-16 without a byte-order mark but is not valid UTF-16 (byte {exc.start}); "
                "save it as UTF-8",
            ) from None
        if too_many_controls(text):  # NUL bytes that only looked like UTF-16's
            raise binary
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ArticleError(name, f"file is not valid UTF-8 (byte {exc.start})") from None
    if "\x00" in text:
        raise ArticleError(name, "file is binary (it contains NUL characters), not text")
    if too_many_controls(text):
        raise ArticleError(name, "file looks binary (too many control characters)")
    return text


def too_many_controls(text: str) -> bool:
    """More control characters (other than tab, newline, form feed, carriage return) than text has."""
    return len(CONTROL_CHARACTERS.findall(text)) > max(8, len(text) // 100)


def parse_article(data: bytes, name: str, max_bytes: int = DEFAULT_MAX_ARTICLE_BYTES) -> Article:
    """Validate and parse an article's bytes; the reader is chosen by the name's extension."""
    reader = READERS.get(Path(name).suffix.lower())
    if reader is None:
        raise ArticleError(name, UNSUPPORTED_TYPE)
    article = reader(decode_article(data, name, max_bytes), name)
    if not any(block.kind != "heading" for block in article.blocks):
        raise ArticleError(name, "no article text found after extraction")
    return article

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
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0e-\x1f]")  # control characters other than \t \n \f \r


def has_reader(name: str) -> bool:
    """True when the file name's extension is one an article may have."""
    return Path(name).suffix.lower() in READERS


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
        raise ArticleError(name, "file is binary (it contains NUL bytes), not text")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ArticleError(name, f"file is not valid UTF-8 (byte {exc.start})") from None
    if "\x00" in text:
        raise ArticleError(name, "file is binary (it contains NUL characters), not text")
    controls = len(CONTROL_CHARACTERS.findall(text))
    if controls > max(8, len(text) // 100):
        raise ArticleError(name, "file looks binary (too many control characters)")
    return text


def parse_article(data: bytes, name: str, max_bytes: int = DEFAULT_MAX_ARTICLE_BYTES) -> Article:
    """Validate and parse an article's bytes; the reader is chosen by the name's extension."""
    reader = READERS.get(Path(name).suffix.lower())
    if reader is None:
        raise ArticleError(name, UNSUPPORTED_TYPE)
    article = reader(decode_article(data, name, max_bytes), name)
    if not any(block.kind != "heading" for block in article.blocks):
        raise ArticleError(name, "no article text found after extraction")
    return article

"""Admin operations on the corpus: add, replace, remove and list articles, re-indexing each time."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from bot.builder import BuildReport
from bot.engine import Engine
from bot.errors import ArticleError, BotError
from bot.readers import CANONICAL_EXTENSIONS, UNSUPPORTED_TYPE, has_reader, parse_article

MAX_NAME_CHARS = 100
_corpus_lock = threading.Lock()


@dataclass(frozen=True)
class AddedArticle:
    name: str
    passages: int
    replaced: bool
    report: BuildReport


def safe_article_name(file_name: str) -> str:
    """A plain file name inside the corpus: no folders, no leading dots, only safe characters."""
    base = re.split(r"[\\/]", file_name.strip())[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = ext, ""
    ext = "." + ext.lower() if ext else ""
    if not has_reader(base):
        raise ArticleError(base or "upload", UNSUPPORTED_TYPE)
    ext = CANONICAL_EXTENSIONS.get(ext, ext)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-_")[:MAX_NAME_CHARS]
    if not stem:
        raise ArticleError(base, "the file name has no usable characters")
    return stem + ext


def upload_problem(file_name: str, size: int | None, max_bytes: int) -> str:
    """Why an upload is refused before it is downloaded ('' when it may be downloaded)."""
    if not has_reader(file_name):
        return str(ArticleError(file_name, UNSUPPORTED_TYPE))
    if size is not None and size > max_bytes:
        return str(ArticleError.too_large(file_name, size, max_bytes))
    return ""


def add_article(engine: Engine, file_name: str, data: bytes) -> AddedArticle:
    """Validate an uploaded article, write it into the corpus and re-index; undo the write on failure."""
    name = safe_article_name(file_name)
    parse_article(data, name, engine.settings.max_article_bytes)  # raises ArticleError with the reason
    corpus = engine.settings.corpus_dir
    target = corpus / name
    with _corpus_lock:
        previous = saved_state(target)
        write_atomic(target, data)
        try:
            report = engine.rebuild()
        except BotError:
            restore(target, previous)
            raise
    passages = next((int(a["passages"]) for a in report.manifest["corpus"]["articles"] if a["name"] == name), 0)
    return AddedArticle(name, passages, previous is not None, report)


def remove_article(engine: Engine, name: str) -> BuildReport:
    """Delete an article from the corpus and re-index; put it back if the re-index fails."""
    names = {n for n, _, _ in list_articles(engine)}
    if name not in names:
        raise BotError(f"no article named {name!r}; see the article list")
    if len(names) == 1:
        raise BotError("cannot remove the last article; add another one first")
    target = engine.settings.corpus_dir / name
    with _corpus_lock:
        try:
            previous = saved_state(target)
            target.unlink()
        except OSError as exc:
            raise BotError(f"cannot remove {name}: {exc.strerror or exc}") from None
        try:
            return engine.rebuild()
        except BotError:
            restore(target, previous)
            raise


def list_articles(engine: Engine) -> list[tuple[str, str, int]]:
    """(file name, title, passage count) of every indexed article."""
    return [(a["name"], a["title"], int(a["passages"])) for a in engine.snapshot().index.articles()]


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.uploading")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class SavedState:
    """What was at a corpus path before a change: a file's bytes, or a link's target (never what it points to)."""

    data: bytes = b""
    link: str | None = None


def saved_state(path: Path) -> SavedState | None:
    """The state of `path` to put back if a re-index fails, or None if nothing is there."""
    if path.is_symlink():
        return SavedState(link=os.readlink(path))
    if path.is_file():
        return SavedState(data=path.read_bytes())
    return None


def restore(path: Path, previous: SavedState | None) -> None:
    """Put back what was at `path` before (or remove it if nothing was).

    A link is put back as the same link: writing its target's bytes in its place turned a link
    to a file outside the corpus, which the index skips, into an article of that file's text.
    """
    if previous is None:
        path.unlink(missing_ok=True)
    elif previous.link is not None:
        path.unlink(missing_ok=True)
        os.symlink(previous.link, path)
    else:
        write_atomic(path, previous.data)

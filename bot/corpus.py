"""Find, validate and fingerprint the article files of a corpus directory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bot.errors import ArticleError, CorpusError
from bot.models import Article
from bot.readers import is_article_file, parse_article


@dataclass(frozen=True)
class ArticleFile:
    """One article file as read for an index build."""

    path: Path
    sha256: str
    size: int
    article: Article


def article_paths(corpus_dir: Path) -> list[Path]:
    """The article files directly in corpus_dir, sorted by name."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus directory not found: {corpus_dir}")
    return sorted(p for p in corpus_dir.iterdir() if is_article_file(p))


def read_corpus(
    corpus_dir: Path,
    max_bytes: int,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[ArticleFile]:
    """Read and validate every article; raise CorpusError naming each broken file."""
    paths = article_paths(corpus_dir)
    if not paths:
        raise CorpusError(f"no articles (.txt, .md, .html) in {corpus_dir}")
    files: list[ArticleFile] = []
    problems: list[str] = []
    for n, path in enumerate(paths, 1):
        if progress:
            progress(n, len(paths), path.name)
        try:
            data = read_bytes(path, max_bytes)
            files.append(ArticleFile(path, hashlib.sha256(data).hexdigest(), len(data), parse_article(data, path.name, max_bytes)))
        except ArticleError as exc:
            problems.append(str(exc))
    if problems:
        raise CorpusError("broken article file(s), nothing was changed:\n  " + "\n  ".join(problems))
    return files


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a file, refusing it before reading when it is over the size limit."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ArticleError(path.name, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
        return path.read_bytes()
    except OSError as exc:
        raise ArticleError(path.name, f"cannot read file ({exc.strerror or exc})") from None


def corpus_fingerprint(file_digests: dict[str, str], extra: str) -> str:
    """A digest of the article names and contents plus anything else the index depends on."""
    digest = hashlib.sha256(extra.encode("utf-8"))
    for name in sorted(file_digests):
        digest.update(f"\0{name}\0{file_digests[name]}".encode("utf-8"))
    return digest.hexdigest()


def current_digests(corpus_dir: Path) -> dict[str, str]:
    """sha256 of every article file now in corpus_dir (no parsing)."""
    digests = {}
    for path in article_paths(corpus_dir):
        try:
            digests[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise CorpusError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    return digests

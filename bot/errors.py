"""The project's error hierarchy; every message is safe to show a user or admin.

* BotError                  a clear one-line message, never a traceback
  x ArticleError            one article file: .name, .problem
  x CorpusError             the corpus folder: .corpus_dir, .problems (the ArticleErrors)
  x IndexStoreError         the index folder: .index_dir, .problem; the message ends with .hint
    + IndexMissingError     no index built yet
    + IndexCorruptError     unreadable, or fails its checksums

Each class carries its context as attributes (in the style of httpx's ``_exceptions.py``), so a
caller can act on the file or folder without parsing the message, and each rule for a message
(the size limit, the rebuild hint) is written here once.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

REBUILD_HINT = "rebuild it with: python run_bot.py reindex"


class BotError(Exception):
    """Base class for errors the interfaces report as a clear message, never a traceback."""


class ArticleError(BotError):
    """An article file cannot be used: unreadable, binary, empty, too large or without text."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem

    @classmethod
    def too_large(cls, name: str, size: int, max_bytes: int) -> ArticleError:
        """The one wording of the article size limit."""
        return cls(name, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")


class CorpusError(BotError):
    """The corpus directory is missing, empty or holds a broken article."""

    def __init__(self, message: str, *, corpus_dir: Path | None = None, problems: Sequence[ArticleError] = ()) -> None:
        super().__init__(message)
        self.corpus_dir = corpus_dir
        self.problems = tuple(problems)


class IndexStoreError(BotError):
    """The index folder cannot be served from; the message says how to fix it."""

    def __init__(self, problem: str, *, index_dir: Path | None = None) -> None:
        self.hint = REBUILD_HINT + (f" --index {shlex.quote(str(index_dir))}" if index_dir is not None else "")
        problem = problem.removesuffix(f"; {self.hint}").removesuffix(f"; {REBUILD_HINT}")
        super().__init__(f"{problem}; {self.hint}")
        self.problem = problem
        self.index_dir = index_dir


class IndexMissingError(IndexStoreError):
    """No index has been built in the index directory yet."""


class IndexCorruptError(IndexStoreError):
    """The index on disk is unreadable or fails its checksums."""

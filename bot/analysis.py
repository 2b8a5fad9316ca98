"""Read, parse and tokenise each article once, and remember the result by content for the next build.

A build needs, per article, its passages and the terms of each passage's fields. Those depend only
on the file's name and bytes, the pipeline code, the synonym rules and the passage size, so they
are cached under a key made of all of these in ``<index>/analysis-cache.sqlite3``. Re-indexing after one article
changed re-reads every file (to notice changes) but parses and tokenises only the changed one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.corpus import describe_skipped, list_corpus, read_bytes
from bot.errors import ArticleError, CorpusError
from bot.indexing import heading_text, terms_of, title_phrases
from bot.models import Passage
from bot.passages import build_passages
from bot.readers import ARTICLE_EXTENSIONS, parse_article
from bot.synonyms import SynonymTable
from bot.text import words

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
CACHE_FORMAT = 2  # 2: each passage's sentence spans


@dataclass(frozen=True)
class AnalysedArticle:
    """One article ready to index: its passages and each passage's terms, field by field."""

    name: str
    sha256: str
    size: int
    title: str
    passages: tuple[Passage, ...]
    body: tuple[tuple[str, ...], ...]  # indexed terms of each passage's text
    heading: tuple[tuple[str, ...], ...]  # indexed terms of each passage's section titles
    title_terms: tuple[str, ...]
    surfaces: tuple[tuple[str, ...], ...]  # distinct non-stopword words of each passage (spelling)
    title_surfaces: tuple[str, ...]
    mtime_ns: int = 0  # when the file was read; lets a later staleness check skip unchanged files

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CACHE_FORMAT,
            "title": self.title,
            "passages": [
                [p.section, p.subsection, p.text, [list(span) for span in p.sentences]] for p in self.passages
            ],
            "body": self.body,
            "heading": self.heading,
            "title_terms": self.title_terms,
            "surfaces": self.surfaces,
            "title_surfaces": self.title_surfaces,
        }

    @staticmethod
    def from_json(data: dict[str, Any], name: str, sha256: str, size: int) -> AnalysedArticle:
        if data.get("format") != CACHE_FORMAT:
            raise ValueError("old cache format")
        title = str(data["title"])
        passages = tuple(
            Passage(title, name, str(s), str(sub), str(text), i, tuple((int(a), int(b)) for a, b in spans))
            for i, (s, sub, text, spans) in enumerate(data["passages"])
        )
        return AnalysedArticle(
            name,
            sha256,
            size,
            title,
            passages,
            tuple(tuple(t) for t in data["body"]),
            tuple(tuple(t) for t in data["heading"]),
            tuple(data["title_terms"]),
            tuple(tuple(t) for t in data["surfaces"]),
            tuple(data["title_surfaces"]),
        )


def analyse(
    data: bytes, name: str, sha256: str, max_bytes: int, max_words: int, synonyms: SynonymTable
) -> AnalysedArticle:
    """Parse and tokenise one article's bytes (raises ArticleError for a broken file)."""
    article = parse_article(data, name, max_bytes)
    passages = tuple(build_passages(article, max_words))
    body_words = [words(p.text) for p in passages]
    heading_words = [words(heading_text(p)) for p in passages]
    title_words = words(article.title)
    return AnalysedArticle(
        name,
        sha256,
        len(data),
        article.title,
        passages,
        tuple(tuple(terms_of(w, synonyms)) for w in body_words),
        tuple(tuple(terms_of(w, synonyms)) for w in heading_words),
        tuple(terms_of(title_words, synonyms) + title_phrases(title_words)),
        tuple(tuple(sorted({s for s, _, stop in b + h if not stop})) for b, h in zip(body_words, heading_words)),
        tuple(sorted({s for s, _, stop in title_words if not stop})),
    )


class AnalysisCache:
    """Analysed articles as JSON in one SQLite file, keyed by file name, content and all they depend on.

    The cache only saves time: an entry that cannot be read is analysed again, and a cache that
    cannot be written (a read-only index folder) makes builds slower, never wrong.
    """

    def __init__(self, path: Path, salt: str) -> None:
        self.path = path
        self.salt = salt
        self.used: set[str] = set()
        self.pending: list[tuple[str, str]] = []
        self.used_vectors: set[str] = set()
        self.pending_vectors: list[tuple[str, bytes]] = []
        self.db: sqlite3.Connection | None = None
        for attempt in range(2):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(path, timeout=60)  # the background encoder writes to it too
                self.db.execute("CREATE TABLE IF NOT EXISTS articles (key TEXT PRIMARY KEY, data TEXT NOT NULL)")
                self.db.execute("CREATE TABLE IF NOT EXISTS roots (word TEXT PRIMARY KEY, root TEXT NOT NULL)")
                self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, data BLOB NOT NULL)")
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS synonyms (word TEXT PRIMARY KEY, source TEXT, stem TEXT, stems TEXT)"
                )
                return
            except sqlite3.DatabaseError as exc:
                self.close()
                if isinstance(exc, sqlite3.OperationalError) or attempt:  # cannot open or write: go without
                    log.debug("analysis cache unavailable (%s); analysing every article", exc)
                    return
                log.debug("analysis cache %s is damaged (%s); starting a new one", path, exc)
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    return
            except (OSError, sqlite3.Error) as exc:
                log.debug("analysis cache unavailable (%s); analysing every article", exc)
                self.close()
                return

    def key(self, name: str, sha256: str) -> str:
        return hashlib.sha256(f"{self.salt}\0{name}\0{sha256}".encode("utf-8", "surrogateescape")).hexdigest()

    def load(self, name: str, sha256: str, size: int) -> AnalysedArticle | None:
        key = self.key(name, sha256)
        self.used.add(key)
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT data FROM articles WHERE key = ?", (key,)).fetchone()
            return AnalysedArticle.from_json(json.loads(row[0]), name, sha256, size) if row else None
        except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:  # a damaged entry is analysed again
            log.debug("ignoring cache entry for %s: %s", name, exc)
            return None

    def store(self, article: AnalysedArticle) -> None:
        key = self.key(article.name, article.sha256)
        self.used.add(key)
        self.pending.append((key, json.dumps(article.to_json(), ensure_ascii=False, separators=(",", ":"))))

    def load_vectors(self, key: str, rows: int, dimensions: int) -> np.ndarray | None:
        """Vectors stored under `key` (see bot.vectors.article_vector_key), if they are there and whole."""
        self.used_vectors.add(key)
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT data FROM vectors WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            log.debug("ignoring cached vectors %s: %s", key, exc)
            return None
        if (
            not row or not isinstance(row[0], bytes) or len(row[0]) != rows * dimensions * 2
        ):  # float16; a damaged entry is encoded again
            return None
        vectors = np.frombuffer(row[0], dtype=np.float16).reshape(rows, dimensions)
        return vectors if np.isfinite(vectors).all() else None

    def store_vectors(self, key: str, vectors: np.ndarray) -> None:
        self.used_vectors.add(key)
        self.pending_vectors.append((key, vectors.astype(np.float16).tobytes()))

    def commit(self) -> None:
        """Write the new entries and drop the ones this build did not use, in one transaction."""
        if self.db is None:
            return
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO articles (key, data) VALUES (?, ?)", self.pending)
                self.db.execute("CREATE TEMP TABLE IF NOT EXISTS used (key TEXT PRIMARY KEY)")
                self.db.execute("DELETE FROM used")
                self.db.executemany("INSERT OR IGNORE INTO used (key) VALUES (?)", ((k,) for k in self.used))
                self.db.execute("DELETE FROM articles WHERE key NOT IN (SELECT key FROM used)")
                if self.used_vectors:  # a build that computed no vectors keeps those of other models
                    self.db.executemany(
                        "INSERT OR REPLACE INTO vectors (key, data) VALUES (?, ?)", self.pending_vectors
                    )
                    self.db.execute("DELETE FROM used")
                    self.db.executemany(
                        "INSERT OR IGNORE INTO used (key) VALUES (?)", ((k,) for k in self.used_vectors)
                    )
                    self.db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM used)")
        except sqlite3.Error as exc:
            log.debug("cannot update the analysis cache: %s", exc)
        self.pending.clear()
        self.pending_vectors.clear()

    def commit_vectors(self) -> None:
        """Write the new vectors only, dropping nothing (the background encoder's commit)."""
        if self.db is None:
            return
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO vectors (key, data) VALUES (?, ?)", self.pending_vectors)
        except sqlite3.Error as exc:
            log.debug("cannot store passage vectors in the analysis cache: %s", exc)
        self.pending_vectors.clear()

    def roots(self) -> dict[str, str]:
        """Lancaster roots of words seen by earlier builds."""
        if self.db is None:
            return {}
        try:
            return dict(self.db.execute("SELECT word, root FROM roots").fetchall())
        except sqlite3.Error:
            return {}

    def store_roots(self, roots: dict[str, str]) -> None:
        """Keep the roots of this build's words (and only those) for the next build."""
        if self.db is None:
            return
        try:
            with self.db:
                self.db.execute("DELETE FROM roots")
                self.db.executemany("INSERT INTO roots (word, root) VALUES (?, ?)", roots.items())
        except sqlite3.Error as exc:
            log.debug("cannot update the cached word roots: %s", exc)

    def related(self, source: str) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Words seen by earlier builds with their stem and their WordNet synonyms' stems, from `source`
        (a WordNet identity; see bot.thesaurus.related_table)."""
        if self.db is None:
            return {}
        try:
            rows = self.db.execute("SELECT word, stem, stems FROM synonyms WHERE source = ?", (source,)).fetchall()
        except sqlite3.Error:
            return {}
        return {word: (own, tuple(stems.split())) for word, own, stems in rows}

    def store_related(self, source: str, related: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        """Keep this build's words (and only those) for the next build."""
        if self.db is None:
            return
        try:
            with self.db:
                self.db.execute("DELETE FROM synonyms")
                self.db.executemany(
                    "INSERT INTO synonyms (word, source, stem, stems) VALUES (?, ?, ?, ?)",
                    ((word, source, own, " ".join(stems)) for word, (own, stems) in related.items()),
                )
        except sqlite3.Error as exc:
            log.debug("cannot update the cached WordNet synonyms: %s", exc)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
        self.db = None


def stat_mtime(path: Path) -> int:
    """The file's modification time, taken before reading it (a later write then always looks new)."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


Job = tuple[bytes, str, str, int, int, SynonymTable]  # data, name, sha256, max_bytes, max_words, synonyms
PARALLEL_FROM = 200  # articles to analyse before it pays to start worker processes


def analyse_job(job: Job) -> AnalysedArticle | tuple[str, str]:
    """analyse() for a worker process: a broken article comes back as (name, problem), not raised."""
    data, name, sha256, max_bytes, max_words, synonyms = job
    try:
        return analyse(data, name, sha256, max_bytes, max_words, synonyms)
    except ArticleError as exc:
        return (exc.name, exc.problem)


def can_fork() -> bool:
    """May this process fork worker processes? Only with more than one core and no other threads.

    Forking is safe only in a process with no other threads (a thread may hold a lock the child would
    wait on forever); spawning instead would re-run the caller's script. So a build in a threaded
    process (the Telegram bot) runs in this process.
    """
    return (
        (os.cpu_count() or 1) >= 2
        and threading.active_count() == 1
        and "fork" in multiprocessing.get_all_start_methods()
    )


def fork_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))


def analyse_all(jobs: list[Job]) -> list[AnalysedArticle | tuple[str, str]]:
    """Analyse the articles the cache lacks: in worker processes (one per core) when there are many."""
    workers = min(os.cpu_count() or 1, 8)
    if len(jobs) < PARALLEL_FROM or not can_fork():
        return [analyse_job(job) for job in jobs]
    with fork_pool(workers) as pool:
        return list(pool.map(analyse_job, jobs, chunksize=max(1, len(jobs) // (workers * 8))))


def analyse_corpus(
    corpus_dir: Path,
    max_bytes: int,
    max_words: int,
    synonyms: SynonymTable,
    cache: AnalysisCache,
    progress: Progress | None = None,
) -> tuple[list[AnalysedArticle], list[tuple[str, str]]]:
    """Every article analysed (from the cache where possible), and the entries skipped with why.

    Raises CorpusError naming every broken article; nothing is written then.
    """
    listing = list_corpus(corpus_dir)
    if not listing.paths:
        skipped = f"; skipped {describe_skipped(listing.skipped)}" if listing.skipped else ""
        raise CorpusError(
            f"no articles ({', '.join(ARTICLE_EXTENSIONS)}) in {corpus_dir}{skipped}", corpus_dir=corpus_dir
        )
    found: list[AnalysedArticle | None] = []
    mtimes: list[int] = []
    jobs: list[Job] = []
    problems: list[ArticleError] = []
    total = len(listing.paths)
    for n, path in enumerate(listing.paths, 1):
        if progress:
            progress(n, total, path.name)
        try:
            mtime_ns = stat_mtime(path)
            data = read_bytes(path, max_bytes)
            sha256 = hashlib.sha256(data).hexdigest()
        except ArticleError as exc:
            problems.append(exc)
            continue
        analysed = cache.load(path.name, sha256, len(data))
        if analysed is None:
            jobs.append((data, path.name, sha256, max_bytes, max_words, synonyms))
        found.append(analysed)
        mtimes.append(mtime_ns)
    fresh = iter(analyse_all(jobs))
    articles: list[AnalysedArticle] = []
    for analysed, mtime_ns in zip(found, mtimes):
        if analysed is None:
            result = next(fresh)
            if isinstance(result, tuple):
                problems.append(ArticleError(*result))
                continue
            analysed = result
            cache.store(analysed)
        articles.append(replace(analysed, mtime_ns=mtime_ns))
    if problems:
        listed = "\n  ".join(str(problem) for problem in problems)
        raise CorpusError(
            f"broken article file(s), nothing was changed:\n  {listed}", corpus_dir=corpus_dir, problems=problems
        )
    return articles, listing.skipped

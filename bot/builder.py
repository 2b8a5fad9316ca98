"""Build an index from the corpus: validate every article, then write and swap in a new build."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from bot.config import Settings
from bot.corpus import ArticleFile, corpus_fingerprint, current_digests, read_corpus
from bot.errors import BotError
import numpy as np

from bot.index_store import FORMAT, FORMAT_VERSION, PIPELINE_VERSION, SearchIndex, new_build_id, read_manifest, write_index
from bot.families import family_table
from bot.indexing import build_fields, vocabulary
from bot.models import Passage
from bot.passages import build_passages
from bot.synonyms import SynonymTable, default_synonyms_path, load_synonyms
from bot.text import stopwords

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


@dataclass
class BuildReport:
    """What a build did, for the CLI and the admin commands."""

    articles: int
    passages: int
    seconds: float
    manifest: dict[str, Any]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    passage_delta: int | None = None

    def summary(self) -> str:
        """A short multi-line summary of the build and what changed."""
        lines = [f"Indexed {self.articles} article(s) into {self.passages} passages in {self.seconds:.2f}s."]
        if self.passage_delta is None:
            lines.append("First build of this index.")
        elif not (self.added or self.changed or self.removed):
            lines.append("No article changed since the last build.")
        for label, names in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            if names:
                lines.append(f"{label.capitalize()}: {', '.join(names)}")
        if self.passage_delta:
            lines.append(f"Passages: {self.passage_delta:+d} since the last build.")
        return "\n".join(lines)


def synonyms_for(settings: Settings) -> SynonymTable:
    """The shipped general rules, then the corpus's own file."""
    return load_synonyms(default_synonyms_path(), settings.corpus_synonyms)


# The modules whose code decides what goes into an index: a change to any of them (an upgrade
# of the bot) makes existing indexes stale, so they are rebuilt instead of served as they were.
PIPELINE_MODULES = ("readers", "corpus.py", "models.py", "passages.py", "text.py", "synonyms.py", "indexing.py", "families.py", "index_store.py")


def code_digest(package: Path, modules: tuple[str, ...]) -> str:
    """SHA-256 over the Python source of the named modules and packages inside `package`."""
    digest = hashlib.sha256()
    for name in modules:
        path = package / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.relative_to(package).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def pipeline_code_digest() -> str:
    """SHA-256 over the source of this bot's indexing pipeline."""
    return code_digest(Path(__file__).resolve().parent, PIPELINE_MODULES)


def fingerprint_extra(settings: Settings, synonyms: SynonymTable) -> str:
    """Everything besides the articles that a build depends on."""
    params = sorted(settings.ranking.index_params().items())
    return f"{PIPELINE_VERSION}|{pipeline_code_digest()}|{sorted(stopwords())!r}|{params!r}|{synonyms.digest}"


def expected_fingerprint(settings: Settings) -> str:
    """The fingerprint a fresh build of the current corpus would have (reads files, parses nothing)."""
    return corpus_fingerprint(current_digests(settings.corpus_dir), fingerprint_extra(settings, synonyms_for(settings)))


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Serialise builds of one index directory across threads and processes."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_index(settings: Settings, progress: Progress | None = None) -> BuildReport:
    """Validate the corpus and write a new index; on any error the current index stays as it was."""
    started = time.perf_counter()
    with build_lock(settings.index_dir):
        files = read_corpus(settings.corpus_dir, settings.max_article_bytes, progress)
        synonyms = synonyms_for(settings)
        passages, per_article = passages_of(files, settings)
        if not passages:
            raise BotError("the articles produced no passages; nothing was changed")
        ranking = settings.ranking
        titles = [entry["title"] for entry in per_article]
        terms, fields, counts = build_fields(passages, titles, synonyms)
        passage_article = np.repeat(np.arange(len(per_article), dtype=np.int32), [entry["passages"] for entry in per_article])
        words = vocabulary(counts, synonyms.words())
        previous = previous_manifest(settings.index_dir)
        digests = {f.path.name: f.sha256 for f in files}
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "build_id": new_build_id(),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "bm25": ranking.index_params(),
            "pipeline": PIPELINE_VERSION,
            "pipeline_code_sha256": pipeline_code_digest(),
            "synonyms_sha256": synonyms.digest,
            "corpus": {
                "fingerprint": corpus_fingerprint(digests, fingerprint_extra(settings, synonyms)),
                "articles": per_article,
            },
            "counts": {"articles": len(files), "passages": len(passages)},
            "previous_build_dir": (previous or {}).get("build_dir", ""),
        }
        manifest["build_seconds"] = round(time.perf_counter() - started, 4)
        index = SearchIndex(manifest, passages, terms, fields, passage_article, words, family_table(words), synonyms.texts)
        manifest = write_index(settings.index_dir, manifest, index)
    report = BuildReport(len(files), len(passages), time.perf_counter() - started, manifest)
    compare_with(report, previous, per_article)
    log.info("index built: %s articles, %s passages in %.2fs", report.articles, report.passages, report.seconds)
    return report


def passages_of(files: list[ArticleFile], settings: Settings) -> tuple[list[Passage], list[dict[str, Any]]]:
    """All passages, and a manifest entry for each article."""
    passages: list[Passage] = []
    entries: list[dict[str, Any]] = []
    for f in files:
        own = build_passages(f.article, settings.ranking.max_words)
        sections = list(dict.fromkeys(p.section for p in own))
        entries.append({"name": f.path.name, "title": f.article.title, "sha256": f.sha256, "bytes": f.size, "passages": len(own), "sections": sections})
        passages.extend(own)
    return passages, entries


def previous_manifest(index_dir: Path) -> dict[str, Any] | None:
    try:
        return read_manifest(index_dir)
    except BotError:
        return None


def compare_with(report: BuildReport, previous: dict[str, Any] | None, current: list[dict[str, Any]]) -> None:
    """Fill in which articles were added, changed or removed since `previous`."""
    if previous is None:
        return
    old = {a["name"]: a for a in previous.get("corpus", {}).get("articles", [])}
    new = {a["name"]: a for a in current}
    report.added = sorted(set(new) - set(old))
    report.removed = sorted(set(old) - set(new))
    report.changed = sorted(n for n in set(new) & set(old) if new[n]["sha256"] != old[n].get("sha256"))
    report.passage_delta = report.passages - int(previous.get("counts", {}).get("passages", 0))

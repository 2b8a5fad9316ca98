"""Build an index from the corpus: validate every article, then write and swap in a new build."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.acronyms import defined_acronyms
from bot.analysis import AnalysedArticle, AnalysisCache, analyse_corpus
from bot.bm25 import article_document_frequency
from bot.config import Settings
from bot.corpus import corpus_fingerprint, current_digests
from bot.encoder import (
    EncoderUnavailable,
    SentenceEncoder,
    load_encoder,
    model_identity,
    runtime_identity,
    shipped_model_path,
)
from bot.errors import BotError, IndexStoreError
from bot.families import family_table, lancaster_roots
from bot.index_store import (
    FORMAT,
    FORMAT_VERSION,
    PIPELINE_VERSION,
    SearchIndex,
    new_build_id,
    read_manifest,
    remove_temporaries,
    write_index,
)
from bot.indexing import PASSAGE_FIELDS, build_fields, vocabulary
from bot.models import Passage
from bot.synonyms import SynonymTable, default_synonyms_path, load_synonyms
from bot.terminal import visible_line
from bot.text import stopwords
from bot.thesaurus import related_table, shipped_wordnet_dir, wordnet_identity
from bot.vectors import passage_vectors, vector_code_digest

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class BuiltIndex:
    """A new build before it is written, with the word roots to remember for the next build."""

    index: SearchIndex
    roots: dict[str, str]

    @property
    def manifest(self) -> dict[str, Any]:
        return self.index.manifest

    @property
    def passages(self) -> Sequence[Passage]:
        return self.index.passages


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
    skipped: list[tuple[str, str]] = field(default_factory=list)  # corpus entries that are not articles, and why

    def summary(self) -> str:
        """A short multi-line summary of the build and what changed."""
        lines = [f"Indexed {self.articles} article(s) into {self.passages} passages in {self.seconds:.2f}s."]
        if self.passage_delta is None:
            lines.append("First build of this index.")
        elif not (self.added or self.changed or self.removed):
            lines.append("No article changed since the last build.")
        for label, names in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            if names:
                lines.append(f"{label.capitalize()}: {', '.join(visible_line(n) for n in names)}")
        if self.passage_delta:
            lines.append(f"Passages: {self.passage_delta:+d} since the last build.")
        if self.manifest.get("encoder_problem"):
            lines.append(
                f"No passage vectors, so answers are ranked by words alone: {self.manifest['encoder_problem']}"
            )
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)} file(s) that are not articles:")
            lines.extend(f"  {visible_line(name)}: {visible_line(reason)}" for name, reason in self.skipped)
        return "\n".join(lines)


def synonyms_for(settings: Settings) -> SynonymTable:
    """The shipped general rules, then the corpus's own file."""
    return load_synonyms(default_synonyms_path(), settings.corpus_synonyms)


# The modules whose code decides what goes into an index: a change to any of them (an upgrade
# of the bot) makes existing indexes stale, so they are rebuilt instead of served as they were.
PIPELINE_MODULES = (
    "readers",
    "corpus.py",
    "models.py",
    "passages.py",
    "text.py",
    "synonyms.py",
    "indexing.py",
    "families.py",
    "acronyms.py",
    "thesaurus.py",
    "index_store.py",
    "analysis.py",
)


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


def wordnet_folder(settings: Settings) -> Path | None:
    """The WordNet a build reads related words from: the configured folder, else the shipped one."""
    return settings.wordnet_dir or shipped_wordnet_dir()


def encoder_path(settings: Settings) -> Path | None:
    """The sentence model a build encodes passages with: the configured file, else the shipped one."""
    return settings.encoder_model or shipped_model_path()


def encoder_for_build(settings: Settings) -> tuple[SentenceEncoder | None, str]:
    """The sentence model, or None and why not (ranking by words alone): turned off, or it cannot be used."""
    if not settings.semantic:
        return None, ""
    try:
        return load_encoder(encoder_path(settings)), ""
    except EncoderUnavailable as exc:
        log.warning("building without passage vectors (ranking by words alone): %s", exc)
        return None, str(exc)


def fingerprint_extra(settings: Settings, synonyms: SynonymTable) -> str:
    """Everything besides the articles that analysing an article depends on (the analysis cache's key)."""
    params = sorted(settings.build.manifest().items())
    return f"{PIPELINE_VERSION}|{pipeline_code_digest()}|{sorted(stopwords())!r}|{params!r}|{synonyms.digest}"


def build_extra(settings: Settings, synonyms: SynonymTable) -> str:
    """Everything besides the articles that a build depends on.

    That is what analysis does, the WordNet copy and the sentence model.
    """
    encoder = (
        f"{model_identity(encoder_path(settings))}|{runtime_identity()}|{vector_code_digest()}"
        if settings.semantic
        else "off"
    )
    wordnet = wordnet_identity(wordnet_folder(settings))
    return f"{fingerprint_extra(settings, synonyms)}|wordnet:{wordnet}|encoder:{encoder}"


def expected_fingerprint(settings: Settings, manifest: dict[str, Any] | None = None) -> str:
    """The fingerprint a fresh build of the current corpus would have (parses nothing).

    Files whose size and modification time match the manifest's record are not read again.
    """
    known = {}
    for entry in (manifest or {}).get("corpus", {}).get("articles", []):
        if isinstance(entry, dict) and {"bytes", "mtime_ns", "sha256"} <= entry.keys():
            known[str(entry["name"])] = (int(entry["bytes"]), int(entry["mtime_ns"]), str(entry["sha256"]))
    digests = current_digests(settings.corpus_dir, known, settings.max_article_bytes)
    return corpus_fingerprint(digests, build_extra(settings, synonyms_for(settings)))


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
    report = guarded_build(settings, progress, only_if_stale=False)
    assert report is not None
    return report


def build_if_stale(settings: Settings) -> BuildReport | None:
    """Build unless, once the build lock is held, the index turns out to be current (None then).

    When many processes find the index stale at once, the first builds and the others, having
    waited for its lock, find it current and build nothing.
    """
    return guarded_build(settings, None, only_if_stale=True)


def guarded_build(settings: Settings, progress: Progress | None, only_if_stale: bool) -> BuildReport | None:
    try:
        return locked_build(settings, progress, only_if_stale)
    except OSError as exc:  # the index folder cannot be written: read-only, full, another owner
        where = exc.filename or settings.index_dir
        raise IndexStoreError(
            f"cannot write the index in {where}: {exc.strerror or exc}", index_dir=settings.index_dir
        ) from None


def index_is_current(settings: Settings) -> bool:
    """Does the index on disk match the corpus, the synonyms, the settings and the code as they are now?"""
    try:
        manifest = read_manifest(settings.index_dir)
        return manifest.get("corpus", {}).get("fingerprint") == expected_fingerprint(settings, manifest)
    except BotError:
        return False


def locked_build(settings: Settings, progress: Progress | None, only_if_stale: bool) -> BuildReport | None:
    started = time.perf_counter()
    with build_lock(settings.index_dir):
        if only_if_stale and index_is_current(settings):
            return None
        removed = remove_temporaries(settings.index_dir)
        if removed:
            log.warning("removed %s temporary file(s) left by a build that did not finish", removed)
        previous = previous_manifest(settings.index_dir)
        synonyms = synonyms_for(settings)
        cache = AnalysisCache(settings.index_dir / "analysis-cache.sqlite3", fingerprint_extra(settings, synonyms))
        try:
            articles, skipped = analyse_corpus(
                settings.corpus_dir, settings.max_article_bytes, settings.build.max_words, synonyms, cache, progress
            )
            cache.commit()  # kept even if the build fails later: those articles were analysed
            built = assemble_index(settings, articles, synonyms, cache, previous, progress)
            cache.commit()  # the passage vectors just encoded
            built.manifest["build_seconds"] = round(time.perf_counter() - started, 4)
            if progress:
                progress(0, 1, "writing")
            manifest = write_index(settings.index_dir, built.manifest, built.index)
            cache.store_roots(built.roots)
            if progress:
                progress(1, 1, "writing")
        finally:
            cache.close()
    report = BuildReport(len(articles), len(built.passages), time.perf_counter() - started, manifest, skipped=skipped)
    compare_with(report, previous, manifest["corpus"]["articles"])
    log.info("index built: %s articles, %s passages in %.2fs", report.articles, report.passages, report.seconds)
    return report


def assemble_index(
    settings: Settings,
    articles: list[AnalysedArticle],
    synonyms: SynonymTable,
    cache: AnalysisCache,
    previous: dict[str, Any] | None,
    progress: Progress | None,
) -> BuiltIndex:
    """The arrays, vocabulary, word families and manifest of a new build, from analysed articles."""
    passages = [p for a in articles for p in a.passages]
    if not passages:
        raise BotError("the articles produced no passages; nothing was changed")
    if progress:
        progress(0, 1, "tokenising")
    terms, fields = build_fields(
        [t for a in articles for t in a.body],
        [t for a in articles for t in a.heading],
        [a.title_terms for a in articles],
    )
    passage_article = np.repeat(np.arange(len(articles), dtype=np.int32), [len(a.passages) for a in articles])
    if progress:
        progress(1, 1, "tokenising")
        progress(0, 1, "vocabulary")
    words = vocabulary(
        (w for a in articles for w in a.surfaces),
        [w for a in articles for w in a.title_surfaces] + sorted(synonyms.words()),
    )
    known = cache.roots()
    roots = {w: known[w] for w in words if w in known}
    roots.update(lancaster_roots(w for w in words if w not in known))
    if progress:
        progress(1, 1, "vocabulary")
    digests = {a.name: a.sha256 for a in articles}
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "build_id": new_build_id(),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "bm25": settings.build.manifest(),
        "pipeline": PIPELINE_VERSION,
        "pipeline_code_sha256": pipeline_code_digest(),
        "synonyms_sha256": synonyms.digest,
        "corpus": {
            "fingerprint": corpus_fingerprint(digests, build_extra(settings, synonyms)),
            "articles": [manifest_entry(a) for a in articles],
        },
        "corpus_dir": str(settings.corpus_dir.resolve()),
        "counts": {"articles": len(articles), "passages": len(passages)},
        "previous_build_dir": (previous or {}).get("build_dir", ""),
    }
    article_df = {
        name: article_document_frequency(fields[name], passage_article, len(articles)) for name in PASSAGE_FIELDS
    }
    acronyms = defined_acronyms(p.text for p in passages)
    related = related_table(words, set(terms), wordnet_folder(settings))
    encoder, problem = encoder_for_build(settings)
    vectors = None
    if encoder is not None:
        try:
            vectors = passage_vectors(articles, encoder, cache, progress)
        except Exception as exc:  # onnxruntime's own error types: build by words alone rather than not at all
            log.warning("building without passage vectors (ranking by words alone): the sentence model failed: %s", exc)
            encoder, problem = None, f"the sentence model failed: {exc}"
    manifest["encoder"] = encoder.identity if encoder else ""
    if problem:
        manifest["encoder_problem"] = problem
    index = SearchIndex(
        manifest,
        passages,
        terms,
        fields,
        passage_article,
        words,
        family_table(words, roots),
        synonyms.texts,
        article_df,
        acronyms,
        related,
        vectors,
    )
    return BuiltIndex(index, roots)


def manifest_entry(article: AnalysedArticle) -> dict[str, Any]:
    """What the manifest records of one article."""
    sections = list(dict.fromkeys(p.section for p in article.passages))
    return {
        "name": article.name,
        "title": article.title,
        "sha256": article.sha256,
        "bytes": article.size,
        "mtime_ns": article.mtime_ns,
        "passages": len(article.passages),
        "sections": sections,
    }


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

"""Build an index from the corpus: validate every article, then write and swap in a new build."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.acronyms import defined_acronyms
from bot.analysis import AnalysedArticle, AnalysisCache, analyse_corpus, can_fork, fork_pool
from bot.bm25 import article_document_frequency
from bot.config import Settings
from bot.corpus import corpus_fingerprint, current_digests
from bot.encoder import MODEL_ID, model_identity, runtime_identity, shipped_model_path, unavailable_reason
from bot.errors import BotError, IndexStoreError
from bot.families import family_table, lancaster_roots
from bot.index_store import (
    FORMAT,
    FORMAT_VERSION,
    PIPELINE_VERSION,
    ArticleRecord,
    Manifest,
    SearchIndex,
    build_lock,
    new_build_id,
    read_manifest,
    remove_temporaries,
    write_index,
)
from bot.indexing import PASSAGE_FIELDS, build_fields, vocabulary
from bot.models import Passage
from bot.synonyms import SynonymTable, default_synonyms_path, load_synonyms, synonyms_digest
from bot.terminal import visible_line
from bot.text import stem, stopwords
from bot.text import words as text_words
from bot.thesaurus import related_table, shipped_wordnet_dir, wordnet_identity
from bot.vector_build import PENDING, READY, encode_pending, start_background, vectors_state
from bot.vectors import cached_vectors, encode_missing, vector_code_digest

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
PARALLEL_ROOTS = 2000  # new words to find Lancaster roots for before it pays to do it in a second process


@dataclass(frozen=True)
class BuiltIndex:
    """A new build before it is written, with the word roots to remember for the next build."""

    index: SearchIndex
    roots: dict[str, str]

    @property
    def manifest(self) -> Manifest:
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
    manifest: Manifest
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    passage_delta: int | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # corpus entries that are not articles, and why
    vector_seconds: float | None = None  # time spent waiting for the passage vectors after the build

    def vector_summary(self) -> str:
        """What became of the passage vectors after the words build."""
        if vectors_state(self.manifest) == READY:
            return (
                f"Passage vectors ready after {self.vector_seconds or 0:.1f}s more: answers are ranked by meaning too."
            )
        problem = self.manifest.get("encoder_problem", "")
        return f"No passage vectors, so answers are ranked by words alone: {problem}" if problem else ""

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
        state = vectors_state(self.manifest)
        if self.manifest.get("encoder_problem"):
            lines.append(
                f"No passage vectors, so answers are ranked by words alone: {self.manifest['encoder_problem']}"
            )
        elif state == PENDING:
            lines.append(
                "Answers are ranked by words now; the passage vectors are being encoded, "
                "and answers are ranked by meaning too once they are ready."
            )
        elif state == READY and self.vector_seconds is not None:
            lines.append(self.vector_summary())
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)} file(s) that are not articles:")
            lines.extend(f"  {visible_line(name)}: {visible_line(reason)}" for name, reason in self.skipped)
        return "\n".join(lines)


def synonyms_for(settings: Settings) -> SynonymTable:
    """The shipped general rules, then the corpus's own file."""
    return load_synonyms(default_synonyms_path(), settings.corpus_synonyms)


IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)|import[ \t]+([\w., \t]+))", re.M)


def imported_modules(package: Path, start: str) -> tuple[str, ...]:
    """The source files of `package` that `start` imports, directly or through others, and `start` itself.

    Imports inside functions count too: what the build may run is what the build is. The import
    lines are read with a pattern rather than parsed, which is quick, and errs on the side of more.
    """
    found: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for source, names, plain in IMPORT.findall((package / name).read_text(encoding="utf-8")):
            if source:
                listed = re.findall(r"\w+", names.split("#")[0] if "(" not in names else names)
                targets = [source] + [f"{source}.{n}" for n in listed]
            else:
                targets = [t.strip().split()[0] for t in plain.split(",") if t.strip()]
            for target in targets:
                parts = target.split(".")
                if parts[0] != package.name:
                    continue
                inner = Path(*parts[1:]) if len(parts) > 1 else Path()
                for candidate in (inner.with_suffix(".py") if parts[1:] else None, inner / "__init__.py"):
                    if candidate is not None and (package / candidate).is_file():
                        todo.append(candidate.as_posix())
    return tuple(sorted(found))


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
    """SHA-256 over the source of this bot's indexing pipeline: every module a build imports.

    A change to any of them (an upgrade of the bot) makes existing indexes stale, so they are rebuilt
    instead of served as they were; the list is derived from the imports, so it cannot miss one.
    """
    package = Path(__file__).resolve().parent
    return code_digest(package, imported_modules(package, Path(__file__).name))


def wordnet_folder(settings: Settings) -> Path | None:
    """The WordNet a build reads related words from: the configured folder, else the shipped one."""
    return settings.wordnet_dir or shipped_wordnet_dir()


def encoder_path(settings: Settings) -> Path | None:
    """The sentence model a build encodes passages with: the configured file, else the shipped one."""
    return settings.encoder_model or shipped_model_path()


def vector_problem(settings: Settings) -> str | None:
    """None when the build gets no vectors (turned off), "" when it can, else why the model cannot be used."""
    if not settings.semantic:
        return None
    return unavailable_reason(encoder_path(settings))


def fingerprint_extra(settings: Settings, synonyms_digest: str) -> str:
    """Everything besides the articles that analysing an article depends on (the analysis cache's key)."""
    params = sorted(settings.build.manifest().items())
    return f"{PIPELINE_VERSION}|{pipeline_code_digest()}|{sorted(stopwords())!r}|{params!r}|{synonyms_digest}"


def build_extra(settings: Settings, synonyms_digest: str) -> str:
    """Everything besides the articles that a build depends on: analysis, the WordNet copy, the sentence model."""
    encoder = (
        f"{model_identity(encoder_path(settings))}|{runtime_identity()}|{vector_code_digest()}"
        if settings.semantic
        else "off"
    )
    wordnet = wordnet_identity(wordnet_folder(settings))
    return f"{fingerprint_extra(settings, synonyms_digest)}|wordnet:{wordnet}|encoder:{encoder}"


def expected_fingerprint(settings: Settings, manifest: Manifest | None = None) -> str:
    """The fingerprint a fresh build of the current corpus would have (parses nothing).

    Files whose size and modification time match the manifest's record are not read again.
    """
    known = {}
    for entry in (manifest or {}).get("corpus", {}).get("articles", []):
        if isinstance(entry, dict) and {"bytes", "mtime_ns", "sha256"} <= entry.keys():
            known[str(entry["name"])] = (int(entry["bytes"]), int(entry["mtime_ns"]), str(entry["sha256"]))
    digests = current_digests(settings.corpus_dir, known, settings.max_article_bytes)
    rules = synonyms_digest(default_synonyms_path(), settings.corpus_synonyms)  # no rule parsed: no NLTK imported
    return corpus_fingerprint(digests, build_extra(settings, rules))


def build_index(settings: Settings, progress: Progress | None = None, wait_for_vectors: bool = True) -> BuildReport:
    """Validate the corpus and write a new index; on any error the current index stays as it was.

    Waiting for the vectors, the passages the cache lacks vectors for are encoded before the build is
    written (readers never see it without them). Otherwise the build answers by words as soon as it
    is written, and a background process adds the vectors (bot.vector_build).
    """
    report = guarded_build(settings, progress, only_if_stale=False, encode_first=wait_for_vectors)
    assert report is not None
    return add_vectors(settings, report, progress, wait_for_vectors)


def build_words_first(settings: Settings, progress: Progress | None = None) -> BuildReport:
    """Write the new build (answering by words at once); its passage vectors are left to add_vectors."""
    report = guarded_build(settings, progress, only_if_stale=False)
    assert report is not None
    return report


def add_vectors(settings: Settings, report: BuildReport, progress: Progress | None, wait: bool) -> BuildReport:
    """Encode a words-first build's passage vectors now, or start a background encoder for them."""
    if vectors_state(report.manifest) != PENDING:
        return report
    if not wait:
        start_background(settings.index_dir, encoder_path(settings))
        return report
    started = time.perf_counter()
    encode_pending(settings.index_dir, encoder_path(settings), progress)
    try:
        report.manifest = read_manifest(settings.index_dir)
    except BotError:
        pass
    report.vector_seconds = time.perf_counter() - started
    return report


def build_if_stale(
    settings: Settings, wait_for_vectors: bool = True, progress: Progress | None = None
) -> BuildReport | None:
    """Build unless, once the build lock is held, the index turns out to be current (None then).

    When many processes find the index stale at once, the first builds and the others, having
    waited for its lock, find it current and build nothing.
    """
    report = guarded_build(settings, progress, only_if_stale=True, encode_first=wait_for_vectors)
    return None if report is None else add_vectors(settings, report, progress, wait_for_vectors)


def guarded_build(
    settings: Settings, progress: Progress | None, only_if_stale: bool, encode_first: bool = False
) -> BuildReport | None:
    try:
        return locked_build(settings, progress, only_if_stale, encode_first)
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


def locked_build(
    settings: Settings, progress: Progress | None, only_if_stale: bool, encode_first: bool = False
) -> BuildReport | None:
    started = time.perf_counter()
    with build_lock(settings.index_dir):
        if only_if_stale and index_is_current(settings):
            return None
        removed = remove_temporaries(settings.index_dir)
        if removed:
            log.warning("removed %s temporary file(s) left by a build that did not finish", removed)
        previous = previous_manifest(settings.index_dir)
        synonyms = synonyms_for(settings)
        cache = AnalysisCache(
            settings.index_dir / "analysis-cache.sqlite3", fingerprint_extra(settings, synonyms.digest)
        )
        try:
            articles, skipped = analyse_corpus(
                settings.corpus_dir, settings.max_article_bytes, settings.build.max_words, synonyms, cache, progress
            )
            cache.commit()  # kept even if the build fails later: those articles were analysed
            built = assemble_index(settings, articles, synonyms, cache, previous, progress)
            if encode_first and vectors_state(built.manifest) == PENDING:
                add_vectors_now(built, articles, cache, encoder_path(settings), progress)
            cache.commit()  # the vectors just encoded; drops those of articles no longer in the corpus
            built.manifest["build_seconds"] = round(time.perf_counter() - started, 4)
            if progress:
                progress(0, 1, "writing")
            manifest = write_index(settings.index_dir, built.manifest, built.index)
            if built.roots.keys() != cache.roots().keys():
                cache.store_roots(built.roots)
            if progress:
                progress(1, 1, "writing")
        finally:
            cache.close()
    report = BuildReport(len(articles), len(built.passages), time.perf_counter() - started, manifest, skipped=skipped)
    compare_with(report, previous, manifest["corpus"]["articles"])
    log.info("index built: %s articles, %s passages in %.2fs", report.articles, report.passages, report.seconds)
    return report


def add_vectors_now(
    built: BuiltIndex,
    articles: list[AnalysedArticle],
    cache: AnalysisCache,
    model_path: Path | None,
    progress: Progress | None,
) -> None:
    """Encode the passages the cache lacks vectors for into the build before it is written."""
    vectors, problem = encode_missing(articles, cache, model_path, progress)
    built.index.vectors = vectors
    built.manifest["vectors"] = READY if vectors is not None else "none"
    built.manifest["encoder"] = MODEL_ID if vectors is not None else ""
    if problem:
        log.warning("building without passage vectors (ranking by words alone): %s", problem)
        built.manifest["encoder_problem"] = problem


def assemble_index(
    settings: Settings,
    articles: list[AnalysedArticle],
    synonyms: SynonymTable,
    cache: AnalysisCache,
    previous: Manifest | None,
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
    known_roots = cache.roots()
    roots = {w: known_roots[w] for w in words if w in known_roots}
    new_words = [w for w in words if w not in known_roots]
    # Lancaster roots of new words (slow, per word) in a second process while this one reads WordNet
    pool = fork_pool(1) if len(new_words) >= PARALLEL_ROOTS and can_fork() else None
    pending_roots = pool.submit(lancaster_roots, new_words) if pool is not None else None
    try:
        if progress:
            progress(1, 1, "vocabulary")
        digests = {a.name: a.sha256 for a in articles}
        manifest: Manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "build_id": new_build_id(),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "bm25": settings.build.manifest(),
            "pipeline": PIPELINE_VERSION,
            "pipeline_code_sha256": pipeline_code_digest(),
            "synonyms_sha256": synonyms.digest,
            "corpus": {
                "fingerprint": corpus_fingerprint(digests, build_extra(settings, synonyms.digest)),
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
        wordnet = wordnet_identity(wordnet_folder(settings))
        known = cache.related(wordnet)
        related = related_table(words, set(terms), wordnet_folder(settings), known)
        seen = {w: known[w] for w in words if w in known}
        if seen.keys() != known.keys():  # words came or went: remember this build's words only
            cache.store_related(wordnet, seen)
        if pending_roots is not None and pool is not None:
            roots.update(pending_roots.result())
        else:
            roots.update(lancaster_roots(new_words))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    problem = vector_problem(settings)
    vectors = None
    if problem == "":
        vectors, missing = cached_vectors(articles, cache)
        log.info("%s of %s passages lack their vectors", missing, len(passages))
    elif problem:
        log.warning("building without passage vectors (ranking by words alone): %s", problem)
        manifest["encoder_problem"] = problem
    manifest["vectors"] = READY if vectors is not None else PENDING if problem == "" else "none"
    manifest["encoder"] = MODEL_ID if vectors is not None else ""
    index = SearchIndex(
        manifest=manifest,
        passages=passages,
        terms=terms,
        fields=fields,
        passage_article=passage_article,
        vocabulary=words,
        families=family_table(words, roots, {w: own for w, (own, _) in seen.items()}),
        synonym_rules=synonyms.texts,
        article_df=article_df,
        acronyms=acronyms,
        related=related,
        stems=stem_table(words, synonyms.texts),
        vectors=vectors,
    )
    return BuiltIndex(index, roots)


def stem_table(words: Iterable[str], texts: Iterable[str]) -> dict[str, str]:
    """The stem of every word the articles use, of every word of the synonym rules, and of the stopwords.

    A loaded index hands it to bot.text (remember_stems), so that a question in the articles' words
    is read without importing NLTK (a quarter of a second at start-up).
    """
    table = {word: stem(word) for word in (*words, *stopwords())}
    for text in texts:
        table.update((surface, word_stem) for surface, word_stem, _ in text_words(text))
    return table


def manifest_entry(article: AnalysedArticle) -> ArticleRecord:
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


def previous_manifest(index_dir: Path) -> Manifest | None:
    try:
        return read_manifest(index_dir)
    except BotError:
        return None


def compare_with(report: BuildReport, previous: Manifest | None, current: list[ArticleRecord]) -> None:
    """Fill in which articles were added, changed or removed since `previous`."""
    if previous is None:
        return
    old = {a["name"]: a for a in previous.get("corpus", {}).get("articles", [])}
    new = {a["name"]: a for a in current}
    report.added = sorted(set(new) - set(old))
    report.removed = sorted(set(old) - set(new))
    report.changed = sorted(n for n in set(new) & set(old) if new[n]["sha256"] != old[n].get("sha256"))
    report.passage_delta = report.passages - int(previous.get("counts", {}).get("passages", 0))

"""Keep an index loaded and current: build it when missing or stale, reload it when a new build lands.

The index is swapped in as one immutable snapshot, so a question is answered wholly from the old
index or wholly from the new one. The manifest is checked every few seconds; a new build (from the
shell or from Telegram) is picked up without a restart. Whatever goes wrong on disk, something
servable keeps serving: a stale index when the rebuild fails, the previous build when the current
one is damaged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot.builder import BuildReport, build_if_stale, build_index, encoder_path, index_is_current
from bot.config import Settings
from bot.encoder import MAX_TOKENS, MODEL_ID, SentenceEncoder, load_encoder, unavailable_reason
from bot.errors import BotError, IndexCorruptError, IndexMissingError
from bot.families import WordFamilies
from bot.index_store import MANIFEST, SearchIndex, read_index, read_manifest, read_previous_build
from bot.query import QueryAnalyzer
from bot.retrieval import ArrayRetriever
from bot.search import Searcher
from bot.spelling import SpellingCorrector
from bot.synonyms import synonyms_from_texts
from bot.text import remember_stems, stopwords
from bot.vector_build import PENDING, VectorStatus, encode_pending, start_background, vector_status, vectors_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Everything needed to answer from one index build."""

    index: SearchIndex
    searcher: Searcher
    analyzer: QueryAnalyzer
    stamp: tuple[int, int]


def snapshot_of(index: SearchIndex, settings: Settings, stamp: tuple[int, int]) -> Snapshot:
    """The query side of a loaded index: analyser (with the build's own synonyms), retriever, searcher."""
    remember_stems(index.stems)  # before the rules below are read: a question in the articles' words needs no NLTK
    synonyms = synonyms_from_texts(index.synonym_rules)  # the build's own rules, not the file as it is now
    analyzer = QueryAnalyzer(
        synonyms,
        SpellingCorrector(index.vocabulary, function_words=stopwords()),
        set(index.terms),
        index.title_terms(),
        settings.ranking,
        WordFamilies(index.families),
        index.acronyms,
        index.related,
        lambda: (t for p in index.passages for t in (p.section, p.subsection) if t),
    )
    retriever = ArrayRetriever(index, settings.ranking)
    return Snapshot(
        index, Searcher(index.passages, retriever, settings.ranking, query_encoder(index, settings)), analyzer, stamp
    )


def query_encoder(index: SearchIndex, settings: Settings) -> SentenceEncoder | None:
    """The sentence model for questions, when the index holds vectors made by it and ranking by meaning is on."""
    if index.vectors is None or not settings.semantic:
        return None
    if index.manifest.get("encoder") != MODEL_ID:
        log.warning(
            "the index's passage vectors come from %r, not %s: ranking by words alone",
            index.manifest.get("encoder"),
            MODEL_ID,
        )
        return None
    problem = unavailable_reason(settings.encoder_model)
    if problem:
        log.warning("ranking by words alone: %s", problem)
        return None
    return PreloadedEncoder(settings.encoder_model)


class PreloadedEncoder(SentenceEncoder):
    """The sentence model, loading in a thread from the moment the index is opened; encode() waits for it.

    Loading onnxruntime and the model takes most of a cold start; meanwhile the process reads the
    index and the question. A model that fails to load raises from encode(), which the searcher
    answers by words alone.
    """

    def __init__(self, model_path: Path | None) -> None:  # the real encoder is made by the thread
        self.identity = MODEL_ID
        self._loaded: SentenceEncoder | None = None
        self._error: BaseException | None = None
        # not a daemon: the process waits for the load at exit (onnxruntime aborts if torn down mid-load)
        self._thread = threading.Thread(target=self._load, args=(model_path,), name="load-encoder", daemon=False)
        self._thread.start()

    def _load(self, model_path: Path | None) -> None:
        try:
            self._loaded = load_encoder(model_path)
        except BaseException as exc:  # kept for encode() to raise in the asking thread
            self._error = exc

    def encoder(self) -> SentenceEncoder:
        self._thread.join()
        if self._loaded is None:
            raise self._error or RuntimeError("the sentence model did not load")
        return self._loaded

    def encode(self, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
        return self.encoder().encode(texts, max_tokens)

    def encode_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        return self.encoder().encode_ids(sequences)


class EncodingNotes:
    """A build's progress as log notes, one per tenth of the passage vectors encoded (the rest is quick)."""

    def __init__(self) -> None:
        self.tenth = -1

    def __call__(self, done: int, total: int, label: str) -> None:
        if label != "encoding" or not total:
            return
        tenth = 10 * done // total
        if tenth != self.tenth:
            self.tenth = tenth
            log.warning("encoding passage vectors: %s%% (%s of %s passages)", 10 * tenth, f"{done:,}", f"{total:,}")


class LiveIndex:
    """The current snapshot of one index folder, built, rebuilt and reloaded as needed."""

    def __init__(self, settings: Settings, auto_build: bool = True) -> None:
        self.settings = settings
        self.auto_build = auto_build
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._reload_lock = threading.Lock()
        self._shown_tenth = -1  # the last tenth of the vector encoding reported

    def manifest_stamp(self) -> tuple[int, int]:
        try:
            st = os.stat(self.settings.index_dir / MANIFEST)
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_ino)

    def open(self) -> Snapshot:
        """Load the index, building it first when it is missing or older than the corpus.

        When builds wait for their vectors (background vectors off), a current build whose vectors
        are still pending (its encoder was killed, or another process built it by words first) gets
        them now, so that it is not served by words alone.
        """
        if self.auto_build:
            self.rebuild_if_needed()
            if self.wait_for_vectors() and self.settings.semantic and self.vectors_pending():
                encode_pending(self.settings.index_dir, encoder_path(self.settings), EncodingNotes())
        return self.reload()

    def vectors_pending(self) -> bool:
        """Does the current build on disk still wait for its passage vectors?"""
        try:
            return vectors_state(read_manifest(self.settings.index_dir)) == PENDING
        except BotError:
            return False

    def rebuild_if_needed(self) -> BuildReport | None:
        """Build a missing or stale index; a stale or damaged one that exists keeps serving if that fails."""
        try:
            read_manifest(self.settings.index_dir)
        except IndexMissingError:
            log.warning("no index in %s yet; building it now", self.settings.index_dir)
            return self.build()
        except IndexCorruptError as exc:
            log.warning("the index manifest cannot be read (%s); rebuilding the index", exc.problem)
        else:
            if index_is_current(self.settings):
                return None
            log.warning(
                "the articles, synonyms, settings or indexing code changed since the index was built; rebuilding it now"
            )
        try:
            # None when another process rebuilt it meanwhile
            return build_if_stale(self.settings, self.wait_for_vectors(), EncodingNotes())
        except BotError as exc:
            log.error("the index could not be rebuilt (%s); answering from the index on disk", exc)
            return None

    def wait_for_vectors(self) -> bool:
        return not self.settings.background_vectors

    def build(self) -> BuildReport:
        """Build now; wait for the passage vectors (noting progress) only when they are not left to the background."""
        return build_index(self.settings, EncodingNotes(), self.wait_for_vectors())

    def load(self) -> SearchIndex:
        """The current build; when it is damaged, a fresh build (if allowed) or else the previous one."""
        try:
            return read_index(self.settings.index_dir)
        except IndexCorruptError as exc:
            if self.auto_build:
                log.warning("the current index build is damaged (%s); rebuilding it", exc.problem)
                try:
                    self.build()
                    return read_index(self.settings.index_dir)
                except BotError as failed:
                    log.warning("the rebuild failed too (%s)", failed)
            try:
                index = read_previous_build(self.settings.index_dir)
            except IndexCorruptError:
                raise exc from None
            log.warning(
                "the current index build is damaged (%s); answering from the previous build %s until it is rebuilt",
                exc.problem,
                index.build_id,
            )
            return index

    def reload(self) -> Snapshot:
        """Load the index from disk and swap it in."""
        stamp = self.manifest_stamp()
        index = self.load()
        snapshot = snapshot_of(index, self.settings, stamp)
        previous = self._snapshot
        self._snapshot = snapshot
        if previous is not None and previous.index.build_id != index.build_id:
            log.info("now serving index build %s (%s passages)", index.build_id, len(index.passages))
            if previous.index.vectors is None and index.vectors is not None:
                log.warning("passage vectors ready: answers are ranked by meaning too from now on")
        self.follow_vectors(index)
        return snapshot

    def follow_vectors(self, index: SearchIndex) -> None:
        """A build still waiting for its passage vectors: make sure an encoder runs, and show how far it got."""
        if vectors_state(index.manifest) != PENDING or not self.settings.semantic:
            return
        started = self.auto_build and start_background(self.settings.index_dir, encoder_path(self.settings))
        status = self.vector_status()
        if status is not None:
            status = replace(status, running=status.running or started)
            tenth = status.percent // 10
            if tenth != self._shown_tenth:
                self._shown_tenth = tenth
                log.warning("%s", status.describe())

    def vector_status(self) -> VectorStatus | None:
        """How far the encoding of the current build's passage vectors has got; None when none is under way.

        For the interfaces (Telegram's /articles, the REPL): `status.describe()` is one line for people.
        """
        return vector_status(self.settings.index_dir)

    def snapshot(self) -> Snapshot:
        """The snapshot to answer from, reloading first when the manifest changed on disk."""
        snapshot = self._snapshot or self.open()
        now = time.monotonic()
        if now - self._checked_at >= self.settings.reload_seconds and self._reload_lock.acquire(blocking=False):
            try:
                self._checked_at = now
                if self.manifest_stamp() != snapshot.stamp:
                    snapshot = self.reload()
                elif snapshot.index.vectors is None:
                    self.follow_vectors(snapshot.index)
            except BotError as exc:
                log.error("new index could not be loaded, still serving the previous one: %s", exc)
            finally:
                self._reload_lock.release()
        return snapshot

    def rebuild(self) -> BuildReport:
        """Rebuild from the corpus now and serve the new index (raises BotError; old index stays).

        The new index answers by words at once; its passage vectors follow in the background.
        """
        report = self.build()
        self.reload()
        return report

"""The answering core every interface shares: keeps the current index loaded and answers questions.

The index is swapped in as one immutable snapshot, so a question is answered wholly from the
old index or wholly from the new one. The manifest is checked every few seconds; a new build
(from the shell or from Telegram) is picked up without a restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Hashable, Sequence

from bot.answers import EMPTY_QUESTION, NOTHING_FOUND, Answer, result_of
from bot.builder import BuildReport, build_index, expected_fingerprint
from bot.synonyms import synonyms_from_texts
from bot.config import Settings
from bot.conversation import Conversations
from bot.errors import BotError, CorpusError, IndexCorruptError, IndexMissingError
from bot.families import WordFamilies
from bot.index_store import MANIFEST, SearchIndex, read_index, read_manifest
from bot.query import QueryAnalyzer, has_follow_up_cue
from bot.retrieval import ArrayRetriever
from bot.search import Searcher
from bot.spelling import SpellingCorrector
from bot.text import tokenize

log = logging.getLogger(__name__)

MAX_RESULTS = 10


@dataclass(frozen=True)
class Snapshot:
    """Everything needed to answer from one index build."""

    index: SearchIndex
    searcher: Searcher
    analyzer: QueryAnalyzer
    stamp: tuple[int, int]


class Engine:
    """Loads (and if needed builds) the index, reloads it when it changes, answers questions."""

    def __init__(self, settings: Settings, auto_build: bool = True) -> None:
        self.settings = settings
        self.auto_build = auto_build
        self.conversations = Conversations(settings.context_ttl_seconds)
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._reload_lock = threading.Lock()

    # ----- index lifecycle -------------------------------------------------------------
    def manifest_stamp(self) -> tuple[int, int]:
        try:
            st = os.stat(self.settings.index_dir / MANIFEST)
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_ino)

    def open(self) -> Snapshot:
        """Load the index, building it first when it is missing or older than the corpus."""
        if self.auto_build:
            self.rebuild_if_needed()
        return self.reload()

    def rebuild_if_needed(self) -> BuildReport | None:
        """Rebuild a missing or stale index; keep a stale one serving if the rebuild fails."""
        try:
            current = read_manifest(self.settings.index_dir)
        except IndexMissingError:
            log.warning("no index in %s; building it now", self.settings.index_dir)
            return build_index(self.settings)
        except IndexCorruptError as exc:
            log.warning("index is unreadable (%s); rebuilding it now", exc)
            return build_index(self.settings)
        try:
            stale = current.get("corpus", {}).get("fingerprint") != expected_fingerprint(self.settings)
        except CorpusError as exc:
            log.warning("cannot check the corpus (%s); serving the existing index", exc)
            return None
        if not stale:
            return None
        log.warning("corpus, settings or indexing code changed since the index was built; rebuilding it now")
        try:
            return build_index(self.settings)
        except BotError as exc:
            log.error("rebuild failed, still serving the previous index: %s", exc)
            return None

    def reload(self) -> Snapshot:
        """Load the current index from disk and swap it in."""
        stamp = self.manifest_stamp()
        index = read_index(self.settings.index_dir)
        synonyms = synonyms_from_texts(index.synonym_rules)  # the build's own rules, not the file as it is now
        speller = SpellingCorrector(index.vocabulary)
        known = set(index.terms)
        families = WordFamilies(index.families)
        analyzer = QueryAnalyzer(synonyms, speller, known, index.title_terms(), self.settings.ranking, families)
        retriever = ArrayRetriever(index, self.settings.ranking)
        snapshot = Snapshot(index, Searcher(index.passages, retriever, self.settings.ranking), analyzer, stamp)
        previous = self._snapshot
        self._snapshot = snapshot
        if previous is not None and previous.index.build_id != index.build_id:
            log.info("now serving index build %s (%s passages)", index.build_id, len(index.passages))
        return snapshot

    def snapshot(self) -> Snapshot:
        """The snapshot to answer from, reloading first when the manifest changed on disk."""
        snapshot = self._snapshot or self.open()
        now = time.monotonic()
        if now - self._checked_at >= self.settings.reload_seconds and self._reload_lock.acquire(blocking=False):
            try:
                self._checked_at = now
                if self.manifest_stamp() != snapshot.stamp:
                    snapshot = self.reload()
            except BotError as exc:
                log.error("new index could not be loaded, still serving the previous one: %s", exc)
            finally:
                self._reload_lock.release()
        return snapshot

    def rebuild(self) -> BuildReport:
        """Rebuild from the corpus now and serve the new index (raises BotError; old index stays)."""
        report = build_index(self.settings)
        self.reload()
        return report

    # ----- answering -------------------------------------------------------------------
    def answer(self, question: str, conversation: Hashable | None = None, limit: int = MAX_RESULTS) -> Answer:
        """Answer one question, as a turn of `conversation` when given."""
        question = clean_question(question)
        snap = self.snapshot()
        previous = self.conversations.previous(conversation)
        query = snap.analyzer.analyse(question, previous)
        if not query.own_concepts() and not (query.follow_up and has_cue(question)):
            return Answer(question, "", message=EMPTY_QUESTION.format(examples=self.example_text(snap)))
        hits = snap.searcher.search(query, limit)
        results = tuple(result_of(hit) for hit in hits)
        if results:
            self.conversations.remember(conversation, query.concepts)
        return Answer(question, query.text, results, "" if results else NOTHING_FOUND, query.corrections, query.follow_up)

    def reset(self, conversation: Hashable) -> None:
        self.conversations.reset(conversation)

    def example_text(self, snap: Snapshot) -> str:
        return "; ".join(f'"{q}"' for q in example_questions(snap.index, 2))

    def sections(self) -> list[tuple[str, list[str]]]:
        """(article title, its section titles) for every indexed article."""
        return [(a["title"], list(a.get("sections", []))) for a in self.snapshot().index.articles()]

    def topics(self, n: int = 3) -> list[str]:
        """Up to n covered section titles, to suggest when nothing matched."""
        return spread_topics(self.sections(), n)

    def examples(self, n: int = 3) -> list[str]:
        return example_questions(self.snapshot().index, n)


def has_cue(question: str) -> bool:
    """Does a question without content words still point back ("what about it?")?"""
    return has_follow_up_cue(tokenize(question[:200]))


def clean_question(question: str) -> str:
    """Drop control characters and surrounding space; keep the text otherwise as typed."""
    return "".join(ch if ch.isprintable() or ch in "\t\n" else " " for ch in question).strip()


GENERIC_SECTIONS = frozenset({"introduction", "conclusion", "summary", "overview", "table of contents"})


def spread_topics(sections: Sequence[tuple[str, Sequence[str]]], n: int) -> list[str]:
    """Up to n section titles spread evenly over the corpus, skipping introductions and the like."""
    titles = [s for title, secs in sections for s in secs if s != title and s.strip().lower() not in GENERIC_SECTIONS]
    if not titles:
        titles = [title for title, _ in sections]
    if len(titles) <= n:
        return list(titles)
    step = len(titles) / n
    return [titles[int(step * k + step / 2)] for k in range(n)]


def example_questions(index: SearchIndex, n: int) -> list[str]:
    """Questions built from section titles spread across the corpus (never hard-coded)."""
    sections = [(a["title"], list(a.get("sections", []))) for a in index.articles()]
    return [f"Tell me about {short_topic(t)}" for t in spread_topics(sections, n)]


def short_topic(title: str) -> str:
    """'Vitamin D3: The Foundation' -> 'Vitamin D3'; 'Optimal Dosage' -> 'optimal dosage'."""
    topic = title.split(":")[0].strip()
    words = [w if any(c.isdigit() for c in w) or w.isupper() else w.lower() for w in topic.split()]
    return " ".join(words)

"""The answering core every interface shares: a question in, an Answer out.

It reads the question (query analysis), asks the live index's searcher, and keeps each
conversation's context for follow-ups. Keeping the index loaded and current is bot.live_index's job.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence

from bot.answers import EMPTY_QUESTION, NOTHING_FOUND, Answer, nearest_topics, never_mentioned, result_of
from bot.builder import BuildReport
from bot.config import Settings
from bot.conversation import Conversations
from bot.index_store import SearchIndex
from bot.live_index import LiveIndex, Snapshot
from bot.models import Passage
from bot.query import Concept, Query, has_follow_up_cue, starts_follow_up
from bot.ranking.explain import explain
from bot.search import SearchResult
from bot.text import tokenize

log = logging.getLogger(__name__)

MAX_RESULTS = 10
NEAREST_TOPICS = 2  # section titles named when nothing answers


class Engine:
    """The answering core: answers questions from the live index, within conversations."""

    def __init__(self, settings: Settings, auto_build: bool = True) -> None:
        self.settings = settings
        self.live = LiveIndex(settings, auto_build)
        self.conversations = Conversations(settings.context_ttl_seconds)

    def open(self) -> Snapshot:
        """Load the index (building it first when missing or stale); see LiveIndex.open."""
        return self.live.open()

    def snapshot(self) -> Snapshot:
        return self.live.snapshot()

    def rebuild(self) -> BuildReport:
        """Rebuild from the corpus now and serve the new index (raises BotError; old index stays)."""
        return self.live.rebuild()

    # ----- answering -------------------------------------------------------------------
    def answer(self, question: str, conversation: Hashable | None = None, limit: int = MAX_RESULTS) -> Answer:
        """Answer one question, as a turn of `conversation` when given."""
        question = clean_question(question)
        snap = self.snapshot()
        build = snap.index.build_id
        previous = self.conversations.previous(conversation, build)
        query = snap.analyzer.analyse(question, previous)
        if not query.own_concepts() and not (query.follow_up and has_cue(question)):
            return Answer(question, "", message=EMPTY_QUESTION.format(examples=self.example_text(snap)))
        ranking = self.rank(snap, question, query, limit)
        query = ranking.query
        results = tuple(result_of(hit) for hit in ranking.hits)
        confidence = ranking.best_probability
        if results:
            self.conversations.remember(conversation, query.concepts, build)
            return Answer(question, query.text, results, "", query.corrections, query.follow_up, (), confidence)
        unknown = tuple(c.label for c in snap.searcher.unknown_concepts(query.own_concepts()))
        message = " ".join(
            filter(
                None,
                (
                    NOTHING_FOUND,
                    never_mentioned(unknown),
                    nearest_topics(near_headings(ranking, snap.searcher.passages)),
                ),
            )
        )
        return Answer(question, query.text, (), message, query.corrections, query.follow_up, unknown, confidence)

    def rank(self, snap: Snapshot, question: str, query: Query, limit: int, keep_all: bool = False) -> SearchResult:
        """Rank for the query; a follow-up that does not open with "and", "what about"... keeps its topic on evidence.

        Such a message ("how much should i take", "any other minerals that help bones") is ranked
        both with and without the carried topic, and the topic is kept only when it makes the best
        answer more probable: a self-contained new question is not dragged to the previous topic.
        """
        ranking = snap.searcher.rank(query, limit, keep_all)
        if query.follow_up and not starts_follow_up(tokenize(question[:200])):
            alone = snap.analyzer.analyse(question, ())
            if alone.concepts:
                own = snap.searcher.rank(alone, limit, keep_all)
                if own.best_probability >= ranking.best_probability:
                    return own
        return ranking

    def explain(
        self,
        question: str,
        conversation: Hashable | None = None,
        limit: int = 5,
        previous: tuple[Concept, ...] | None = None,
    ) -> list[str]:
        """How `question` is ranked (as the next turn of `conversation`, or after `previous`); takes no turn."""
        question = clean_question(question)
        snap = self.snapshot()
        if previous is None:
            previous = self.conversations.previous(conversation)
        query = snap.analyzer.analyse(question, previous)
        ranking = self.rank(snap, question, query, limit, keep_all=True)
        header = f"searched: {ranking.query.text or '(nothing)'}" + (" (follow-up)" if ranking.query.follow_up else "")
        lines = [header, *explain(ranking, limit)]
        for place, hit in enumerate(ranking.hits[:limit], 1):
            p = hit.passage
            lines.append(f"[{place}] = {p.section}{' › ' + p.subsection if p.subsection else ''} ({p.source})")
        return lines

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


def near_headings(ranking: SearchResult, passages: Sequence[Passage], n: int = NEAREST_TOPICS) -> list[str]:
    """The section titles of the best-scored candidates (below the answer threshold), distinct, at most n."""
    if ranking.features is None:
        return []
    seen: list[str] = []
    for row in ranking.order.tolist():
        passage = passages[int(ranking.features.candidates.doc_ids[row])]
        heading = passage.subsection or passage.section
        if heading and heading not in seen:
            seen.append(heading)
        if len(seen) >= n:
            break
    return seen


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

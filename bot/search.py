"""Decide which ranked passages answer a Query: coverage of the question, and the best sentence.

The retriever (:mod:`bot.retrieval`) ranks passages; this module looks only at the top few
(`POOL`), so its cost does not grow with the corpus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from bot.config import Ranking
from bot.models import Passage
from bot.query import Concept, Query
from bot.retrieval import Retriever
from bot.text import split_sentences, tokenize

POOL = 50  # ranked passages checked for coverage


class Hit(NamedTuple):
    """A ranked passage: its index, score, the share of the question it covers, the stems it matched."""

    doc_id: int
    passage: Passage
    score: float
    coverage: float
    matched: frozenset[str]
    sentence: str = ""


@dataclass
class Searcher:
    """Ranks the passages of one loaded index and keeps those that answer the question."""

    passages: list[Passage]
    retriever: Retriever
    ranking: Ranking

    def idf(self, stem: str) -> float:
        """IDF over passages; a term the index has never seen counts as the rarest possible."""
        n = len(self.passages)
        return math.log((n + 1) / max(self.retriever.passage_frequency(stem), 0.5))

    def search(self, query: Query, limit: int = 10) -> list[Hit]:
        """Passages ranked by score, keeping only those that cover enough of the question."""
        if not query.concepts or not self.passages:
            return []
        ranked = self.retriever.rank(query.concepts, max(limit, POOL))
        if not len(ranked.doc_ids):
            return []
        held = {s: self.retriever.holds(ranked.doc_ids, s) for c in query.concepts for a in c.alternatives for s in a.stems}
        mass = self.question_mass(query) / math.log(len(self.passages) + 1)
        hits: list[Hit] = []
        for row, (doc_id, score) in enumerate(zip(ranked.doc_ids.tolist(), ranked.scores.tolist())):
            present = {s for s, flags in held.items() if flags[row]}
            matched: set[str] = set()
            coverage = self.coverage_of(query, present, matched)
            if coverage >= self.ranking.min_coverage or coverage * mass >= self.ranking.min_evidence:
                passage = self.passages[doc_id]
                sentence, _ = self.best_sentence(passage.text, query)
                hits.append(Hit(doc_id, passage, score, coverage, frozenset(matched), sentence))
                if len(hits) >= limit:
                    break
        return hits

    def concept_share(self, concept: Concept, present: set[str], matched: set[str] | None = None) -> float:
        """How much of a concept `present` holds: the best alternative's IDF-weighted share."""
        share = 0.0
        for alternative in concept.alternatives:
            hit = [s for s in alternative.stems if s in present]
            if not hit and alternative.covers and present.intersection(alternative.covers):
                hit = list(alternative.stems)  # a group member is present (sentence level)
            if matched is not None:
                matched.update(s for s in hit if s not in alternative.covers)
                if hit and alternative.covers:
                    matched.update(s for s in alternative.covers if s in present)
            if alternative.stems:
                part = min(1.0, alternative.weight) * sum(self.idf(s) for s in hit) / sum(self.idf(s) for s in alternative.stems)
                share = max(share, part)
        return share

    def question_mass(self, query: Query) -> float:
        """The question's IDF mass: what coverage is a share of."""
        return sum(c.weight * sum(self.idf(s) for s in c.typed.stems) for c in query.concepts)

    def coverage_of(self, query: Query, present: set[str], matched: set[str] | None = None) -> float:
        """IDF-weighted share of the question's concepts found among `present` stems.

        A concept counts by its best alternative, in proportion to the IDF of the stems of that
        alternative that are present. Words the corpus never uses weigh the most, so a question
        about something the articles do not cover scores low whatever else matches.
        """
        total = found = 0.0
        for concept in query.concepts:  # question_mass, term by term
            mass = concept.weight * sum(self.idf(s) for s in concept.typed.stems)
            total += mass
            found += mass * self.concept_share(concept, present, matched)
        return found / total if total else 0.0

    def best_sentence(self, text: str, query: Query) -> tuple[str, float]:
        """The sentence (or list item) of `text` that holds the most of the question, and that share."""
        best, best_share = "", -1.0
        for sentence in split_sentences(text):
            share = self.coverage_of(query, {t.stem for t in tokenize(sentence) if not t.stop})
            if share > best_share:
                best, best_share = sentence, share
        return best.lstrip("• ").strip(), max(best_share, 0.0)

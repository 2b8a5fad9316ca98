"""Score passages for a Query with rank-bm25 over two fields, and judge whether they answer it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bot.config import Ranking
from bot.index_store import SearchIndex
from bot.models import Passage
from bot.query import Concept, Query
from bot.text import split_sentences, tokenize


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
    """Ranks the passages of one loaded index."""

    index: SearchIndex
    ranking: Ranking

    def term_scores(self, stem: str) -> dict[int, float]:
        """BM25 score of one term in every passage that holds it (body plus weighted title)."""
        scores: dict[int, float] = {}
        for field, weight in ((self.index.body, 1.0), (self.index.title, self.ranking.title_weight)):
            doc_ids = field.postings.get(stem)
            if not doc_ids or weight <= 0:
                continue
            values = field.model.get_batch_scores([stem], doc_ids)
            for doc_id, value in zip(doc_ids, values):
                scores[doc_id] = scores.get(doc_id, 0.0) + weight * value
        return scores

    def idf(self, stem: str) -> float:
        """IDF on the body field; a term the index has never seen counts as the rarest possible."""
        n = len(self.index.passages)
        df = len(self.index.body.postings.get(stem, ())) or len(self.index.title.postings.get(stem, ()))
        return math.log((n + 1) / max(df, 0.5))

    def concept_scores(self, concept: Concept) -> dict[int, float]:
        """Best alternative per passage: an alternative's terms add up, alternatives compete."""
        best: dict[int, float] = {}
        for alternative in concept.alternatives:
            summed: dict[int, float] = {}
            for stem in alternative.stems:
                for doc_id, value in self.term_scores(stem).items():
                    summed[doc_id] = summed.get(doc_id, 0.0) + value
            for doc_id, value in summed.items():
                value *= alternative.weight
                if self.ranking.combine == "sum":
                    best[doc_id] = best.get(doc_id, 0.0) + value
                elif value > best.get(doc_id, 0.0):
                    best[doc_id] = value
        return best

    def search(self, query: Query, limit: int = 10) -> list[Hit]:
        """Passages ranked by score, keeping only those that cover enough of the question."""
        if not query.concepts or not self.index.passages:
            return []
        totals = np.zeros(len(self.index.passages))
        for concept in query.concepts:
            for doc_id, value in self.concept_scores(concept).items():
                totals[doc_id] += concept.weight * value
        order = [int(i) for i in np.argsort(-totals, kind="stable") if totals[i] > 0]
        hits: list[Hit] = []
        for doc_id in order:
            coverage, matched = self.coverage(query, doc_id)
            if coverage >= self.ranking.min_coverage:
                passage = self.index.passages[doc_id]
                sentence, _ = self.best_sentence(passage.text, query)
                hits.append(Hit(doc_id, passage, float(totals[doc_id]), coverage, matched, sentence))
                if len(hits) >= limit:
                    break
        return hits

    def passage_stems(self, doc_id: int) -> set[str]:
        return set(self.index.body.stats.doc_freqs[doc_id]) | set(self.index.title.stats.doc_freqs[doc_id])

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

    def coverage_of(self, query: Query, present: set[str], matched: set[str] | None = None) -> float:
        """IDF-weighted share of the question's concepts found among `present` stems.

        A concept counts by its best alternative, in proportion to the IDF of the stems of that
        alternative that are present. Words the corpus never uses weigh the most, so a question
        about something the articles do not cover scores low whatever else matches.
        """
        total = found = 0.0
        for concept in query.concepts:
            mass = concept.weight * sum(self.idf(s) for s in concept.typed.stems)
            total += mass
            found += mass * self.concept_share(concept, present, matched)
        return found / total if total else 0.0

    def coverage(self, query: Query, doc_id: int) -> tuple[float, frozenset[str]]:
        """Coverage of a passage (text and titles), and the stems it matched (for highlighting)."""
        matched: set[str] = set()
        coverage = self.coverage_of(query, self.passage_stems(doc_id), matched)
        return coverage, frozenset(matched)

    def best_sentence(self, text: str, query: Query) -> tuple[str, float]:
        """The sentence (or list item) of `text` that holds the most of the question, and that share."""
        best, best_share = "", -1.0
        for sentence in split_sentences(text):
            share = self.coverage_of(query, {t.stem for t in tokenize(sentence) if not t.stop})
            if share > best_share:
                best, best_share = sentence, share
        return best.lstrip("• ").strip(), max(best_share, 0.0)

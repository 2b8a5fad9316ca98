"""Score passages for a weighted query: the retriever seam, and its in-process numpy implementation.

A query is a list of concepts (see :mod:`bot.query`). A concept scores a passage by its best
alternative (a disjunction-max, as OpenSearch's ``dis_max``), an alternative by the sum of its
terms, and the passage's score is the weighted sum over concepts. Each term's score is the sum of
its BM25 weights in the passage's fields: the text, the section titles and the article title.

:class:`Retriever` is the small interface the answering core needs; :class:`ArrayRetriever`
implements it over the index's CSR arrays, so the cost of a question grows with the postings its
terms touch, not with the size of the corpus. Another engine (OpenSearch or Elasticsearch BM25
over the same fields, for a corpus past one machine, with the vectors in a dense-vector field) can
implement the same eight methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

import numpy as np

from bot import bm25
from bot.config import Ranking
from bot.index_store import SearchIndex
from bot.indexing import ARTICLE_FIELDS, FieldArrays
from bot.query import Alternative, Concept

CACHE_TERMS = 4096
FEW_ARTICLES = 3  # up to this many articles, article-level IDF can hardly tell articles apart
DENSE_FACTOR = 16  # a concept whose postings exceed 1/16 of the passages is combined in dense arrays
EMPTY_IDS = np.zeros(0, dtype=np.int32)
EMPTY_VALUES = np.zeros(0, dtype=np.float64)


class Ranked(NamedTuple):
    """Passage ids, best first, and their scores."""

    doc_ids: np.ndarray
    scores: np.ndarray


class Retriever(Protocol):
    """What the answering core asks of a search engine."""

    def rank(self, concepts: Sequence[Concept], limit: int) -> Ranked:
        """The `limit` best passages for the concepts (only passages that match at all)."""
        ...

    def holds(self, doc_ids: np.ndarray, term: str) -> np.ndarray:
        """For each passage id, whether it holds `term` in any field."""
        ...

    def passage_frequency(self, term: str) -> int:
        """How many passages hold `term` in any field (0 for a term the index lacks)."""
        ...

    def article_holds(self, doc_ids: np.ndarray, term: str) -> np.ndarray:
        """For each passage id, whether its article holds `term` anywhere (text, section titles or title)."""
        ...

    def article_frequency(self, term: str) -> tuple[int, int]:
        """(articles that hold `term` anywhere, articles in all)."""
        ...

    def title_frequency(self, term: str) -> tuple[int, int]:
        """(articles whose title holds `term`, articles in all)."""
        ...

    def section_title_frequency(self, term: str) -> tuple[int, int]:
        """(articles with a section or subsection title that holds `term`, not counting their own title; articles in
        all)."""
        ...

    def passage_vectors(self, doc_ids: np.ndarray) -> np.ndarray | None:
        """The stored sentence vectors of these passages (float32 rows), or None when the index has none."""
        ...

    def has_vectors(self) -> bool:
        """Does the index hold a sentence vector for every passage?"""
        ...

    def nearest(self, vector: np.ndarray, limit: int) -> Ranked:
        """The `limit` passages closest to `vector` by cosine, best first (none without vectors)."""
        ...

    def word_scores(self, concepts: Sequence[Concept], doc_ids: np.ndarray) -> np.ndarray:
        """The word score `rank` gives each of these passages (0 for a passage that matches nothing)."""
        ...


@dataclass(frozen=True)
class WeightedField:
    """A field's postings with their BM25 weights already multiplied by the field's weight."""

    indptr: np.ndarray
    docs: np.ndarray
    weights: np.ndarray
    per_article: bool


def weighted_field(
    arrays: FieldArrays,
    ranking: Ranking,
    weight: float,
    per_article: bool,
    local_idf: np.ndarray | None = None,
    article_variant: str = "okapi",
) -> WeightedField:
    """A field's postings with BM25 weights; article fields drop the postings that weigh nothing.

    Article titles are scored with Okapi IDF floored at zero: a word in every article's title (any
    word of the title of a one-article corpus) tells the articles apart no better than no word.
    """
    if not per_article:
        if local_idf is not None and ranking.article_idf_weight > 0:
            term_idf = np.repeat(bm25.idf(arrays, ranking.variant), arrays.document_frequency())
            blended = ((1 - ranking.article_idf_weight) * term_idf + ranking.article_idf_weight * local_idf).astype(
                np.float32
            )
            impacts = blended * bm25.saturation(arrays, ranking.variant, ranking.k1, ranking.b, ranking.delta)
        else:
            impacts = bm25.impacts(arrays, ranking.variant, ranking.k1, ranking.b, ranking.delta)
        return WeightedField(arrays.indptr, arrays.docs, impacts * np.float32(weight), False)
    impacts = bm25.impacts(arrays, article_variant, ranking.k1, ranking.b, 0.0, epsilon=0.0)
    keep = impacts > 0
    n_terms = len(arrays.indptr) - 1
    term_of = np.repeat(np.arange(n_terms), arrays.document_frequency())
    indptr = np.zeros_like(arrays.indptr)
    np.cumsum(np.bincount(term_of[keep], minlength=n_terms), out=indptr[1:])
    return WeightedField(indptr, arrays.docs[keep], impacts[keep] * np.float32(weight), True)


def article_idf_share(ranking: Ranking, articles: int) -> float:
    """The share of a term's IDF taken within its own article, for a corpus of `articles` articles.

    Taking IDF within the article lets the words that pick a section outweigh the article's topic
    words ("cheese" over "K2" inside the K2 article), but it also makes an article's own topic
    word weigh almost nothing inside it. That is safe only when the article title and
    whole-article fields can pick the article, which needs enough articles for their IDF to mean
    something: with three articles a word in one of them has an Okapi IDF of 0.5, with 150 of 4.6.
    So the share grows from `article_idf_weight` at three articles or fewer towards
    `article_idf_weight_many` (0.2 + 0.3 * (1 - 3 / n): 0.41 at 10 articles, 0.49 at 150).
    """
    few, many = ranking.article_idf_weight, ranking.article_idf_weight_many
    return few + (many - few) * max(0.0, 1 - FEW_ARTICLES / max(articles, 1))


class ArrayRetriever:
    """BM25 over the index's numpy arrays, vectorised over each term's postings."""

    def __init__(self, index: SearchIndex, ranking: Ranking) -> None:
        self.size = len(index.passages)
        self.term_ids = {term: i for i, term in enumerate(index.terms)}
        field_weights = {"body": 1.0, "heading": ranking.heading_weight, "title": ranking.article_title_weight}
        counts = np.bincount(index.passage_article, minlength=len(index.articles())).astype(np.int64)
        ranking = replace(ranking, article_idf_weight=article_idf_share(ranking, len(counts)))
        self.fields: list[WeightedField] = []
        for name, arrays in index.fields.items():
            weight = field_weights.get(name, 0.0)
            if weight > 0:
                b = ranking.heading_b if name == "heading" else ranking.b
                per_article = name in ARTICLE_FIELDS
                local = (
                    None
                    if per_article or ranking.article_idf_weight <= 0
                    else bm25.article_idf(arrays, index.passage_article, counts, index.article_df[name])
                )
                self.fields.append(weighted_field(arrays, replace(ranking, b=b), weight, per_article, local))
        article_text = bm25.article_text_field(index.fields["body"], index.passage_article, len(counts))
        self.article_text = article_text
        self.article_title = index.fields["title"]
        self.article_headings = bm25.article_text_field(index.fields["heading"], index.passage_article, len(counts))
        self.passage_article = index.passage_article
        self.vectors = None if index.vectors is None else np.ascontiguousarray(index.vectors, dtype=np.float32)
        if ranking.article_text_weight > 0:
            whole = weighted_field(
                article_text,
                replace(ranking, b=ranking.article_text_b),
                ranking.article_text_weight,
                True,
                article_variant=ranking.article_text_variant,
            )
            self.fields.append(whole)
        self.passage_fields = [f for f in self.fields if not f.per_article]
        self.article_start = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        self.article_length = counts
        self._postings: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._docs: dict[str, np.ndarray] = {}

    # ----- postings --------------------------------------------------------------------------
    def expand_articles(self, articles: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Article postings as passage postings: every passage of each article gets its weight."""
        lengths = self.article_length[articles]
        total = int(lengths.sum())
        if total == 0:
            return EMPTY_IDS, EMPTY_VALUES
        offsets = np.repeat(self.article_start[articles] - (np.cumsum(lengths) - lengths), lengths)
        return (np.arange(total, dtype=np.int64) + offsets).astype(np.int32), np.repeat(weights, lengths)

    def field_postings(self, field: WeightedField, tid: int) -> tuple[np.ndarray, np.ndarray]:
        """(passage ids, weights) of one term in one field, article fields expanded to their passages."""
        start, end = field.indptr[tid], field.indptr[tid + 1]
        docs, weights = field.docs[start:end], field.weights[start:end]
        if field.per_article and start != end:
            return self.expand_articles(docs, weights)
        return docs, weights

    def term_postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(passage ids, weights) of a term over all fields; a passage may appear once per field."""
        tid = self.term_ids.get(term)
        if tid is None:
            return EMPTY_IDS, EMPTY_VALUES
        cached = self._postings.get(tid)
        if cached is not None:
            return cached
        ids: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for field in self.fields:
            docs, weights = self.field_postings(field, tid)
            if len(docs):
                ids.append(docs)
                values.append(weights.astype(np.float64))
        result = (np.concatenate(ids), np.concatenate(values)) if ids else (EMPTY_IDS, EMPTY_VALUES)
        if len(self._postings) >= CACHE_TERMS:
            self._postings.clear()
        self._postings[tid] = result
        return result

    def alternative_postings(self, alternative: Alternative) -> tuple[np.ndarray, np.ndarray]:
        parts = [self.term_postings(s) for s in alternative.stems]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    # ----- the Retriever interface --------------------------------------------------------------
    def concept_postings(self, concept: Concept) -> tuple[np.ndarray, np.ndarray]:
        """(passage ids, scores) of a concept: its best alternative per passage, times its weight."""
        if len(concept.alternatives) == 1:
            alt = concept.alternatives[0]
            ids, values = self.alternative_postings(alt)
            return ids, values * (alt.score_weight * concept.weight)
        parts = [(self.alternative_postings(alt), alt.score_weight) for alt in concept.alternatives]
        parts = [(p, w) for p, w in parts if len(p[0])]
        if not parts:
            return EMPTY_IDS, EMPTY_VALUES
        if (
            sum(len(p[0]) for p, _ in parts) * DENSE_FACTOR > self.size
        ):  # many postings: dense arrays are cheaper than sorting
            best = np.zeros(self.size)
            for (ids, values), weight in parts:
                np.maximum(best, np.bincount(ids, values, minlength=self.size) * weight, out=best)
            ids = np.flatnonzero(best)
            return ids.astype(np.int32), best[ids] * concept.weight
        all_ids: list[np.ndarray] = []
        all_values: list[np.ndarray] = []
        for (ids, values), weight in parts:
            unique, inverse = np.unique(ids, return_inverse=True)
            all_ids.append(unique)
            all_values.append(np.bincount(inverse, values) * weight)
        ids, values = np.concatenate(all_ids), np.concatenate(all_values)
        order = np.lexsort((-values, ids))
        ids, values = ids[order], values[order]
        first = np.ones(len(ids), dtype=bool)
        first[1:] = ids[1:] != ids[:-1]
        return ids[first], values[first] * concept.weight

    def rank(self, concepts: Sequence[Concept], limit: int) -> Ranked:
        parts = [self.concept_postings(c) for c in concepts]
        parts = [p for p in parts if len(p[0])]
        if not parts or limit <= 0:
            return Ranked(EMPTY_IDS.astype(np.int64), EMPTY_VALUES)
        ids = np.concatenate([p[0] for p in parts])
        values = np.concatenate([p[1] for p in parts])
        if len(ids) * DENSE_FACTOR > self.size:  # many postings: one dense sum beats sorting them
            dense = np.bincount(ids, values, minlength=self.size)
            unique = np.flatnonzero(dense > 0)
            totals = dense[unique]
        else:
            unique, inverse = np.unique(ids, return_inverse=True)
            totals = np.bincount(inverse, values)
            keep = totals > 0
            unique, totals = unique[keep], totals[keep]
        if len(unique) > limit:
            top = np.argpartition(-totals, limit - 1)[:limit]
            unique, totals = unique[top], totals[top]
        order = np.lexsort((unique, -totals))
        return Ranked(unique[order].astype(np.int64), totals[order])

    def term_docs(self, term: str) -> np.ndarray:
        """Sorted ids of the passages that hold a term in any field (a word of its article's title included)."""
        docs = self._docs.get(term)
        if docs is None:
            tid = self.term_ids.get(term)
            parts = [] if tid is None else [self.field_postings(f, tid)[0] for f in self.passage_fields]
            if tid is not None:  # from the title's own postings: the weighted title field drops words of zero IDF
                articles = self.article_title.docs[self.article_title.indptr[tid] : self.article_title.indptr[tid + 1]]
                parts.append(self.expand_articles(articles, np.zeros(len(articles)))[0])
            docs = np.unique(np.concatenate(parts)) if parts else EMPTY_IDS
            if len(self._docs) >= CACHE_TERMS:
                self._docs.clear()
            self._docs[term] = docs
        return docs

    def holds(self, doc_ids: np.ndarray, term: str) -> np.ndarray:
        docs = self.term_docs(term)
        if not len(docs):
            return np.zeros(len(doc_ids), dtype=bool)
        at = np.minimum(np.searchsorted(docs, doc_ids), len(docs) - 1)
        return docs[at] == doc_ids

    def passage_frequency(self, term: str) -> int:
        """Passages whose text holds the term; for a term only section titles use, those that do."""
        tid = self.term_ids.get(term)
        if tid is None:
            return 0
        for field in self.passage_fields:
            count = int(field.indptr[tid + 1] - field.indptr[tid])
            if count:
                return count
        return 0

    def article_holds(self, doc_ids: np.ndarray, term: str) -> np.ndarray:
        tid = self.term_ids.get(term)
        if tid is None:
            return np.zeros(len(doc_ids), dtype=bool)
        articles = self.passage_article[doc_ids]
        held = np.zeros(len(doc_ids), dtype=bool)
        for field in self.article_mentions():
            docs = field.docs[field.indptr[tid] : field.indptr[tid + 1]]
            held |= np.isin(articles, docs)
        return held

    def article_mentions(self) -> tuple[FieldArrays, ...]:
        """Per-article fields that together hold every word an article uses: text, section titles, title."""
        return (self.article_text, self.article_headings, self.article_title)

    def article_frequency(self, term: str) -> tuple[int, int]:
        """(articles that hold `term` in their text, section titles or title, articles in all)."""
        tid = self.term_ids.get(term)
        if tid is None:
            return 0, self.article_title.size
        docs = [f.docs[f.indptr[tid] : f.indptr[tid + 1]] for f in self.article_mentions()]
        return len(np.unique(np.concatenate(docs))), self.article_title.size

    def title_frequency(self, term: str) -> tuple[int, int]:
        tid = self.term_ids.get(term)
        count = 0 if tid is None else int(self.article_title.indptr[tid + 1] - self.article_title.indptr[tid])
        return count, self.article_title.size

    def section_title_frequency(self, term: str) -> tuple[int, int]:
        """Counted over section titles other than the article's own title (a lead passage's section is the title)."""
        tid = self.term_ids.get(term)
        if tid is None:
            return 0, self.article_title.size
        headed = self.article_headings.docs[self.article_headings.indptr[tid] : self.article_headings.indptr[tid + 1]]
        titled = self.article_title.docs[self.article_title.indptr[tid] : self.article_title.indptr[tid + 1]]
        return len(np.setdiff1d(headed, titled)), self.article_title.size

    def passage_vectors(self, doc_ids: np.ndarray) -> np.ndarray | None:
        if self.vectors is None:
            return None
        return self.vectors[doc_ids]

    def has_vectors(self) -> bool:
        return self.vectors is not None

    def nearest(self, vector: np.ndarray, limit: int) -> Ranked:
        if self.vectors is None or limit <= 0 or not self.size:
            return Ranked(EMPTY_IDS.astype(np.int64), EMPTY_VALUES)
        similarity = self.vectors @ vector.astype(np.float32)
        limit = min(limit, self.size)
        top = np.argpartition(-similarity, limit - 1)[:limit]
        order = np.lexsort((top, -similarity[top]))
        return Ranked(top[order].astype(np.int64), similarity[top][order].astype(np.float64))

    def word_scores(self, concepts: Sequence[Concept], doc_ids: np.ndarray) -> np.ndarray:
        totals = np.zeros(len(doc_ids))
        if not len(doc_ids):
            return totals
        order = np.argsort(doc_ids, kind="stable")
        ordered = doc_ids[order]
        for concept in concepts:
            ids, values = self.concept_postings(concept)
            if not len(ids):
                continue
            at = np.minimum(np.searchsorted(ordered, ids), len(ordered) - 1)
            found = ordered[at] == ids
            np.add.at(totals, order[at[found]], values[found])
        return totals

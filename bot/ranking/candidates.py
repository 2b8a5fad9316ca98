"""Stage 1: the passages that may answer, found by words and by meaning.

The word retriever gives its best `pool` passages (BM25 over fields, see bot.retrieval); when
the index has sentence vectors, an exact dot product over every passage vector gives the best
`pool` by meaning. A passage either of them brings in is a candidate. Every candidate gets its
exact word score, so a passage found only by meaning is scored by words too (often 0).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bot.query import Query
from bot.retrieval import Retriever

POOL = 50  # candidates from each side


class Candidates(NamedTuple):
    """Candidate passage ids with their word scores and cosine similarities (None without vectors)."""

    doc_ids: np.ndarray
    word_scores: np.ndarray
    cosines: np.ndarray | None
    word_rank: np.ndarray  # 1-based rank among the word retriever's results, 0 when it did not return the passage
    meaning_rank: np.ndarray  # the same among the nearest passages by meaning


def gather(retriever: Retriever, query: Query, asked: np.ndarray | None, pool: int = POOL) -> Candidates:
    """The union of the best `pool` passages by words and the best `pool` by meaning."""
    words = retriever.rank(query.concepts, pool)
    meaning = retriever.nearest(asked, pool) if asked is not None else None
    ids = words.doc_ids
    if meaning is not None and len(meaning.doc_ids):
        extra = meaning.doc_ids[~np.isin(meaning.doc_ids, ids)]
        ids = np.concatenate((ids, extra))
    word_scores = np.zeros(len(ids))
    word_scores[: len(words.doc_ids)] = words.scores
    if len(ids) > len(words.doc_ids):
        word_scores[len(words.doc_ids) :] = retriever.word_scores(query.concepts, ids[len(words.doc_ids) :])
    word_rank = np.zeros(len(ids), dtype=np.int64)
    word_rank[: len(words.doc_ids)] = np.arange(1, len(words.doc_ids) + 1)
    meaning_rank = np.zeros(len(ids), dtype=np.int64)
    cosines = None
    if meaning is not None and len(ids):
        vectors = retriever.passage_vectors(ids)
        cosines = None if vectors is None else (vectors @ asked).astype(np.float64)
        position = {int(d): r for r, d in enumerate(meaning.doc_ids.tolist(), 1)}
        meaning_rank = np.array([position.get(int(d), 0) for d in ids.tolist()], dtype=np.int64)
    return Candidates(ids.astype(np.int64), word_scores, cosines, word_rank, meaning_rank)

"""BM25 weights from a field's arrays, with rank-bm25's formulas (BM25Okapi, BM25Plus, BM25L).

For a term that a document holds, the weight equals what rank-bm25's ``get_scores`` adds for
that term, so for Okapi and BM25L a document's score is exactly rank-bm25's. For BM25+,
rank-bm25 also adds the ``idf * delta`` floor to documents that lack the term, which makes the
floor the same for every document and so without effect; here, as in Lv and Zhai's BM25+, only
documents that hold a term get its floor, so a passage that matches more of the question's
terms ranks higher.
"""

from __future__ import annotations

import numpy as np

from bot.indexing import FieldArrays

OKAPI_EPSILON = 0.25  # rank-bm25's default floor for negative Okapi IDF


def idf(field: FieldArrays, variant: str, epsilon: float = OKAPI_EPSILON) -> np.ndarray:
    """IDF of every term in the field, as rank-bm25 computes it (0 for terms the field lacks)."""
    n = float(field.size)
    df = field.document_frequency().astype(np.float64)
    held = df > 0
    values = np.zeros_like(df)
    if variant == "plus":
        values[held] = np.log(n + 1) - np.log(df[held])
    elif variant == "l":
        values[held] = np.log(n + 1) - np.log(df[held] + 0.5)
    elif variant == "okapi":
        raw = np.log(n - df[held] + 0.5) - np.log(df[held] + 0.5)
        floor = epsilon * (raw.sum() / len(raw)) if len(raw) else 0.0
        values[held] = np.where(raw < 0, floor, raw)
    else:
        raise ValueError(f"unknown BM25 variant {variant!r}")
    return values


def average_length(field: FieldArrays) -> float:
    total = float(field.doc_len.sum(dtype=np.float64))
    return total / field.size if field.size and total else 1.0


def saturation(field: FieldArrays, variant: str, k1: float, b: float, delta: float) -> np.ndarray:
    """The term-frequency part of every posting's weight: the weight is IDF times this (float32)."""
    tf = field.tf.astype(np.float32, copy=False)
    norm = (
        np.float32(1 - b)
        + np.float32(b / average_length(field)) * field.doc_len.astype(np.float32, copy=False)[field.docs]
    )
    k1, delta = np.float32(k1), np.float32(delta)
    if variant == "okapi":
        return tf * (k1 + 1) / (tf + k1 * norm)
    if variant == "plus":
        return delta + tf * (k1 + 1) / (k1 * norm + tf)
    ctd = tf / norm
    return tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)  # rank-bm25's BM25L has the tf factor


def impacts(
    field: FieldArrays, variant: str, k1: float, b: float, delta: float, epsilon: float = OKAPI_EPSILON
) -> np.ndarray:
    """The BM25 weight of every posting (term, document) of the field, aligned with field.docs."""
    term_idf = np.repeat(idf(field, variant, epsilon).astype(np.float32), field.document_frequency())
    return term_idf * saturation(field, variant, k1, b, delta)


def article_document_frequency(field: FieldArrays, passage_article: np.ndarray, n_articles: int) -> np.ndarray:
    """Per posting, how many passages of its own article hold its term (computed when building)."""
    if not len(field.docs):
        return np.zeros(0, dtype=np.int32)
    term_of = np.repeat(np.arange(len(field.indptr) - 1, dtype=np.int64), field.document_frequency())
    key = term_of * n_articles + passage_article[field.docs].astype(np.int64)
    # postings run by term, then by passage, and an article's passages are contiguous, so each
    # (term, article) pair is one run: its length is the term's document frequency in that article
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    lengths = np.diff(np.concatenate((starts, [len(key)])))
    return np.repeat(lengths, lengths).astype(np.int32)


def article_idf(
    field: FieldArrays, passage_article: np.ndarray, article_length: np.ndarray, article_df: np.ndarray
) -> np.ndarray:
    """Per posting, the IDF of its term among the passages of its own article: log((n + 1) / df).

    A word every passage of an article uses (the article's topic) cannot tell its sections apart,
    however rare it is in the corpus; a word one section uses can.
    """
    return np.log((article_length[passage_article[field.docs]] + 1) / article_df.astype(np.float64))


def article_text_field(body: FieldArrays, passage_article: np.ndarray, n_articles: int) -> FieldArrays:
    """The whole text of each article as one document: passage term counts summed per article.

    Postings run by term, then passage, and an article's passages are contiguous, so each
    (term, article) pair is one run of postings, summed with reduceat.
    """
    n_terms = len(body.indptr) - 1
    lengths = np.bincount(passage_article, weights=body.doc_len, minlength=n_articles).astype(np.float32)
    if not len(body.docs):
        return FieldArrays(np.zeros(n_terms + 1, dtype=np.int64), body.docs, body.tf, lengths)
    term_of = np.repeat(np.arange(n_terms, dtype=np.int64), body.document_frequency())
    article_of = passage_article[body.docs].astype(np.int64)
    key = term_of * n_articles + article_of
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    tf = np.add.reduceat(body.tf.astype(np.float64), starts).astype(np.float32)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_of[starts], minlength=n_terms), out=indptr[1:])
    return FieldArrays(indptr, article_of[starts].astype(np.int32), tf, lengths)

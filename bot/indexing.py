"""Build the searchable index from passages: per-field term postings as numpy arrays, plus a vocabulary.

Every field is a compressed sparse row (CSR) matrix over one shared term list: for term ``t``,
``docs[indptr[t]:indptr[t+1]]`` are the documents that hold it (ascending) and ``tf`` the counts.
Passage fields (the text, the section titles) have one document per passage; article fields (the
article title) have one document per article, so a long article does not lower the IDF of its
own title words. BM25 weights are computed from these arrays exactly as rank-bm25 does
(see :mod:`bot.bm25`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from bot.models import Passage
from bot.synonyms import SynonymTable
from bot.text import words

SUBSECTION_REPEAT = 2
PASSAGE_FIELDS = ("body", "heading")
ARTICLE_FIELDS = ("title",)
FIELDS = PASSAGE_FIELDS + ARTICLE_FIELDS


@dataclass(frozen=True)
class FieldArrays:
    """Term postings of one field: CSR arrays over the shared term list, and document lengths."""

    indptr: np.ndarray  # int64, len(terms) + 1
    docs: np.ndarray  # int32, ascending within each term
    tf: np.ndarray  # float32 term frequency
    doc_len: np.ndarray  # float32, one per document

    @property
    def size(self) -> int:
        return int(self.doc_len.shape[0])

    def postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.indptr[term_id], self.indptr[term_id + 1]
        return self.docs[start:end], self.tf[start:end]

    def document_frequency(self) -> np.ndarray:
        return np.diff(self.indptr)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"indptr": self.indptr, "docs": self.docs, "tf": self.tf, "doc_len": self.doc_len}


def field_terms(text: str, synonyms: SynonymTable) -> list[str]:
    """Indexed terms of a text: non-stopword stems, plus a group term per synonym occurrence."""
    return terms_of(words(text), synonyms)


def terms_of(tokens: list[tuple[str, str, bool]], synonyms: SynonymTable) -> list[str]:
    """field_terms for text already split into (surface, stem, stop) words."""
    return [stem for _, stem, stop in tokens if not stop] + synonyms.group_terms([stem for _, stem, _ in tokens])


def body_terms(passage: Passage, synonyms: SynonymTable) -> list[str]:
    return field_terms(passage.text, synonyms)


def heading_text(passage: Passage) -> str:
    """Section and subsection titles; the subsection, the most specific description, counts twice."""
    return " ".join([passage.section] + [passage.subsection] * SUBSECTION_REPEAT)


def title_terms(passage: Passage, synonyms: SynonymTable) -> list[str]:
    """Terms of the section and subsection titles (kept under its old name for the tests)."""
    return field_terms(heading_text(passage), synonyms)


def fit_field(documents: Sequence[Sequence[str]], term_ids: dict[str, int]) -> tuple[list[int], list[int], list[int], np.ndarray]:
    """(term id, doc id, count) triples of a tokenised field, adding new terms to term_ids."""
    term_col: list[int] = []
    doc_col: list[int] = []
    counts: list[int] = []
    for doc_id, doc_terms in enumerate(documents):
        for word, n in Counter(doc_terms).items():
            tid = term_ids.get(word)
            if tid is None:
                tid = term_ids[word] = len(term_ids)
            term_col.append(tid)
            doc_col.append(doc_id)
            counts.append(n)
    lengths = np.fromiter((len(doc) for doc in documents), dtype=np.float32, count=len(documents))
    return term_col, doc_col, counts, lengths


def to_csr(triples: tuple[list[int], list[int], list[int], np.ndarray], n_terms: int) -> FieldArrays:
    """Sort (term, doc, count) triples into CSR arrays over n_terms terms."""
    term_col, doc_col, counts, lengths = triples
    terms_arr = np.asarray(term_col, dtype=np.int64)
    docs_arr = np.asarray(doc_col, dtype=np.int32)
    order = np.lexsort((docs_arr, terms_arr))
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms_arr, minlength=n_terms), out=indptr[1:])
    return FieldArrays(indptr, docs_arr[order], np.asarray(counts, dtype=np.float32)[order], lengths)


def build_fields(passages: Sequence[Passage], article_titles: Sequence[str], synonyms: SynonymTable) -> tuple[list[str], dict[str, FieldArrays], dict[str, int]]:
    """The shared term list, every field's arrays, and the spelling vocabulary (each text split once)."""
    term_ids: dict[str, int] = {}
    body_words = [words(p.text) for p in passages]
    heading_words = [words(heading_text(p)) for p in passages]
    title_words = [words(t) for t in article_titles]
    triples = {
        "body": fit_field([terms_of(w, synonyms) for w in body_words], term_ids),
        "heading": fit_field([terms_of(w, synonyms) for w in heading_words], term_ids),
        "title": fit_field([terms_of(w, synonyms) for w in title_words], term_ids),
    }
    fields = {name: to_csr(t, len(term_ids)) for name, t in triples.items()}
    counts: Counter[str] = Counter()
    for body, heading in zip(body_words, heading_words):
        counts.update({surface for surface, _, stop in body + heading if not stop})
    for title in title_words:
        for surface, _, stop in title:
            if not stop:
                counts.setdefault(surface, 1)
    return list(term_ids), fields, dict(counts)


def vocabulary(counts: dict[str, int], extra_words: Iterable[str]) -> dict[str, int]:
    """Surface words and how many passages use each, plus words the synonym rules name, for spelling."""
    result = dict(counts)
    for word in extra_words:
        result.setdefault(word, 1)
    return result

"""Build the searchable index from passages: per-field term postings as numpy arrays, plus a vocabulary.

Every field is a compressed sparse row (CSR) matrix over one shared term list: for term ``t``,
``docs[indptr[t]:indptr[t+1]]`` are the documents that hold it (ascending) and ``tf`` the counts.
Passage fields (the text, the section titles) have one document per passage; article fields (the
article title) have one document per article, so a long article does not lower the IDF of its
own title words. BM25 weights are computed from these arrays exactly as rank-bm25 does
(see :mod:`bot.bm25`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

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


PHRASE_MARK = "+"  # joins a title's stopword to its neighbour ("down+syndrom"); the tokenizer never keeps "+"


def title_phrases(tokens: list[tuple[str, str, bool]]) -> list[str]:
    """ "Down syndrome", "Vitamin A": a stopword next to a content word in an article title, as one term.

    Stopwords are not indexed, so without these "down syndrome" would search "syndrome" alone
    and find any syndrome. Only titles get them: a question naming the phrase finds the
    articles it names, while "down" in running text ("feeling run down") stays a stopword.
    (Indexing them in the articles' own texts too cost MedQuAD 0.015.)
    """
    return [f"{a}{PHRASE_MARK}{b}" for (_, a, a_stop), (_, b, b_stop) in zip(tokens, tokens[1:]) if a_stop != b_stop]


def heading_text(passage: Passage) -> str:
    """Section and subsection titles; the subsection, the most specific description, counts twice."""
    return " ".join([passage.section] + [passage.subsection] * SUBSECTION_REPEAT)


def title_terms(passage: Passage, synonyms: SynonymTable) -> list[str]:
    """Terms of the section and subsection titles (kept under its old name for the tests)."""
    return field_terms(heading_text(passage), synonyms)


def to_csr(documents: Sequence[Sequence[str]], term_ids: dict[str, int]) -> FieldArrays:
    """CSR arrays of a tokenised field, adding new terms to term_ids (vectorised after one id lookup per word)."""
    n_docs = len(documents)
    numbering: defaultdict[str, int] = defaultdict(int, term_ids)
    numbering.default_factory = numbering.__len__  # a new term gets the next id, all in C
    ids = np.array(list(map(numbering.__getitem__, chain.from_iterable(documents))), dtype=np.int64)
    term_ids.update(numbering)
    lengths = np.fromiter((len(doc) for doc in documents), dtype=np.int64, count=n_docs)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    keys, counts = np.unique(ids * max(n_docs, 1) + doc_of, return_counts=True)  # sorted by term, then document
    terms_col = keys // max(n_docs, 1)
    return FieldArrays(
        terms_col, (keys % max(n_docs, 1)).astype(np.int32), counts.astype(np.float32), lengths.astype(np.float32)
    )


def with_indptr(arrays: FieldArrays, n_terms: int) -> FieldArrays:
    """Turn the term column that to_csr leaves in indptr into CSR row pointers over n_terms terms."""
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(arrays.indptr, minlength=n_terms), out=indptr[1:])
    return FieldArrays(indptr, arrays.docs, arrays.tf, arrays.doc_len)


def build_fields(
    body: Sequence[Sequence[str]], heading: Sequence[Sequence[str]], title: Sequence[Sequence[str]]
) -> tuple[list[str], dict[str, FieldArrays]]:
    """The shared term list and every field's arrays, from each document's terms."""
    term_ids: dict[str, int] = {}
    columns = {"body": to_csr(body, term_ids), "heading": to_csr(heading, term_ids), "title": to_csr(title, term_ids)}
    return list(term_ids), {name: with_indptr(arrays, len(term_ids)) for name, arrays in columns.items()}


def vocabulary(passage_words: Iterable[Iterable[str]], extra_words: Iterable[str]) -> dict[str, int]:
    """Surface words and how many passages use each, plus other words to know (titles, synonym rules)."""
    counts: Counter[str] = Counter()
    for distinct in passage_words:
        counts.update(distinct)
    result = dict(counts)
    for word in extra_words:
        result.setdefault(word, 1)
    return result

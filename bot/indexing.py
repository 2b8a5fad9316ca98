"""Build the searchable index from passages: two rank-bm25 fields (body and titles) plus a vocabulary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rank_bm25 import BM25, BM25L, BM25Okapi, BM25Plus

from bot.config import Ranking
from bot.models import Passage
from bot.synonyms import SynonymTable
from bot.text import tokenize

SUBSECTION_REPEAT = 2
VARIANTS: dict[str, type[BM25]] = {"okapi": BM25Okapi, "plus": BM25Plus, "l": BM25L}


@dataclass(frozen=True)
class FieldStats:
    """What rank-bm25 computes for one field, in plain JSON-able form."""

    doc_freqs: list[dict[str, int]]
    doc_len: list[int]
    avgdl: float
    idf: dict[str, float]

    def to_json(self) -> dict[str, object]:
        return {"doc_freqs": self.doc_freqs, "doc_len": self.doc_len, "avgdl": self.avgdl, "idf": self.idf}

    @staticmethod
    def from_json(data: dict[str, object]) -> "FieldStats":
        return FieldStats(
            doc_freqs=[{str(k): int(v) for k, v in d.items()} for d in data["doc_freqs"]],  # type: ignore[union-attr]
            doc_len=[int(n) for n in data["doc_len"]],  # type: ignore[union-attr]
            avgdl=float(data["avgdl"]),  # type: ignore[arg-type]
            idf={str(k): float(v) for k, v in data["idf"].items()},  # type: ignore[union-attr]
        )


@dataclass
class Field:
    """One searchable field: its rank-bm25 model and an inverted list of the passages holding each term."""

    stats: FieldStats
    model: BM25
    postings: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for doc_id, freqs in enumerate(self.stats.doc_freqs):
            for term in freqs:
                self.postings.setdefault(term, []).append(doc_id)


def field_terms(text: str, synonyms: SynonymTable) -> list[str]:
    """Indexed terms of a text: non-stopword stems, plus a group term per synonym occurrence."""
    tokens = tokenize(text)
    return [t.stem for t in tokens if not t.stop] + synonyms.group_terms([t.stem for t in tokens])


def body_terms(passage: Passage, synonyms: SynonymTable) -> list[str]:
    return field_terms(passage.text, synonyms)


def title_terms(passage: Passage, synonyms: SynonymTable) -> list[str]:
    """Terms of the section and subsection titles (the article title when there is no section).

    The subsection is the most specific description of a passage, so its words count twice.
    """
    return field_terms(" ".join([passage.section] + [passage.subsection] * SUBSECTION_REPEAT), synonyms)


def fit_field(documents: list[list[str]], ranking: Ranking) -> FieldStats:
    """Let rank-bm25 compute term frequencies, lengths and IDF for a tokenised field."""
    if not any(documents):
        return FieldStats([{} for _ in documents], [0] * len(documents), 1.0, {})
    model = VARIANTS[ranking.variant](documents, k1=ranking.k1, b=ranking.b, **variant_extra(ranking))
    return FieldStats(model.doc_freqs, model.doc_len, model.avgdl or 1.0, dict(model.idf))


def variant_extra(ranking: Ranking) -> dict[str, float]:
    return {} if ranking.variant == "okapi" else {"delta": ranking.delta}


def model_from_stats(stats: FieldStats, ranking: Ranking) -> BM25:
    """Recreate a rank-bm25 model from stored statistics without re-tokenising the corpus."""
    cls = VARIANTS[ranking.variant]
    model = cls.__new__(cls)
    model.k1, model.b = ranking.k1, ranking.b
    if ranking.variant == "okapi":
        model.epsilon = 0.25
    else:
        model.delta = ranking.delta
    model.corpus_size = len(stats.doc_len)
    model.avgdl = stats.avgdl or 1.0
    model.doc_freqs = stats.doc_freqs
    model.doc_len = stats.doc_len
    model.idf = stats.idf
    model.tokenizer = None
    return model


def make_field(stats: FieldStats, ranking: Ranking) -> Field:
    return Field(stats, model_from_stats(stats, ranking))


def vocabulary(passages: list[Passage], extra_words: set[str]) -> dict[str, int]:
    """Surface words and how many passages use each, for spelling correction."""
    counts: Counter[str] = Counter()
    for passage in passages:
        text = f"{passage.section} {passage.subsection} {passage.text}"
        counts.update({t.surface for t in tokenize(text) if not t.stop})
    for word in extra_words:
        counts.setdefault(word, 1)
    return dict(counts)

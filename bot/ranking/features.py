"""Stage 2: named features of each candidate passage, the scorer's and the answer decision's inputs.

Every feature is a number near [0, 1] (``other_topics`` counts), computed the same way for every
corpus; no feature names a question, an article or a heading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from bot.query import Query
from bot.ranking.candidates import Candidates

if TYPE_CHECKING:
    from bot.search import Searcher

FOCUS = 3  # concepts that say what a question is about
EVIDENCE_CAP = 4.0  # matched IDF, in units of the rarest word's, beyond which more says nothing new

SCORER_FEATURES: tuple[str, ...] = (
    "words",  # word score as a share of the best candidate's word score
    "words_rank",  # 1 / rank among the word retriever's results (0: not among them)
    "coverage",  # IDF-weighted share of the question's concepts the passage holds (WordNet relatives aside)
    "focus",  # the same over the question's FOCUS heaviest concepts only: what a long message is about
    "evidence",  # coverage x the question's IDF mass, in units of the rarest word's IDF, capped, / cap
    "no_words",  # the passage holds none of the question's concepts
    "meaning",  # cosine similarity of the question's and the passage's sentence vectors
    "meaning_gap",  # cosine minus the best candidate's cosine (0 for the closest)
    "meaning_rank",  # 1 / rank among the nearest passages by meaning (0: not among them)
    "opening",  # "what is X" and X is the article's title: the article's first passage
    "defines",  # "what is X": the passage says what X is ("X, a protein that...")
    "named_section",  # the question names the passage's section title, a kind of section ("symptoms")
    "other_topics",  # topics the question names that the passage's article never mentions
    "specific",  # the passage holds the question's most specific concept
    "lead_in",  # the passage only leads in to a list it does not hold (ends with a colon)
)
WORDS_ONLY = frozenset({"meaning", "meaning_gap", "meaning_rank"})

CONFIDENCE_FEATURES: tuple[str, ...] = (
    "focus",
    "evidence",
    "meaning",
    "unknown_share",  # share of the question's IDF mass in words no article uses
    "unknown_name",  # a short question about a name no article or dictionary has ("atenolol")
)


class Features(NamedTuple):
    """The candidates' feature matrix, and what the answer sentence and highlighting still need."""

    candidates: Candidates
    matrix: np.ndarray  # rows: candidates, columns: SCORER_FEATURES
    held: dict[str, np.ndarray]  # stem -> which candidates hold it
    coverage: np.ndarray
    question: dict[str, float]  # question-level features (unknown_share, unknown_name, concepts)

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, SCORER_FEATURES.index(name)]


def reciprocal_rank(rank: np.ndarray) -> np.ndarray:
    return np.where(rank > 0, 1.0 / np.maximum(rank, 1), 0.0)


def compute(searcher: Searcher, query: Query, candidates: Candidates) -> Features:
    """The feature matrix of the candidates for this question."""
    ids = candidates.doc_ids
    n = len(ids)
    held = {s: searcher.retriever.holds(ids, s) for c in query.concepts for a in c.alternatives for s in a.stems}
    coverage = searcher.coverage_vector(query, held, n)
    mass = searcher.question_mass(query) / np.log(len(searcher.passages) + 1)
    best_words = float(candidates.word_scores.max()) if n else 0.0
    columns: dict[str, np.ndarray] = {
        "words": candidates.word_scores / best_words if best_words > 0 else np.zeros(n),
        "words_rank": reciprocal_rank(candidates.word_rank),
        "coverage": coverage,
        "focus": searcher.coverage_vector(query, held, n, FOCUS),
        "evidence": np.minimum(coverage * mass, EVIDENCE_CAP) / EVIDENCE_CAP,
        "no_words": (coverage <= 0).astype(np.float64),
        "opening": searcher.opening_flags(query, ids),
        "defines": searcher.definition_flags(query, ids),
        "named_section": searcher.named_section_flags(query, ids),
        "other_topics": searcher.other_topic_counts(query, ids),
        "specific": searcher.holds_most_specific(query, held, n).astype(np.float64) if query.concepts else np.zeros(n),
        "lead_in": np.array([searcher.passages[int(d)].text.rstrip().endswith(":") for d in ids], dtype=np.float64),
    }
    if candidates.cosines is not None and n:
        columns["meaning"] = candidates.cosines
        columns["meaning_gap"] = candidates.cosines - float(candidates.cosines.max())
        columns["meaning_rank"] = reciprocal_rank(candidates.meaning_rank)
    matrix = (
        np.column_stack([columns.get(name, np.zeros(n)) for name in SCORER_FEATURES])
        if n
        else np.zeros((0, len(SCORER_FEATURES)))
    )
    question = {
        "unknown_share": searcher.unknown_share(query),
        "unknown_name": float(searcher.asks_about_unknown_name(query)),
        "concepts": min(len(query.own_concepts()), 10) / 10,
    }
    return Features(candidates, matrix, held, coverage, question)


def confidence_inputs(
    matrix: np.ndarray, scores: np.ndarray, question: dict[str, float], names: tuple[str, ...] = CONFIDENCE_FEATURES
) -> np.ndarray:
    """The answer decision's inputs (columns: `names`) for every candidate, from its features and score."""
    n = len(scores)
    columns = {"score": scores, **{name: np.full(n, value) for name, value in question.items()}}
    for name in SCORER_FEATURES:
        columns[name] = matrix[:, SCORER_FEATURES.index(name)]
    return np.column_stack([columns.get(name, np.zeros(n)) for name in names]) if n else np.zeros((0, len(names)))

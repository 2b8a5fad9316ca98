"""Stage 2: named features of each candidate passage, the scorer's and the answer decision's inputs.

Every feature is a number near [0, 1] (``other_topics`` counts), computed the same way for every
corpus; no feature names a question, an article or a heading.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from bot.query import Query
from bot.ranking.candidates import Candidates

if TYPE_CHECKING:
    from bot.search import Searcher

FOCUS = 3  # concepts that say what a question is about
TOPIC_CONCEPTS = (
    4  # other_topics counts for questions of at most this many concepts: a long message names many in passing
)
EVIDENCE_CAP = 4.0  # matched IDF, in units of the rarest word's, beyond which more says nothing new

SCORER_FEATURES: tuple[str, ...] = (
    "words",  # word score as a share of the best candidate's word score
    "coverage",  # IDF-weighted share of the question's concepts the passage holds (WordNet relatives aside)
    "focus",  # the same over the question's FOCUS heaviest concepts only: what a long message is about
    "evidence",  # coverage x the question's IDF mass, in units of the rarest word's IDF, capped, / cap
    "no_words",  # the passage holds none of the question's concepts
    "meaning",  # cosine similarity of the question's and the passage's sentence vectors
    "meaning_gap",  # cosine minus the best candidate's cosine (0 for the closest)
    "opening",  # "what is X" and X is the article's title: the article's first passage
    "defines",  # "what is X": the passage says what X is ("X, a protein that...")
    "named_section",  # the question names the passage's section title, a kind of section ("symptoms")
    "other_topics",  # topics the question names that the passage's article never mentions
    "specific",  # the passage holds the question's most specific concept
    "lead_in",  # the passage only leads in to a list it does not hold (ends with a colon)
)
WORDS_ONLY = frozenset({"meaning", "meaning_gap"})

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


def compute(
    searcher: Searcher, query: Query, candidates: Candidates, needed: frozenset[str] = frozenset(SCORER_FEATURES)
) -> Features:
    """The feature matrix of the candidates for this question; a feature not `needed` (weight 0) stays 0."""
    ids = candidates.doc_ids
    n = len(ids)
    held = {s: searcher.retriever.holds(ids, s) for c in query.concepts for a in c.alternatives for s in a.stems}
    coverage = searcher.coverage_vector(query, held, n)
    mass = searcher.question_mass(query) / np.log(len(searcher.passages) + 1)
    best_words = float(candidates.word_scores.max()) if n else 0.0
    makers: dict[str, Callable[[], np.ndarray]] = {
        "words": lambda: candidates.word_scores / best_words if best_words > 0 else np.zeros(n),
        "coverage": lambda: coverage,
        "focus": lambda: searcher.coverage_vector(query, held, n, FOCUS),
        "evidence": lambda: np.minimum(coverage * mass, EVIDENCE_CAP) / EVIDENCE_CAP,
        "no_words": lambda: (coverage <= 0).astype(np.float64),
        "opening": lambda: searcher.opening_flags(query, ids),
        "defines": lambda: searcher.definition_flags(query, ids),
        "named_section": lambda: searcher.named_section_flags(query, ids),
        "other_topics": lambda: searcher.other_topic_counts(query, ids),
        "specific": lambda: searcher.holds_most_specific(query, held, n).astype(np.float64),
        "lead_in": lambda: np.array([searcher.passages[int(d)].text.rstrip().endswith(":") for d in ids], dtype=float),
    }
    columns = {name: make() for name, make in makers.items() if name in needed}
    if candidates.cosines is not None and n:
        columns["meaning"] = candidates.cosines
        columns["meaning_gap"] = candidates.cosines - float(candidates.cosines.max())
    matrix = (
        np.column_stack([columns.get(name, np.zeros(n)) for name in SCORER_FEATURES])
        if n
        else np.zeros((0, len(SCORER_FEATURES)))
    )
    question = {
        "unknown_share": searcher.unknown_share(query),
        "unknown_name": float(searcher.asks_about_unknown_name(query)),
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

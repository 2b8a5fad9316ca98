"""The retrieval core: stemming rules, the array retriever against a brute-force scorer, the no-answer rule."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from bot.builder import build_index
from bot.config import Settings
from bot.engine import Engine
from bot.query import Alternative, Concept
from bot.text import stem


def test_greek_sis_nouns_meet_their_verbs() -> None:
    assert stem("diagnosis") == stem("diagnose") == stem("diagnosed") == stem("diagnoses")
    assert stem("paralysis") == stem("paralysed")
    assert stem("basis") != stem("base")  # short stems are left alone


@pytest.fixture
def engine(tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]) -> Engine:
    seed_corpus(tmp_path)
    settings = make_settings(tmp_path)
    build_index(settings)
    engine = Engine(settings)
    engine.open()
    return engine


def brute_force(engine: Engine, concepts: list[Concept]) -> np.ndarray:
    """Score every passage concept by concept, term by term, with plain Python loops."""
    retriever = engine.snapshot().searcher.retriever
    size = len(engine.snapshot().index.passages)
    totals = np.zeros(size)
    for concept in concepts:
        best = np.zeros(size)
        for alt in concept.alternatives:
            summed = np.zeros(size)
            for s in alt.stems:
                ids, values = retriever.term_postings(s)  # type: ignore[attr-defined]
                for doc, value in zip(ids.tolist(), values.tolist()):
                    summed[doc] += value
            best = np.maximum(best, summed * alt.weight)
        totals += best * concept.weight
    return totals


def test_ranking_equals_a_brute_force_scorer(engine: Engine) -> None:
    retriever = engine.snapshot().searcher.retriever
    group = next(t for t in engine.snapshot().index.terms if t.startswith("§"))
    concepts = [
        Concept("k2", (Alternative(("k2",), 1.0), Alternative((group,), 0.7))),
        Concept("food", (Alternative(("food", "sourc"), 1.0),), weight=0.5),
        Concept("calcium", (Alternative(("calcium",), 1.0),)),
    ]
    expected = brute_force(engine, concepts)
    ranked = retriever.rank(concepts, 5)
    order = sorted(range(len(expected)), key=lambda i: (-expected[i], i))[:5]
    assert ranked.doc_ids.tolist() == order
    assert np.allclose(ranked.scores, expected[order])
    assert retriever.rank([], 5).doc_ids.size == 0
    assert retriever.rank([Concept("zzz", (Alternative(("zzzunknown",), 1.0),))], 5).doc_ids.size == 0


def test_holds_matches_the_postings(engine: Engine) -> None:
    retriever = engine.snapshot().searcher.retriever
    ids = np.arange(len(engine.snapshot().index.passages))
    held = retriever.holds(ids, "natto")
    texts = [p.text.lower() for p in engine.snapshot().index.passages]
    assert held.tolist() == ["natto" in t for t in texts]
    assert not retriever.holds(ids, "zzzunknown").any()

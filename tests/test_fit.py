"""Fitting the ranking (bot.ranking.fit): what it collects from the training indexes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.benchmarks import BenchQuestion, GoldAnswer, normalise_for_match
from bot.builder import guarded_build
from bot.config import Settings
from bot.engine import Engine
from bot.errors import BotError
from bot.ranking import fit
from bot.ranking.features import SCORER_FEATURES
from tests.conftest import REPO_ROOT

ARTICLE = REPO_ROOT / "corpus" / "vitamin-k2-d3-bone-density.txt"
# every passage of the seed article counts as a hit: the labels only need to exist
QUESTION = BenchQuestion(
    "k2", "what foods have K2?", (GoldAnswer(ARTICLE.name, normalise_for_match(ARTICLE.read_text(encoding="utf-8"))),)
)


def pending_build(corpus: Path, settings: Settings, name: str) -> Settings:
    """A current build of `corpus` where fit.engine_for looks for it, by words only: its vectors are pending."""
    pending = replace(
        settings,
        corpus_dir=corpus,
        index_dir=settings.index_dir / "benchmarks" / name,
        synonyms_file=corpus / "synonyms.conf",
        reload_seconds=3600,
    )
    assert guarded_build(pending, None, only_if_stale=False) is not None  # no encoder runs
    return pending


def test_the_meaning_fit_waits_for_the_vectors_of_a_build_made_by_words_first(
    tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    corpus = seed_corpus(tmp_path)
    settings = make_settings(tmp_path, corpus_dir=corpus, background_vectors=True)
    pending_build(corpus, settings, "seed")
    engine = fit.engine_for(corpus, settings, "seed")
    assert engine.snapshot().index.vectors is not None
    (example,) = fit.collect(engine, [QUESTION], with_meaning=True)
    assert example is not None
    assert example.matrix[:, SCORER_FEATURES.index("meaning")].max() > 0


def test_collecting_by_meaning_from_an_index_without_vectors_stops_with_a_message(
    tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    corpus = seed_corpus(tmp_path)
    engine = Engine(pending_build(corpus, make_settings(tmp_path, corpus_dir=corpus), "seed"), auto_build=False)
    engine.open()
    with pytest.raises(BotError, match="no passage vectors"):
        fit.collect(engine, [QUESTION], with_meaning=True)
    (example,) = fit.collect(engine, [QUESTION], with_meaning=False)
    assert example is not None and example.labels.any()

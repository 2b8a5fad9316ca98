"""The ranking pipeline: candidates by words and meaning, the fitted scorer, the answer decision, explain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.builder import build_index
from bot.engine import Engine
from bot.ranking import candidates
from bot.ranking.features import CONFIDENCE_FEATURES, SCORER_FEATURES, WORDS_ONLY
from bot.ranking.model import MODEL_FILE, shipped_model
from tests.conftest import REPO_ROOT, copy_seed_corpus, settings_in


@pytest.fixture(scope="module")
def seed_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over the seed article, with sentence vectors (built once for the module)."""
    tmp = tmp_path_factory.mktemp("seed")
    copy_seed_corpus(tmp)
    settings = settings_in(tmp, reload_seconds=3600)
    build_index(settings)
    return Engine(settings)


@pytest.fixture(scope="module")
def words_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The same by words alone (no vectors in the index)."""
    tmp = tmp_path_factory.mktemp("words")
    copy_seed_corpus(tmp)
    settings = settings_in(tmp, reload_seconds=3600, semantic=False)
    build_index(settings)
    return Engine(settings)


def test_the_shipped_model_is_plain_json_naming_every_feature() -> None:
    data = json.loads((REPO_ROOT / "bot" / "data" / MODEL_FILE).read_text(encoding="utf-8"))
    model = shipped_model()
    for name in ("meaning", "words"):
        assert set(data[name]["scorer"]["weights"]) == set(SCORER_FEATURES)
        assert set(data[name]["confidence"]["weights"]) == set(CONFIDENCE_FEATURES)
        assert 0 < data[name]["threshold"] < 1
    assert all(model.words.scorer.weights[SCORER_FEATURES.index(f)] == 0 for f in WORDS_ONLY)
    assert any(model.meaning.scorer.weights[SCORER_FEATURES.index(f)] != 0 for f in WORDS_ONLY)
    assert "train" in model.info["training"]


def test_meaning_finds_candidates_that_share_no_word_with_the_question(seed_engine: Engine) -> None:
    snap = seed_engine.snapshot()
    query = snap.analyzer.analyse("why do my bones get fragile when i get old", ())
    asked = snap.searcher.question_vector(query)
    assert asked is not None
    found = candidates.gather(snap.searcher.retriever, query, asked)
    by_meaning_only = (found.word_rank == 0) & (found.meaning_rank > 0)
    assert by_meaning_only.any()
    assert found.cosines is not None and np.all(found.word_scores[by_meaning_only] == 0)
    nearest = snap.searcher.retriever.nearest(asked, 5)
    brute = np.argsort(-(snap.searcher.retriever.passage_vectors(np.arange(len(snap.index.passages))) @ asked))[:5]
    assert nearest.doc_ids.tolist() == brute.tolist()


def test_word_scores_of_chosen_passages_match_the_ranking(seed_engine: Engine) -> None:
    snap = seed_engine.snapshot()
    query = snap.analyzer.analyse("which cheese has the most k2", ())
    ranked = snap.searcher.retriever.rank(query.concepts, 20)
    shuffled = ranked.doc_ids[::-1].copy()
    scores = snap.searcher.retriever.word_scores(query.concepts, shuffled)
    assert np.allclose(scores, ranked.scores[::-1])


def test_answers_carry_a_calibrated_confidence(seed_engine: Engine) -> None:
    threshold = shipped_model().meaning.threshold
    answered = seed_engine.answer("what foods have K2?")
    assert answered.results and "Natto" in answered.results[0].text
    assert threshold <= answered.confidence <= 1
    assert answered.to_json()["confidence"] == round(answered.confidence, 4)
    refused = seed_engine.answer("who won the world cup in 2018")
    assert not refused.results and refused.confidence < threshold
    assert refused.message.startswith("Nothing in the articles matches that.")


def test_an_off_topic_health_question_names_the_nearest_topics(seed_engine: Engine) -> None:
    refused = seed_engine.answer("what are the symptoms of type 2 diabetes")
    assert not refused.results
    assert "The nearest topics they cover: “" in refused.message


def test_by_words_alone_the_words_fit_ranks(words_engine: Engine) -> None:
    answer = words_engine.answer("what foods have K2?")
    assert answer.results and "Natto" in answer.results[0].text
    lines = words_engine.explain("what foods have K2?")
    assert any("words alone" in line for line in lines)
    assert not any("meaning=" in line for line in lines)


def test_explain_shows_each_results_features_and_contributions(seed_engine: Engine) -> None:
    lines = seed_engine.explain("what foods have K2?", limit=3)
    text = "\n".join(lines)
    assert lines[0].startswith("searched: ")
    assert "words and meaning" in text and "p=" in text and "(answers)" in text
    assert "coverage=" in text and "meaning=" in text
    assert "Dietary Sources of K2 and D3 › Vitamin K2 Sources" in text


def test_a_new_question_after_a_follow_up_is_not_dragged_to_the_old_topic(seed_engine: Engine) -> None:
    alone = seed_engine.answer("any other minerals that help bones")
    seed_engine.answer("what foods have K2?", "chat")
    seed_engine.answer("and magnesium?", "chat")
    after = seed_engine.answer("any other minerals that help bones", "chat")
    assert alone.results and after.results
    assert after.results[0].text == alone.results[0].text


def test_a_follow_up_with_a_cue_keeps_its_topic(seed_engine: Engine) -> None:
    seed_engine.answer("what foods have K2?", "cue")
    follow = seed_engine.answer("and d3?", "cue")
    assert follow.follow_up and follow.results
    assert "Vitamin D3 Sources" in follow.results[0].subsection

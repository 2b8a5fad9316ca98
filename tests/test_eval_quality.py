"""The quality gate: dev-set scores must not silently fall, and page furniture is never answered.

Run with `-s` to see the measured metrics.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from bot.builder import build_index
from bot.config import Settings
from bot.engine import Engine
from bot.evaluation import EvalReport, evaluate, format_report, load_cases

EVAL_DIR = Path(__file__).parent / "eval"
FIXTURE_ARTICLES = Path(__file__).parent / "fixtures" / "articles"

# Floors for tests/eval/dev.jsonl on the seed corpus: the measured level minus a margin of about
# three questions. The fitted ranking (bot/ranking) measures hit@1 0.854, hit@3 0.966, no-answer
# 1.000, follow-ups 0.765 (13/17); the hand-set rules before it, chosen on this very set, had
# 0.933 / 0.978 / 1.000 / 0.941, and the fitted ranking is ahead on every set written by others
# and on fresh questions (docs/quality.md). The follow-up floor has a margin of one question
# (12/17): with the conversation context switched off the follow-ups score 0.647 (11/17), and
# that must fail the gate.
FLOOR_HIT1 = 0.82
FLOOR_HIT3 = 0.93
FLOOR_NO_ANSWER = 0.88
FLOOR_FOLLOW_UP = 0.70
# The answer sentence (Telegram's 💡 line) of a first result that is a hit holds the expected text:
# 0.875 with the sentence model breaking ties between the best by words (0.886 before the fitted ranking).
FLOOR_ANSWER_SENTENCE = 0.86

FURNITURE = ["Cart (0)", "Privacy", "Subscribe", "©", "cookies", "Cookies"]


def print_report(name: str, report: EvalReport) -> None:
    print(f"\n== {name} ==")
    print(format_report(report, show_misses=False))
    print({k: round(v, 3) for k, v in report.metrics().items()})


def seed_engine(tmp_path_factory: pytest.TempPathFactory, use_context: bool = True) -> Engine:
    from conftest import copy_seed_corpus, settings_in

    root = tmp_path_factory.mktemp("eval-dev")
    settings = settings_in(root, corpus_dir=copy_seed_corpus(root))
    settings = replace(settings, ranking=replace(settings.ranking, use_context=use_context))
    build_index(settings)
    engine = Engine(settings)
    engine.open()
    return engine


@pytest.fixture(scope="module")
def dev_report(tmp_path_factory: pytest.TempPathFactory) -> EvalReport:
    report = evaluate(seed_engine(tmp_path_factory), load_cases(EVAL_DIR / "dev.jsonl"))
    print_report("dev.jsonl on the seed corpus", report)
    return report


def test_dev_set_is_complete(dev_report: EvalReport) -> None:
    assert len(dev_report.outcomes) >= 100
    assert len(dev_report.off_topic()) >= 10
    assert len(dev_report.follow_ups()) >= 10


def test_hit_at_1(dev_report: EvalReport) -> None:
    assert dev_report.hit_at(1) >= FLOOR_HIT1, format_report(dev_report)


def test_hit_at_3(dev_report: EvalReport) -> None:
    assert dev_report.hit_at(3) >= FLOOR_HIT3, format_report(dev_report)
    assert dev_report.hit_at(3) >= dev_report.hit_at(1)


def test_no_answer_rate_on_off_topic(dev_report: EvalReport) -> None:
    assert dev_report.no_answer_rate() >= FLOOR_NO_ANSWER, format_report(dev_report)


def test_follow_up_accuracy(dev_report: EvalReport) -> None:
    assert dev_report.follow_up_accuracy() >= FLOOR_FOLLOW_UP, format_report(dev_report)


def test_answer_sentence(dev_report: EvalReport) -> None:
    assert dev_report.answer_sentence_rate() >= FLOOR_ANSWER_SENTENCE, format_report(dev_report)


def test_follow_up_floor_fails_without_the_conversation_context(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The floor has teeth: answering each follow-up on its own words alone falls below it."""
    follow_ups = [case for case in load_cases(EVAL_DIR / "dev.jsonl") if case.context and not case.off_topic]
    report = evaluate(seed_engine(tmp_path_factory, use_context=False), follow_ups)
    assert report.follow_up_accuracy() < FLOOR_FOLLOW_UP


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, EvalReport]:
    from conftest import copy_seed_corpus, settings_in

    root = tmp_path_factory.mktemp("eval-multi")
    corpus = copy_seed_corpus(root)
    for path in sorted(FIXTURE_ARTICLES.iterdir()):
        shutil.copy(path, corpus / path.name)
    settings: Settings = settings_in(root, corpus_dir=corpus)
    report_build = build_index(settings)
    assert report_build.articles == 1 + len(list(FIXTURE_ARTICLES.iterdir()))
    engine = Engine(settings)
    engine.open()
    report = evaluate(engine, load_cases(EVAL_DIR / "multi.jsonl"))
    print_report("multi.jsonl on seed + fixture articles", report)
    return engine, report


def furniture_in(*texts: str) -> list[str]:
    return [f for f in FURNITURE for t in texts if f in t]


def test_multi_never_returns_page_furniture(multi: tuple[Engine, EvalReport]) -> None:
    engine, report = multi
    assert report.outcomes
    for outcome in report.outcomes:
        for r in outcome.answer.results:
            found = furniture_in(r.text, r.answer, r.section, r.subsection, r.article)
            assert not found, (outcome.case.question, found, r.text[:120])
    # and no passage in the index carries any, so no other question can return it either
    for p in engine.snapshot().index.passages:
        assert not furniture_in(p.text, p.section, p.subsection, p.article), (p.source, p.text[:120])


def test_multi_bait_questions_get_nothing(multi: tuple[Engine, EvalReport]) -> None:
    engine, _ = multi
    for bait in ("Cart (0)", "privacy policy", "subscribe", "we use cookies accept", "© 2024 all rights reserved"):
        answer = engine.answer(bait)
        assert not any(furniture_in(r.text) for r in answer.results), bait


def test_multi_names_the_article(multi: tuple[Engine, EvalReport]) -> None:
    _, report = multi
    sources = {r.source for o in report.outcomes for r in o.answer.results[:1]}
    assert {"sleep-hygiene.md", "strength-training.html", "vitamin-k2-d3-bone-density.txt"} <= sources


# Floors for tests/eval/multi.jsonl (seed + Markdown + HTML articles), measured 0.879 / 0.909;
# the margin is three questions.
FLOOR_MULTI_HIT1 = 0.72
FLOOR_MULTI_HIT3 = 0.81


def test_multi_article_quality(multi: tuple[Engine, EvalReport]) -> None:
    _, report = multi
    assert report.hit_at(1) >= FLOOR_MULTI_HIT1, format_report(report)
    assert report.hit_at(3) >= FLOOR_MULTI_HIT3, format_report(report)


# dev.jsonl on the seed plus a magnesium and an omega-3 article (tests/fixtures/topics/): the seed's
# own questions must still be answered from the seed. Measured 0.787 with the fitted ranking (0.876
# with the hand-set rules chosen on this set; 0.753 before a typed phrase counted as one concept).
FLOOR_TOPICS_HIT1 = 0.75
FIXTURE_TOPICS = Path(__file__).parent / "fixtures" / "topics"


def test_the_seed_questions_hold_up_beside_articles_on_neighbouring_topics(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from conftest import copy_seed_corpus, settings_in

    root = tmp_path_factory.mktemp("eval-topics")
    corpus = copy_seed_corpus(root)
    for path in sorted(FIXTURE_TOPICS.iterdir()):
        shutil.copy(path, corpus / path.name)
    settings = settings_in(root, corpus_dir=corpus)
    build_index(settings)
    engine = Engine(settings)
    engine.open()
    report = evaluate(engine, load_cases(EVAL_DIR / "dev.jsonl"))
    print_report("dev.jsonl on seed + magnesium and omega-3 articles", report)
    assert report.hit_at(1) >= FLOOR_TOPICS_HIT1, format_report(report)
    assert report.no_answer_rate() >= FLOOR_NO_ANSWER, format_report(report)


def test_every_expected_phrase_can_be_found(multi: tuple[Engine, EvalReport]) -> None:
    """A phrase that no passage contains would make its case unwinnable, so it is a typo."""
    engine, _ = multi
    texts = [p.text.lower() for p in engine.snapshot().index.passages]
    for name in ("dev.jsonl", "multi.jsonl", "holdout.jsonl"):
        cases = load_cases(EVAL_DIR / name)
        assert len({c.id for c in cases}) == len(cases), f"{name}: duplicate ids"
        for case in cases:
            missing = [p for p in case.expect_text if not any(p.lower() in t for t in texts)]
            assert not missing, (name, case.id, missing)


def test_holdout_set_is_complete() -> None:
    cases = load_cases(EVAL_DIR / "holdout.jsonl")
    assert sum(not c.off_topic for c in cases) >= 30
    assert sum(c.off_topic for c in cases) >= 8


# Gates for the no-answer and follow-up rates of multi.jsonl (measured 0.857 = 6/7 and
# 0.667 = 2/3; without context the follow-ups score 0.333), and for holdout.jsonl on the same
# three articles (measured hit@1 0.967, hit@3 1.000, no-answer 0.875 = 7/8, follow-ups 1.000 = 4/4;
# without context 0.500). Margins: one question where the set allows it. The holdout is a gate,
# not a target: nothing may be tuned to pass it.
FLOOR_MULTI_NO_ANSWER = 0.71
FLOOR_MULTI_FOLLOW_UP = 0.66
FLOOR_HOLDOUT_HIT1 = 0.86  # measured 0.900 (27/30) with the fitted ranking, 1.000 before
FLOOR_HOLDOUT_HIT3 = 0.96
FLOOR_HOLDOUT_NO_ANSWER = 0.75
FLOOR_HOLDOUT_FOLLOW_UP = 0.75


def test_multi_no_answer_and_follow_ups(multi: tuple[Engine, EvalReport]) -> None:
    _, report = multi
    assert report.no_answer_rate() >= FLOOR_MULTI_NO_ANSWER, format_report(report)
    assert report.follow_up_accuracy() >= FLOOR_MULTI_FOLLOW_UP, format_report(report)


def test_holdout_quality(multi: tuple[Engine, EvalReport]) -> None:
    engine, _ = multi
    report = evaluate(engine, load_cases(EVAL_DIR / "holdout.jsonl"))
    print_report("holdout.jsonl on seed + fixture articles", report)
    assert report.hit_at(1) >= FLOOR_HOLDOUT_HIT1, format_report(report)
    assert report.hit_at(3) >= FLOOR_HOLDOUT_HIT3, format_report(report)
    assert report.no_answer_rate() >= FLOOR_HOLDOUT_NO_ANSWER, format_report(report)
    assert report.follow_up_accuracy() >= FLOOR_HOLDOUT_FOLLOW_UP, format_report(report)

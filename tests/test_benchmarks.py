"""The shared-benchmark scoring: the hit rule, the paired bootstrap, and quality floors on the real sets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.benchmarks import (
    BenchQuestion,
    GoldAnswer,
    SystemRun,
    answered_share,
    benchmarks_dir,
    is_benchmark_hit,
    load_sets,
    normalise_for_match,
    page_questions,
    paired_bootstrap,
    reciprocal,
    run_benchmarks,
    run_system,
    spread_out,
)
from bot.config import Settings
from bot.engine import Engine

ANSWER = normalise_for_match(
    "Anaplasmosis is a disease caused by the bacterium Anaplasma phagocytophilum. This pathogen is "
    "transmitted to humans by the bite of an infected tick, usually the black-legged tick."
)
GOLD = (GoldAnswer("CDC_0000014_anaplasmosis.md", ANSWER),)


def test_hit_needs_the_gold_article_and_an_80_character_overlap() -> None:
    inside = (
        "Intro words first. This pathogen is transmitted to humans by the bite of an infected tick, "
        "usually the black-legged"
    )
    assert is_benchmark_hit("CDC_0000014_anaplasmosis.md", inside, GOLD)
    assert not is_benchmark_hit("other.md", inside, GOLD)  # same text, wrong article
    assert not is_benchmark_hit(
        "CDC_0000014_anaplasmosis.md",
        "Ticks live in tall grass and bite people who walk through it in the summer months.",
        GOLD,
    )
    # shorter than the window: the whole passage must occur in the answer
    assert is_benchmark_hit("CDC_0000014_anaplasmosis.md", "Caused by the BACTERIUM, Anaplasma!", GOLD)
    assert not is_benchmark_hit("CDC_0000014_anaplasmosis.md", "caused by a virus", GOLD)
    assert not is_benchmark_hit("CDC_0000014_anaplasmosis.md", "", GOLD)


def test_page_questions_ask_each_answers_own_question_and_accept_every_answer_it_was_written_for() -> None:
    """The held-out set: MedQuAD's question for each LiveQA-corpus answer; pages that repeat a question share it."""
    answers = {
        "A_1_Sec1": {"file": "A_1_x.md", "question": "What causes X ?", "text": "X is caused by Y."},
        "B_2_Sec1": {
            "file": "B_2_x.md",
            "question": " What  causes x ? ",
            "text": "Y causes X.",
        },  # case and spaces differ
        "A_1_Sec2": {"file": "A_1_x.md", "question": "How to prevent X ?", "text": "Avoid Y."},
        "C_3_Sec1": {"file": "C_3_y.md", "question": "", "text": "no question written"},
    }
    questions = {q.text: q for q in page_questions(answers)}
    assert set(questions) == {"What causes X ?", "How to prevent X ?"}
    assert {g.file for g in questions["What causes X ?"].gold} == {"A_1_x.md", "B_2_x.md"}
    assert [g.text for g in questions["How to prevent X ?"].gold] == ["avoid y"]


def test_metrics_count_only_questions_with_gold_but_no_answer_counts_all() -> None:
    questions = [BenchQuestion("1", "q1", GOLD), BenchQuestion("2", "q2", GOLD), BenchQuestion("3", "q3", ())]
    answers = {
        "q1": [("x.md", "nothing"), ("CDC_0000014_anaplasmosis.md", "caused by the bacterium anaplasma")],
        "q2": [],
        "q3": [],
    }
    run = run_system("fake", lambda q: answers[q], questions)
    assert run.ranks == [2, None, None]
    assert run.hit_at(1) == 0.0 and run.hit_at(3) == 0.5
    assert run.mrr() == pytest.approx(0.25)
    assert run.no_answer() == pytest.approx(2 / 3)


def test_paired_bootstrap_interval_brackets_the_mean_and_excludes_zero_for_a_clear_gain() -> None:
    better = SystemRun("a", ranks=[1] * 40 + [2] * 10, judged=[True] * 50)
    worse = SystemRun("b", ranks=[2] * 40 + [None] * 10, judged=[True] * 50)
    mean, low, high = paired_bootstrap(better, worse, reciprocal)
    assert low <= mean <= high
    assert mean == pytest.approx((40 * 0.5 + 10 * 0.5) / 50)
    assert low > 0
    same = paired_bootstrap(better, better, reciprocal)
    assert same == (0.0, 0.0, 0.0)


def test_a_large_set_is_spread_out_to_every_kth_question_and_a_small_one_kept() -> None:
    questions = [BenchQuestion(str(i), f"q{i}", GOLD) for i in range(10)]
    assert [q.id for q in spread_out(questions, 4)] == ["0", "3", "6", "9"]
    assert [q.id for q in spread_out(questions, 5)] == ["0", "2", "4", "6", "8"]
    assert spread_out(questions, 10) == questions and spread_out(questions, None) == questions


# The benchmark corpora's indexes are kept between runs in a git-ignored folder, as `make eval` keeps its own in
# index/benchmarks/: they are checked against the corpus and the code like any index and rebuilt when stale, but
# encoding their 6,600 passages with the sentence model (about two minutes) is paid once, not on every run.
BENCHMARK_INDEXES = Path(__file__).resolve().parent.parent / ".test-cache" / "index"


@pytest.mark.timeout(900)  # two builds that encode 6,600 passages with the sentence model (the first run only)
@pytest.mark.skipif(
    not (benchmarks_dir() / "questions-dev.json").is_file(),
    reason=f"shared benchmark data not found in {benchmarks_dir()} (set BOT_BENCHMARKS_DIR)",
)
def test_quality_floors_on_the_shared_benchmarks(tmp_path: Path) -> None:
    """MedQuAD and real LiveQA questions: well above plain rank-bm25, and real questions answered.

    The peers are not run here (rank-bm25 alone takes half a minute on the held-out set): `make eval` prints
    them, with the intervals. The floors are far above them: rank-bm25 scores MRR@10 0.619, 0.637 and 0.542 on
    these three sets, the sentence model alone 0.853, 0.796 and 0.855.
    """
    settings = replace(Settings(), index_dir=BENCHMARK_INDEXES, data_dir=tmp_path / "data", background_vectors=False)
    results = {bench.name: runs for bench, runs in run_benchmarks(settings, with_peers=False, at_most=800)}
    (bot,) = results["medquad-dev"]
    assert bot.mrr() >= 0.97  # 0.991 here (0.955 before the fitted ranking)
    assert bot.no_answer() == 0.0
    (bot,) = results["liveqa-dev"]
    assert bot.mrr() >= 0.75  # 0.794 here (0.765 before the fitted ranking)
    assert bot.no_answer() <= 0.10
    (bot,) = results["medquad-liveqa-pages"]  # held out: no parameter fitted on it; every third question here
    assert len(bot.scored()) > 700  # 772 of 2,316 (make eval asks them all)
    assert bot.mrr() >= 0.94  # 0.962 on all 2,316 (0.918 before)
    assert bot.no_answer() <= 0.01  # 1 of 2,316


@pytest.mark.skipif(
    not (benchmarks_dir() / "questions-dev.json").is_file(),
    reason=f"shared benchmark data not found in {benchmarks_dir()} (set BOT_BENCHMARKS_DIR)",
)
def test_real_health_questions_asked_of_the_vitamin_article_are_mostly_refused(built_seed: Settings) -> None:
    """Questions about conditions the vitamin article never mentions get "nothing found", not a vitamin passage."""
    engine = Engine(built_seed)
    engine.open()
    shares = {bench.name: answered_share(engine, spread_out(bench.questions, 800)) for bench in load_sets()}
    assert shares["medquad-dev"] <= 0.10 and shares["liveqa-dev"] <= 0.20 and shares["medquad-liveqa-pages"] <= 0.10, (
        shares
    )

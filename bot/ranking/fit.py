"""Fit the scorer and the answer decision on the training split; write bot/data/ranking-model.json.

    .venv/bin/python -m bot.ranking.fit [--benchmarks DIR] [--index DIR] [--false-answer-rate 0.1]

Data: ``<benchmarks>/train/``: 898 MedQuAD pages and their 3,372 questions, in no other set.

- **Scorer.** For every training question, the candidates (by words and by meaning) with their
  features, each labelled by the benchmark's hit rule. The weights maximise the likelihood of the
  answering passages under a softmax over each question's candidates (listwise), with a little L2.
- **Answer decision.** A logistic model of "this passage answers" over the scorer's score and
  question-level features. Positives and negatives: each question's best candidate on the
  full training corpus (labelled by the hit rule), the best candidate when the question's own pages
  are left out (a realistic "nothing here"), and the best candidate when the question is asked of
  the seed article (off-topic). The threshold is the lowest that answers at most the stated share
  of the off-topic questions (2% by default); the share of left-out questions it answers is
  recorded beside it.

Two fits are written: with sentence vectors and by words alone. Dev sets are never read here.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bot.benchmarks import BenchQuestion, benchmarks_dir, gold_answers, is_benchmark_hit
from bot.benchmarks import load_json as load_benchmark_json
from bot.builder import encoder_path
from bot.config import PROJECT_ROOT, Settings, load_settings
from bot.engine import Engine, clean_question
from bot.errors import BotError
from bot.ranking import candidates, features
from bot.ranking.features import CONFIDENCE_FEATURES, SCORER_FEATURES, WORDS_ONLY
from bot.ranking.model import MODEL_FILE, Fit, Linear, RankingModel
from bot.vector_build import encode_pending

L2 = 1e-3
STEPS = 1500
OFF_TOPIC_QUESTIONS = 1200  # training questions also asked of the seed article
LONG = "-long"  # id suffix of a padded training question (long_messages)
TOP_ROWS = 1  # candidates per question the answer decision learns from: the best decides


class Example(NamedTuple):
    """One question's candidates: features, labels, and which passage sources they come from."""

    matrix: np.ndarray
    labels: np.ndarray
    sources: list[str]
    question: dict[str, float]


def train_questions(root: Path) -> tuple[list[BenchQuestion], Path]:
    """The training split's questions with their gold answers, and its corpus folder."""
    train = root / "train"
    answers = load_benchmark_json(train / "answers.json")
    questions = [
        BenchQuestion(str(q["id"]), str(q["question"]), gold_answers(q["gold"], answers))
        for q in load_benchmark_json(train / "questions.json")
    ]
    return [q for q in questions if q.gold], train / "corpus"


def collect(engine: Engine, questions: list[BenchQuestion], with_meaning: bool) -> list[Example | None]:
    """Each question's candidates and features on the engine's index (None: no candidate at all)."""
    snap = engine.snapshot()
    searcher = snap.searcher
    if with_meaning and not searcher.retriever.has_vectors():
        raise BotError(f"the index in {engine.settings.index_dir} has no passage vectors: cannot fit by meaning")
    examples: list[Example | None] = []
    for q in questions:
        query = snap.analyzer.analyse(clean_question(q.text), ())
        if not query.concepts:
            examples.append(None)
            continue
        asked = searcher.question_vector(query) if with_meaning else None
        found = candidates.gather(searcher.retriever, query, asked)
        if not len(found.doc_ids):
            examples.append(None)
            continue
        feats = features.compute(searcher, query, found)
        passages = [searcher.passages[int(d)] for d in found.doc_ids]
        labels = np.array([is_benchmark_hit(p.source, p.text, q.gold) for p in passages], dtype=np.float64)
        examples.append(Example(feats.matrix, labels, [p.source for p in passages], feats.question))
    return examples


def fit_listwise(examples: list[Example], columns: list[int]) -> np.ndarray:
    """Weights maximising the softmax likelihood of each question's answering candidates (Adam, L2)."""
    usable = [e for e in examples if e.labels.any()]
    width = max(len(e.labels) for e in usable)
    x = np.zeros((len(usable), width, len(columns)))
    y = np.zeros((len(usable), width))
    mask = np.zeros((len(usable), width), dtype=bool)
    for i, e in enumerate(usable):
        x[i, : len(e.labels)] = e.matrix[:, columns]
        y[i, : len(e.labels)] = e.labels
        mask[i, : len(e.labels)] = True
    w = np.zeros(len(columns))
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, STEPS + 1):
        s = np.where(mask, x @ w, -np.inf)
        s -= s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        pos = p * y
        q = pos / pos.sum(axis=1, keepdims=True)
        grad = np.einsum("qn,qnd->d", p - q, x) / len(usable) + L2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w


def fit_logistic(z: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method, with a little L2 on the weights (not the bias)."""
    x = np.column_stack((z, np.ones(len(z))))
    w = np.zeros(x.shape[1])
    ridge = np.eye(x.shape[1]) * L2 * len(z)
    ridge[-1, -1] = 0
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - labels) + ridge @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge + np.eye(x.shape[1]) * 1e-9
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def confidence_rows(
    example: Example, scorer: Linear, leave_out: set[str] | None, rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Answer-decision inputs and labels for the best `rows` candidates (own pages left out when given)."""
    keep = np.ones(len(example.labels), dtype=bool)
    if leave_out is not None:
        keep = np.array([s not in leave_out for s in example.sources])
    if not keep.any():
        return np.zeros((0, len(CONFIDENCE_FEATURES))), np.zeros(0)
    idx = np.flatnonzero(keep)
    scores = scorer(example.matrix[idx])
    z = features.confidence_inputs(example.matrix[idx], scores, example.question)
    top = np.argsort(-scores, kind="stable")[:rows]
    labels = example.labels[idx][top] if leave_out is None else np.zeros(len(top))
    return z[top], labels


def fit_variant(
    train: list[Example | None],
    offtopic: list[Example | None],
    questions: list[BenchQuestion],
    meaning: bool,
    rate: float,
    without: frozenset[str] = frozenset(),
) -> tuple[Fit, dict[str, float]]:
    """One fit (with or without the meaning features) and its training figures."""
    columns = [
        i for i, name in enumerate(SCORER_FEATURES) if (meaning or name not in WORDS_ONLY) and name not in without
    ]
    usable = [e for e in train if e is not None]
    weights = np.zeros(len(SCORER_FEATURES))
    weights[columns] = fit_listwise(usable, columns)
    scorer = Linear(SCORER_FEATURES, weights)
    z_parts, y_parts, negatives, asked, left_out = [], [], [], [], []
    for e, q in zip(train, questions):
        if e is None:
            continue
        z, y = confidence_rows(e, scorer, None, TOP_ROWS)
        z_parts.append(z)
        y_parts.append(y)
        asked.append(z)
        if q.id.endswith(LONG):
            continue  # with its own pages left out, the best may rightly answer the padding's question
        z, y = confidence_rows(e, scorer, {g.file for g in q.gold}, 1)
        z_parts.append(z)
        y_parts.append(y)
        left_out.append(z)
    for e in offtopic:
        if e is not None:
            z, y = confidence_rows(e, scorer, None, 1)
            z_parts.append(z)
            y_parts.append(np.zeros(len(y)))
            negatives.append(z)
    z_all, y_all = np.concatenate(z_parts), np.concatenate(y_parts)
    a, bias = fit_logistic(z_all, y_all)
    confidence = Linear(CONFIDENCE_FEATURES, a, bias)
    neg = 1 / (1 + np.exp(-np.clip(confidence(np.concatenate(negatives)), -30, 30)))
    threshold = float(np.quantile(neg, 1 - rate))
    near = 1 / (1 + np.exp(-np.clip(confidence(np.concatenate(left_out)), -30, 30)))
    ranks = []
    for e in usable:
        order = np.argsort(-scorer(e.matrix), kind="stable")
        hit = np.flatnonzero(e.labels[order][:10])
        ranks.append(1 / (hit[0] + 1) if len(hit) else 0.0)
    on_topic = 1 / (1 + np.exp(-np.clip(confidence(np.concatenate(asked)), -30, 30)))
    answered = float(np.mean(on_topic >= threshold))
    figures = {
        "train_mrr10": float(np.mean(ranks)),
        "train_questions": len(usable),
        "train_answered": answered,
        "off_topic_negatives": len(neg),
        "threshold": threshold,
        "answered_with_own_pages_left_out": float(np.mean(near >= threshold)),
    }
    note = (
        f"fitted on {len(usable)} training questions; the threshold answers {rate:.0%} of {len(neg)} "
        "off-topic ones (training questions asked of the seed article)"
    )
    return Fit(scorer, confidence, threshold, note), figures


def long_messages(questions: list[BenchQuestion], count: int) -> list[BenchQuestion]:
    """Questions padded like the messages people send: the question, then an unrelated page's question.

    People write a subject, the question and what surrounds it ("my daughter takes X, ...").
    The padding teaches the scorer and the decision that words naming other things are no
    evidence; the gold answers stay the first question's.
    """
    rng = random.Random(11)
    picked = rng.sample(questions, min(count, len(questions)))
    long = []
    for q in picked:
        other = rng.choice(questions)
        while {g.file for g in other.gold} & {g.file for g in q.gold}:
            other = rng.choice(questions)
        long.append(BenchQuestion(f"{q.id}{LONG}", f"{q.text} {other.text}", q.gold))
    return long


def engine_for(corpus: Path, settings: Settings, name: str) -> Engine:
    """An engine over `corpus`, its index in <index dir>/benchmarks/<name>."""
    engine = Engine(
        replace(
            settings,
            corpus_dir=corpus,
            index_dir=settings.index_dir / "benchmarks" / name,
            synonyms_file=corpus / "synonyms.conf",
            reload_seconds=3600,
            background_vectors=False,  # the meaning fit needs every passage vector before collecting
        )
    )
    snapshot = engine.open()
    if snapshot.index.vectors is None and engine.settings.semantic:  # a build whose vectors are still pending
        encode_pending(engine.settings.index_dir, encoder_path(engine.settings))
        engine.live.reload()
    return engine


def cached(folder: Path | None, name: str, make: Callable[[], list[Example | None]]) -> list[Example | None]:
    """`make()`, kept as JSON in `folder` (features only: refitting with other options skips collecting)."""
    path = folder / f"{name}.json" if folder else None
    if path is not None and path.is_file():
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [
            None if r is None else Example(np.array(r[0]).reshape(-1, len(SCORER_FEATURES)), np.array(r[1]), r[2], r[3])
            for r in rows
        ]
    examples = make()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [None if e is None else [e.matrix.tolist(), e.labels.tolist(), e.sources, e.question] for e in examples]
        path.write_text(json.dumps(rows), encoding="utf-8")
    return examples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.ranking.fit", description=__doc__.split("\n")[0])
    parser.add_argument("--benchmarks", type=Path, default=None, help="the medquad folder (default: ../shared/...)")
    parser.add_argument("--index", type=Path, default=None, help="where the training indexes go")
    parser.add_argument(
        "--false-answer-rate", type=float, default=0.02, help="share of off-topic questions answered (default 0.02)"
    )
    parser.add_argument(
        "--long-messages",
        type=int,
        default=1500,
        help="also train on this many long messages: a question followed by another page's question",
    )
    parser.add_argument("--without", nargs="*", default=[], help="scorer features to leave out (weight 0)")
    parser.add_argument("--cache", type=Path, default=None, help="keep the collected features here, for refits")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bot" / "data" / MODEL_FILE)
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.index:
        settings = replace(settings, index_dir=args.index)
    root = args.benchmarks or benchmarks_dir()
    questions, corpus = train_questions(root)
    started = time.time()
    train_engine = engine_for(corpus, settings, "train")
    seed_engine = engine_for(PROJECT_ROOT / "corpus", settings, "seed")
    offtopic = random.Random(7).sample(questions, min(OFF_TOPIC_QUESTIONS, len(questions)))
    fits: dict[str, Fit] = {}
    info: dict[str, object] = {
        "training": "shared/benchmarks/medquad/train",
        "false_answer_rate": args.false_answer_rate,
    }
    for name, meaning in (("meaning", True), ("words", False)):
        train = cached(args.cache, f"train-{name}", functools.partial(collect, train_engine, questions, meaning))
        off = cached(args.cache, f"offtopic-{name}", functools.partial(collect, seed_engine, offtopic, meaning))
        asked = questions
        if args.long_messages:
            long = long_messages(questions, args.long_messages)
            train += cached(args.cache, f"long-{name}", functools.partial(collect, train_engine, long, meaning))
            off += cached(
                args.cache, f"offtopic-long-{name}", functools.partial(collect, seed_engine, long[:400], meaning)
            )
            asked = questions + long
        fit, figures = fit_variant(train, off, asked, meaning, args.false_answer_rate, frozenset(args.without))
        fits[name] = fit
        info[name] = figures
        print(f"{name}: {json.dumps(figures)}  ({time.time() - started:.0f} s)", file=sys.stderr)
        for feature, weight in zip(SCORER_FEATURES, fit.scorer.weights):
            print(f"  {feature:<14} {weight:+.3f}", file=sys.stderr)
    model = RankingModel(fits["meaning"], fits["words"], info)
    args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Score the bot on the shared health benchmarks (MedQuAD, TREC LiveQA) beside a plain rank-bm25 baseline.

The data lives outside the repository, in ``../shared/benchmarks/medquad/`` (or ``BOT_BENCHMARKS_DIR``);
see its README for the sources, the licence and how a hit is judged: a result is a hit when it
comes from a gold answer's article and some 80-character window of its normalised text occurs in
that answer's normalised text.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import benchmarks_dir
from bot.errors import BotError
from bot.models import Passage

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.engine import Engine

WINDOW = 80
DEPTH = 10
FUSION_DEPTH = 100  # each side's list that reciprocal rank fusion reads
NON_ALNUM = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class GoldAnswer:
    """A judged answer: the article file that holds it and its normalised text."""

    file: str
    text: str


@dataclass(frozen=True)
class BenchQuestion:
    id: str
    text: str
    gold: tuple[GoldAnswer, ...]


@dataclass(frozen=True)
class BenchSet:
    """A benchmark: a corpus folder and its questions."""

    name: str
    corpus: Path
    questions: tuple[BenchQuestion, ...]


def normalise_for_match(text: str) -> str:
    """Lower case, alphanumeric words, single spaces (the benchmark's matching form)."""
    return NON_ALNUM.sub(" ", text.lower()).strip()


def load_json(path: Path) -> Any:
    """A benchmark file's JSON (a list of questions or a dict of answers)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BotError(f"cannot read benchmark file {path}: {exc}") from None


def gold_answers(ids: Sequence[str], answers: dict[str, dict[str, str]]) -> tuple[GoldAnswer, ...]:
    return tuple(GoldAnswer(answers[a]["file"], normalise_for_match(answers[a]["text"])) for a in ids if a in answers)


def page_questions(answers: dict[str, dict[str, str]]) -> tuple[BenchQuestion, ...]:
    """MedQuAD's own question for each answer; a question written for several pages accepts each of their answers.

    Questions are the same when they differ only in case and spacing ("Heart Block", "Heart
    block"): the bot reads them alike, so one of them cannot be right where the other is wrong.
    """
    ids: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    for answer_id, answer in answers.items():
        question = " ".join(str(answer.get("question", "")).split())
        if question:
            key = question.lower()
            texts.setdefault(key, question)
            ids.setdefault(key, []).append(answer_id)
    return tuple(
        BenchQuestion(f"page-{i}", texts[key], gold_answers(found, answers))
        for i, (key, found) in enumerate(sorted(ids.items()))
    )


def load_sets(root: Path | None = None) -> list[BenchSet]:
    """The shared sets: MedQuAD dev, LiveQA dev (original wording, strict gold) and MedQuAD's questions for the
    LiveQA pages.

    The third set is held out: MedQuAD wrote a question for each section of the 1,000 LiveQA
    pages (``answers-liveqa.json``). No parameter was fitted on those questions; reading their
    misses led to two rules (bot.query.information_request, Searcher.asks_about_unknown_name).
    """
    root = root or benchmarks_dir()
    if not (root / "questions-dev.json").is_file():
        raise BotError(f"benchmark data not found in {root}; set BOT_BENCHMARKS_DIR to the medquad folder")
    med_answers = load_json(root / "answers-dev.json")
    med = [
        BenchQuestion(str(q["id"]), str(q["question"]), gold_answers(q["gold"], med_answers))
        for q in load_json(root / "questions-dev.json")
    ]
    live_answers = load_json(root / "answers-liveqa.json")
    live = [
        BenchQuestion(str(q["id"]), str(q["original"]), gold_answers(q["gold_strict"], live_answers))
        for q in load_json(root / "questions-liveqa-dev.json")
    ]
    return [
        BenchSet("medquad-dev", root / "corpus-dev", tuple(med)),
        BenchSet("liveqa-dev", root / "corpus-liveqa", tuple(live)),
        BenchSet("medquad-liveqa-pages", root / "corpus-liveqa", page_questions(live_answers)),
    ]


def is_benchmark_hit(source: str, text: str, gold: Sequence[GoldAnswer]) -> bool:
    """The shared benchmark's hit rule for one returned passage."""
    passage = normalise_for_match(text)
    if not passage:
        return False
    for answer in gold:
        if answer.file != source:
            continue
        if len(passage) <= WINDOW:
            if passage in answer.text:
                return True
            continue
        if any(passage[i : i + WINDOW] in answer.text for i in range(0, len(passage) - WINDOW + 1)):
            return True
    return False


@dataclass
class SystemRun:
    """One system's results on one set: first-hit rank per question (None: no hit), answered flags, times."""

    name: str
    ranks: list[int | None] = field(default_factory=list)
    answered: list[bool] = field(default_factory=list)
    judged: list[bool] = field(default_factory=list)  # has a gold answer
    seconds: list[float] = field(default_factory=list)

    def scored(self) -> list[int | None]:
        return [r for r, j in zip(self.ranks, self.judged) if j]

    def hit_at(self, k: int) -> float:
        ranks = self.scored()
        return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0

    def mrr(self) -> float:
        ranks = self.scored()
        return sum(1 / r for r in ranks if r is not None) / len(ranks) if ranks else 0.0

    def no_answer(self) -> float:
        return sum(1 for a in self.answered if not a) / len(self.answered) if self.answered else 0.0

    def ms_per_question(self) -> float:
        return 1000 * sum(self.seconds) / len(self.seconds) if self.seconds else 0.0

    def metrics(self) -> dict[str, float]:
        return {
            "hit@1": self.hit_at(1),
            "hit@3": self.hit_at(3),
            "hit@10": self.hit_at(10),
            "mrr@10": self.mrr(),
            "no_answer": self.no_answer(),
            "ms": self.ms_per_question(),
        }


Ranker = Callable[[str], list[tuple[str, str]]]  # question -> [(source file, passage text)] best first


def run_system(name: str, rank: Ranker, questions: Sequence[BenchQuestion]) -> SystemRun:
    """Ask every question and record the rank of the first hit within the top DEPTH."""
    run = SystemRun(name)
    for q in questions:
        started = time.perf_counter()
        results = rank(q.text)[:DEPTH]
        run.seconds.append(time.perf_counter() - started)
        run.answered.append(bool(results))
        run.judged.append(bool(q.gold))
        run.ranks.append(
            next((i for i, (src, text) in enumerate(results, 1) if is_benchmark_hit(src, text, q.gold)), None)
        )
    return run


def reciprocal(rank: int | None) -> float:
    return 1 / rank if rank else 0.0


def paired_bootstrap(
    a: SystemRun, b: SystemRun, metric: Callable[[int | None], float], samples: int = 2000, seed: int = 7
) -> tuple[float, float, float]:
    """Mean difference a - b of a per-question metric, with a 95% paired bootstrap interval."""
    xs = [metric(r) for r in a.scored()]
    ys = [metric(r) for r in b.scored()]
    n = len(xs)
    if n == 0:
        return 0.0, 0.0, 0.0
    diffs = [x - y for x, y in zip(xs, ys)]
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    return sum(diffs) / n, means[int(0.025 * samples)], means[int(0.975 * samples) - 1]


def bm25_scorer(passages: Sequence[Passage]) -> Callable[[str], Any]:
    """Plain rank-bm25 BM25Okapi over the same passages (Snowball stems, stopwords, section titles in the text)."""
    from rank_bm25 import BM25Okapi

    from bot.text import terms

    model = BM25Okapi([terms(f"{p.section} {p.subsection} {p.text}") for p in passages])
    return lambda question: model.get_scores(terms(question))


def bm25_baseline(passages: Sequence[Passage]) -> Ranker:
    """Plain rank-bm25 as a ranker (the baseline)."""
    import numpy as np

    scores = bm25_scorer(passages)

    def rank(question: str) -> list[tuple[str, str]]:
        top = np.argsort(-scores(question), kind="stable")[:DEPTH]
        return [(passages[i].source, passages[i].text) for i in top]

    return rank


def meaning_order(engine: Engine) -> Callable[[str], Any] | None:
    """Passage ids nearest the question by the bot's own sentence model alone (None without vectors)."""
    from bot.query import clip_question

    searcher = engine.snapshot().searcher
    if searcher.encoder is None or not searcher.retriever.has_vectors():
        return None
    encoder, retriever = searcher.encoder, searcher.retriever
    return lambda question: retriever.nearest(encoder.encode([clip_question(question)])[0], FUSION_DEPTH).doc_ids


def meaning_ranker(engine: Engine) -> Ranker | None:
    """The sentence model alone: the nearest passages by cosine (an anchor)."""
    order = meaning_order(engine)
    if order is None:
        return None
    passages = engine.snapshot().index.passages
    return lambda question: [(passages[i].source, passages[i].text) for i in order(question)[:DEPTH].tolist()]


def fusion_ranker(engine: Engine, k: int = 60) -> Ranker | None:
    """Hybrid reciprocal rank fusion of rank-bm25 and the sentence model alone, k = 60 (an anchor)."""
    import numpy as np

    order = meaning_order(engine)
    if order is None:
        return None
    passages = engine.snapshot().index.passages
    scores = bm25_scorer(passages)

    def rank(question: str) -> list[tuple[str, str]]:
        fused: dict[int, float] = {}
        words = np.argsort(-scores(question), kind="stable")[:FUSION_DEPTH]
        for ranked in (words.tolist(), order(question).tolist()):
            for place, doc in enumerate(ranked, 1):
                fused[doc] = fused.get(doc, 0.0) + 1 / (k + place)
        best = sorted(fused, key=lambda d: (-fused[d], d))[:DEPTH]
        return [(passages[i].source, passages[i].text) for i in best]

    return rank


def format_table(set_name: str, runs: Sequence[SystemRun]) -> str:
    """One row per system, then the paired differences of the first system against each other one."""
    lines = [
        f"== {set_name}",
        f"{'system':<16} {'hit@1':>6} {'hit@3':>6} {'hit@10':>6} {'MRR@10':>7} {'no ans':>7} {'ms/q':>7}",
    ]
    for run in runs:
        m = run.metrics()
        lines.append(
            f"{run.name:<16} {m['hit@1']:6.3f} {m['hit@3']:6.3f} {m['hit@10']:6.3f} {m['mrr@10']:7.3f} "
            f"{m['no_answer']:7.1%} {m['ms']:7.1f}"
        )
    bot = runs[0]
    for other in runs[1:]:
        for label, metric in (("MRR@10", reciprocal), ("hit@1", lambda r: 1.0 if r == 1 else 0.0)):
            mean, low, high = paired_bootstrap(bot, other, metric)
            lines.append(f"  {bot.name} - {other.name} {label}: {mean:+.3f} (95% CI {low:+.3f} .. {high:+.3f})")
    lines.append(f"  ({len(bot.scored())} questions with a gold answer of {len(bot.ranks)})")
    return "\n".join(lines)


def bot_ranker(engine: Engine, limit: int = DEPTH) -> Ranker:
    """The bot's answers as a ranker: each question asked on its own, without conversation."""

    def rank(question: str) -> list[tuple[str, str]]:
        return [(r.source, r.text) for r in engine.answer(question, None, limit=limit).results]

    return rank


def benchmark_engine(bench: BenchSet, settings: Settings) -> Engine:
    """An engine over the benchmark's corpus, its index kept in <index dir>/benchmarks/<corpus folder name>."""
    from dataclasses import replace

    from bot.engine import Engine

    index_dir = settings.index_dir / "benchmarks" / bench.corpus.name
    engine = Engine(
        replace(
            settings,
            corpus_dir=bench.corpus,
            index_dir=index_dir,
            synonyms_file=bench.corpus / "synonyms.conf",
            reload_seconds=3600,
        )
    )
    engine.open()
    return engine


def answered_share(engine: Engine, questions: Sequence[BenchQuestion]) -> float:
    """The share of the questions the engine answers at all (asked of a corpus about something else, the false-answer
    rate)."""
    if not questions:
        return 0.0
    return sum(1 for q in questions if engine.answer(q.text, None, limit=1).results) / len(questions)


def spread_out(questions: Sequence[BenchQuestion], at_most: int | None) -> Sequence[BenchQuestion]:
    """All the questions, or every k-th of them, the fewest k that leaves at most `at_most`."""
    if at_most is None or len(questions) <= at_most:
        return questions
    return questions[:: -(-len(questions) // at_most)]


def run_benchmarks(
    settings: Settings, root: Path | None = None, with_peers: bool = True, at_most: int | None = None
) -> list[tuple[BenchSet, list[SystemRun]]]:
    """Each shared set: the bot, then (with peers) rank-bm25 on the same passages, the sentence model alone and
    hybrid reciprocal rank fusion. With `at_most`, a larger set is cut to every k-th question (spread_out)."""
    results = []
    engines: dict[Path, tuple[Engine, list[tuple[str, Ranker]]]] = {}  # two sets share the LiveQA pages
    for bench in load_sets(root):
        if bench.corpus not in engines:
            engine = benchmark_engine(bench, settings)
            others: list[tuple[str, Ranker]] = []
            if with_peers:
                others.append(("rank-bm25", bm25_baseline(engine.snapshot().index.passages)))
                for name, ranker in (("meaning alone", meaning_ranker(engine)), ("hybrid RRF", fusion_ranker(engine))):
                    if ranker is not None:
                        others.append((name, ranker))
            engines[bench.corpus] = (engine, others)
        engine, others = engines[bench.corpus]
        questions = spread_out(bench.questions, at_most)
        runs = [run_system("bot", bot_ranker(engine), questions)]
        runs += [run_system(name, ranker, questions) for name, ranker in others]
        results.append((bench, runs))
    return results

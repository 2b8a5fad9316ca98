"""Score answer quality on a question file: hit@1, hit@3, MRR, no-answer rate and follow-up accuracy."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.answers import Answer, Result
from bot.engine import Engine
from bot.errors import BotError


@dataclass(frozen=True)
class Case:
    """One evaluation question; see tests/eval/README.md for the file format."""

    id: str
    question: str
    context: tuple[str, ...] = ()
    expect_text: tuple[str, ...] = ()
    expect_section: str = ""
    expect_article: str = ""
    off_topic: bool = False
    tags: tuple[str, ...] = ()


@dataclass
class Outcome:
    case: Case
    answer: Answer
    rank: int | None  # 1-based rank of the first hit, None if no hit


@dataclass
class EvalReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def on_topic(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.case.off_topic]

    def off_topic(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.off_topic]

    def follow_ups(self) -> list[Outcome]:
        return [o for o in self.on_topic() if o.case.context]

    def hit_at(self, k: int) -> float:
        cases = self.on_topic()
        return sum(1 for o in cases if o.rank is not None and o.rank <= k) / len(cases) if cases else 0.0

    def mrr(self) -> float:
        cases = self.on_topic()
        return sum(1 / o.rank for o in cases if o.rank) / len(cases) if cases else 0.0

    def no_answer_rate(self) -> float:
        cases = self.off_topic()
        return sum(1 for o in cases if not o.answer.results) / len(cases) if cases else 0.0

    def follow_up_accuracy(self) -> float:
        cases = self.follow_ups()
        return sum(1 for o in cases if o.rank == 1) / len(cases) if cases else 0.0

    def answer_sentence_rate(self) -> float:
        """Of the first results that are hits by their expected text, the share whose answer sentence holds that
        text."""
        firsts = [o for o in self.on_topic() if o.rank == 1 and o.case.expect_text]
        held = sum(
            1 for o in firsts if any(p.lower() in o.answer.results[0].answer.lower() for p in o.case.expect_text)
        )
        return held / len(firsts) if firsts else 0.0

    def misses(self) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if (o.case.off_topic and o.answer.results) or (not o.case.off_topic and o.rank != 1)
        ]

    def metrics(self) -> dict[str, float]:
        return {
            "hit@1": self.hit_at(1),
            "hit@3": self.hit_at(3),
            "mrr": self.mrr(),
            "no_answer_rate": self.no_answer_rate(),
            "follow_up_accuracy": self.follow_up_accuracy(),
            "answer_sentence": self.answer_sentence_rate(),
        }


def load_cases(path: Path) -> list[Case]:
    """Read a JSON Lines question file, with a clear error naming the bad line."""
    cases: list[Case] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BotError(f"cannot read question file {path}: {exc}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
            cases.append(case_from_json(data, n))
        except (json.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
            raise BotError(f"{path}:{n}: not a valid question ({exc})") from None
    if not cases:
        raise BotError(f"{path} holds no questions")
    return cases


def string_list(data: dict[str, Any], key: str) -> tuple[str, ...]:
    """A field that must be a list of strings (a bare string would be read letter by letter)."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key!r} must be a list of strings")
    return tuple(value)


def string_field(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string")
    return value


def case_from_json(data: Any, line: int) -> Case:
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    if not isinstance(data.get("question"), str):
        raise ValueError("'question' must be a string")
    if not isinstance(data.get("off_topic", False), bool):
        raise ValueError("'off_topic' must be true or false")
    case = Case(
        id=str(data.get("id", f"line-{line}")),
        question=data["question"],
        context=string_list(data, "context"),
        expect_text=string_list(data, "expect_text"),
        expect_section=string_field(data, "expect_section"),
        expect_article=string_field(data, "expect_article"),
        off_topic=data.get("off_topic", False),
        tags=string_list(data, "tags"),
    )
    if not case.off_topic and not (case.expect_text or case.expect_section or case.expect_article):
        raise ValueError("an on-topic question needs expect_text, expect_section or expect_article")
    return case


def is_hit(result: Result, case: Case) -> bool:
    """True when the result meets every expectation the case states."""
    if case.expect_text and not any(p.lower() in result.text.lower() for p in case.expect_text):
        return False
    if case.expect_section and case.expect_section.lower() not in (result.section.lower(), result.subsection.lower()):
        return False
    if case.expect_article and case.expect_article.lower() not in (result.source.lower(), result.article.lower()):
        return False
    return True


def evaluate(engine: Engine, cases: list[Case], depth: int = 10) -> EvalReport:
    """Ask every case in its own conversation (context turns first) and record the hit rank."""
    report = EvalReport()
    for case in cases:
        conversation = f"eval-{uuid.uuid4().hex}"
        for turn in case.context:
            engine.answer(turn, conversation)
        answer = engine.answer(case.question, conversation, limit=depth)
        rank = next((i for i, r in enumerate(answer.results, 1) if is_hit(r, case)), None)
        report.outcomes.append(Outcome(case, answer, None if case.off_topic else rank))
        engine.reset(conversation)
    return report


def format_report(report: EvalReport, show_misses: bool = True) -> str:
    """The metrics, then each miss with what was returned instead."""
    on, off, fu = report.on_topic(), report.off_topic(), report.follow_ups()
    m = report.metrics()
    lines = [
        f"questions: {len(report.outcomes)} ({len(on)} on-topic, {len(off)} off-topic, {len(fu)} follow-ups)",
        f"hit@1: {m['hit@1']:.3f}   hit@3: {m['hit@3']:.3f}   MRR: {m['mrr']:.3f}",
        f"no-answer rate on off-topic: {m['no_answer_rate']:.3f}   follow-up accuracy (hit@1): "
        f"{m['follow_up_accuracy']:.3f}",
        f"answer sentence holds the expected text (first results that are hits): {m['answer_sentence']:.3f}",
    ]
    if show_misses:
        misses = report.misses()
        lines.append(f"misses: {len(misses)}")
        for o in misses:
            lines.append(describe_miss(o))
    return "\n".join(lines)


def describe_miss(o: Outcome) -> str:
    case, answer = o.case, o.answer
    context = f" (after {' / '.join(case.context)})" if case.context else ""
    if case.off_topic:
        why = "off-topic but answered"
    else:
        why = f"first hit at rank {o.rank}" if o.rank else "no hit in results"
    lines = [f"- [{case.id}] {case.question!r}{context}: {why}; searched {answer.query!r}"]
    for i, r in enumerate(answer.results[:3], 1):
        lines.append(f"    {i}. {r.score:6.2f} {r.heading} | {r.answer[:80]}")
    if not answer.results:
        lines.append("    (no results)")
    return "\n".join(lines)

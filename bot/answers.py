"""What an answer is: ranked results, each with the sentence that best answers the question."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.models import heading_of

if TYPE_CHECKING:
    from bot.search import Hit

EMPTY_QUESTION = "Please type a question in words, for example: {examples}"
NOTHING_FOUND = "Nothing in the articles matches that."
MAX_UNKNOWN_SHOWN = 5


def never_mentioned(words: Sequence[str]) -> str:
    """'They never mention “anal” or “cancer”.' for the words of a question no article uses."""
    quoted = [f"“{w}”" for w in words[:MAX_UNKNOWN_SHOWN]]
    if not quoted:
        return ""
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"They never mention {listed}."


def nearest_topics(headings: Sequence[str]) -> str:
    """'The nearest topics they cover: “Dosage”, “Safety”.' for the best candidates that did not answer."""
    quoted = [f"“{h}”" for h in headings]
    return f"The nearest topics they cover: {', '.join(quoted)}." if quoted else ""


@dataclass(frozen=True)
class Result:
    """One passage as shown to a user."""

    article: str
    source: str
    section: str
    subsection: str
    text: str
    score: float
    answer: str
    highlights: frozenset[str]

    @property
    def heading(self) -> str:
        return heading_of(self.section, self.subsection)

    def to_json(self) -> dict[str, Any]:
        return {
            "article": self.article,
            "section": self.section,
            "subsection": self.subsection,
            "text": self.text,
            "answer": self.answer,
            "score": round(self.score, 4),
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """The result `to_json` wrote; `highlights` is read when present (the CLI's JSON has none)."""
        return cls(
            str(data["article"]),
            str(data["source"]),
            str(data["section"]),
            str(data["subsection"]),
            str(data["text"]),
            float(data["score"]),
            str(data["answer"]),
            frozenset(data.get("highlights", ())),
        )


@dataclass(frozen=True)
class Answer:
    """The reply to one question. `message` explains an empty result."""

    question: str
    query: str
    results: tuple[Result, ...] = ()
    message: str = ""
    corrections: dict[str, str] = field(default_factory=dict)
    follow_up: bool = False
    unknown: tuple[str, ...] = ()  # with no results: the question's words that no article uses
    confidence: float = 0.0  # estimated probability that the best passage answers (bot.ranking), answered or not

    def to_json(self, top_k: int | None = None) -> dict[str, Any]:
        results = self.results if top_k is None else self.results[:top_k]
        data: dict[str, Any] = {
            "question": self.question,
            "query": self.query,
            "confidence": round(self.confidence, 4),
            "results": [r.to_json() for r in results],
        }
        if self.message:
            data["message"] = self.message
        if self.unknown:
            data["unknown"] = list(self.unknown)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        """The answer `to_json` wrote; `corrections` and `follow_up` are read when present."""
        return cls(
            str(data["question"]),
            str(data["query"]),
            tuple(Result.from_json(r) for r in data.get("results", ())),
            str(data.get("message", "")),
            dict(data.get("corrections", {})),
            bool(data.get("follow_up", False)),
            tuple(str(w) for w in data.get("unknown", ())),
            float(data.get("confidence", 0.0)),
        )


def result_of(hit: Hit) -> Result:
    p = hit.passage
    return Result(p.article, p.source, p.section, p.subsection, p.text, hit.score, hit.sentence, hit.matched)

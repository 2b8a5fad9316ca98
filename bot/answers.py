"""What an answer is: ranked results, each with the sentence that best answers the question."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.models import heading_of
from bot.search import Hit

EMPTY_QUESTION = "Please type a question in words, for example: {examples}"
NOTHING_FOUND = "Nothing in the articles matches that."


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


@dataclass(frozen=True)
class Answer:
    """The reply to one question. `message` explains an empty result."""

    question: str
    query: str
    results: tuple[Result, ...] = ()
    message: str = ""
    corrections: dict[str, str] = field(default_factory=dict)
    follow_up: bool = False

    def to_json(self, top_k: int | None = None) -> dict[str, Any]:
        results = self.results if top_k is None else self.results[:top_k]
        data: dict[str, Any] = {"question": self.question, "query": self.query, "results": [r.to_json() for r in results]}
        if self.message:
            data["message"] = self.message
        return data


def result_of(hit: Hit) -> Result:
    p = hit.passage
    return Result(p.article, p.source, p.section, p.subsection, p.text, hit.score, hit.sentence, hit.matched)

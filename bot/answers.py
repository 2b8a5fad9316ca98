"""What an answer is: ranked results, each with the sentence that best answers the question."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.query import Query
from bot.search import Hit, Searcher
from bot.text import split_sentences, tokenize

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
        if self.subsection and self.subsection != self.section:
            return f"{self.section} › {self.subsection}"
        return self.section

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


def best_sentence(text: str, query: Query, searcher: Searcher) -> str:
    """The sentence (or list item) of `text` that holds the most of the question, by IDF."""
    best, best_score = "", -1.0
    for sentence in split_sentences(text):
        stems = {t.stem for t in tokenize(sentence) if not t.stop}
        score = 0.0
        for concept in query.concepts:
            share = max((sum(searcher.idf(s) for s in alt.stems if s in stems) * alt.weight for alt in concept.alternatives), default=0.0)
            score += concept.weight * share
        if score > best_score:
            best, best_score = sentence, score
    return best.lstrip("• ").strip()


def result_of(hit: Hit, query: Query, searcher: Searcher) -> Result:
    p = hit.passage
    return Result(p.article, p.source, p.section, p.subsection, p.text, hit.score, best_sentence(p.text, query, searcher), hit.matched)

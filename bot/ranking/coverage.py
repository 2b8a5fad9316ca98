"""How much of a question a passage or a sentence holds: the one coverage rule, compiled once per question.

A question's concepts weigh their IDF mass (a concept's weight times the IDF of the words typed for
it). A concept counts by its best alternative, in proportion to the IDF of that alternative's words
that are present, scaled by the alternative's weight (at most 1). Coverage is the share of the
question's mass so found. Words the corpus never uses weigh the most, so a question about something
the articles do not cover scores low whatever else matches.

Two readings of that rule, for two uses:

- **candidates** (:meth:`QuestionCoverage.of_candidates`): does the passage answer? WordNet's relatives
  of a question word rank passages but make none an answer, so they do not count here;
- **sentences** (:meth:`QuestionCoverage.of_sentence`): which sentence of a passage answers? Relatives
  count, and so does a member of a synonym group (a passage holds the group's term; its sentences hold
  the words).
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass

import numpy as np

from bot.query import Concept, Query


@dataclass(frozen=True)
class Part:
    """One alternative of a concept, compiled: its words with their IDF, and the scale of a full match."""

    weights: tuple[tuple[str, float], ...]
    scale: float  # min(1, the alternative's weight) / the sum of its words' IDF
    covers: frozenset[str]  # the words a synonym-group term stands for
    related: bool  # a WordNet relative of the word typed

    def share(self, present: Set[str], members: bool) -> float:
        """The share of its concept this alternative holds among `present` (group members count with `members`)."""
        held = sum(w for s, w in self.weights if s in present)
        if not held and members and self.covers and not self.covers.isdisjoint(present):
            held = sum(w for _, w in self.weights)
        return self.scale * held


@dataclass(frozen=True)
class QuestionCoverage:
    """The coverage rule for one question: concepts as (mass, parts), their total, and every word that can count."""

    concepts: tuple[tuple[float, tuple[Part, ...]], ...]
    total: float
    wanted: frozenset[str]

    def of_candidates(self, held: dict[str, np.ndarray], rows: int, most: int | None = None) -> np.ndarray:
        """Each candidate's share of the question, from which words each holds; relatives do not count.

        With `most`, only the question's `most` heaviest concepts count: what a long message is
        about, without its chatter.
        """
        concepts = sorted(self.concepts, key=lambda c: c[0], reverse=True)[:most]
        total = sum(mass for mass, _ in concepts)
        found = np.zeros(rows)
        for mass, parts in concepts:
            share = np.zeros(rows)
            for part in parts:
                if not part.related:
                    share = np.maximum(share, part.scale * sum(w * held[s] for s, w in part.weights))
            found += mass * share
        return found / total if total else found

    def of_sentence(self, present: Set[str]) -> float:
        """The share of the question a sentence's words hold; relatives and synonym-group members count."""
        if not self.total or self.wanted.isdisjoint(present):
            return 0.0
        found = 0.0
        for mass, parts in self.concepts:
            found += mass * max((part.share(present, members=True) for part in parts), default=0.0)
        return found / self.total

    def matched(self, present: Set[str]) -> frozenset[str]:
        """The words of `present` that count for the question, to highlight: a group's members, not its term."""
        words: set[str] = set()
        for _, parts in self.concepts:
            for part in parts:
                stems = {s for s, _ in part.weights}
                hit = stems & present
                if not hit and part.covers and not part.covers.isdisjoint(present):
                    hit = stems
                words.update(hit - part.covers)
                if hit and part.covers:
                    words.update(part.covers & present)
        return frozenset(words)


def concept_mass(concept: Concept, idf: Callable[[str], float]) -> float:
    """A concept's share of the question: its weight times the IDF of the words typed for it."""
    return concept.weight * sum(idf(s) for s in concept.typed.stems)


def question_coverage(query: Query, idf: Callable[[str], float]) -> QuestionCoverage:
    """The coverage rule compiled for one question: the IDF sums computed once, not per passage or sentence."""
    concepts = []
    for concept in query.concepts:
        parts = []
        for alternative in concept.alternatives:
            if alternative.stems:
                weights = tuple((s, idf(s)) for s in alternative.stems)
                scale = min(1.0, alternative.weight) / sum(w for _, w in weights)
                parts.append(Part(weights, scale, frozenset(alternative.covers), alternative.related))
        concepts.append((concept_mass(concept, idf), tuple(parts)))
    wanted = frozenset(s for c in query.concepts for a in c.alternatives for s in (*a.stems, *a.covers))
    return QuestionCoverage(tuple(concepts), sum(m for m, _ in concepts), wanted)

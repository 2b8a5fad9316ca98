"""Rank the passages for a Query and decide which answer: the stages of bot.ranking, and the answer sentence.

Candidates come from the word retriever (:mod:`bot.retrieval`) and, when the index has sentence
vectors, from the nearest passages by meaning (:mod:`bot.encoder`). One fitted linear scorer
orders them, and a fitted confidence model decides which answer (:mod:`bot.ranking`). The cost of
a question is the candidates' (about a hundred), plus one dot product over the passage vectors.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bot.config import Ranking
from bot.definitions import defines
from bot.encoder import SentenceEncoder
from bot.models import Passage
from bot.query import Concept, Query
from bot.ranking import candidates, features
from bot.ranking.coverage import QuestionCoverage, concept_mass, question_coverage
from bot.ranking.model import Fit, RankingModel, shipped_model
from bot.ranking.sentence import answer_sentence, passage_sentences
from bot.retrieval import Retriever
from bot.spelling import common_stems, english_words, one_edit_from_english
from bot.text import terms

log = logging.getLogger(__name__)

NAME_LETTERS = 4  # a shorter word outside the dictionary is as likely an abbreviation ("dr", "tv") as a name
IDF_CACHE = 100_000
UNKNOWN_NAME_MAX_CONCEPTS = 4  # a question about a name no article uses is "short" up to this many concepts


class Hit(NamedTuple):
    """A ranked passage: its index, score, the share of the question it covers, the stems it matched."""

    doc_id: int
    passage: Passage
    score: float
    coverage: float
    matched: frozenset[str]
    sentence: str = ""
    confidence: float = 1.0  # the answer decision's probability that this passage answers


class SearchResult(NamedTuple):
    """A question's ranking, stage by stage: the hits, and the features, scores and probabilities behind them."""

    hits: list[Hit]
    features: features.Features | None
    fit: Fit | None
    scores: np.ndarray
    probability: np.ndarray
    order: np.ndarray  # candidate rows, best first
    query: Query

    @property
    def best_probability(self) -> float:
        """The answer decision's probability for the best-scored candidate (0 without candidates)."""
        return float(self.probability[self.order[0]]) if len(self.order) else 0.0


@dataclass
class Searcher:
    """Ranks the passages of one loaded index and keeps those that answer the question."""

    passages: Sequence[Passage]
    retriever: Retriever
    ranking: Ranking
    encoder: SentenceEncoder | None = None  # finds and ranks passages by meaning too, when the index has vectors
    model: RankingModel | None = None  # default: the shipped fit (bot/data/ranking-model.json)

    def __post_init__(self) -> None:
        self._idf: dict[str, float] = {}
        self._titles: dict[str, frozenset[str]] = {}
        self._section_kinds: dict[frozenset[str], bool] = {}

    def idf(self, stem: str) -> float:
        """IDF over passages; a term the index has never seen counts as the rarest possible."""
        value = self._idf.get(stem)
        if value is None:
            if len(self._idf) >= IDF_CACHE:
                self._idf.clear()
            value = self._idf[stem] = math.log(
                (len(self.passages) + 1) / max(self.retriever.passage_frequency(stem), 0.5)
            )
        return value

    def search(self, query: Query, limit: int = 10) -> list[Hit]:
        """The passages that answer, best first: candidates by words and meaning, one fitted score, a calibrated cut."""
        return self.rank(query, limit).hits

    def rank(self, query: Query, limit: int = 10, keep_all: bool = False) -> SearchResult:
        """Every stage's output for a question; the hits are empty when the best candidate is below the threshold.

        `keep_all` keeps the hits whatever the decision (explain shows them).
        """
        if (
            not query.concepts
            or not self.passages
            or self.asks_about_unknown_name(query)
            or self.asks_only_unknown(query)
        ):
            return SearchResult([], None, None, np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), query)
        asked = self.question_vector(query) if self.retriever.has_vectors() else None
        fit = (self.model or shipped_model()).fit_for(asked is not None)
        found = candidates.gather(self.retriever, query, asked)
        if not len(found.doc_ids):
            return SearchResult([], None, fit, np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), query)
        feats = features.compute(self, query, found, fit.needed)
        scores = fit.scorer(feats.matrix, features.SCORER_FEATURES)
        z = features.confidence_inputs(feats.matrix, scores, feats.question, fit.confidence.features)
        probability = fit.probability(z)
        order = np.lexsort((found.doc_ids, -scores))
        answers = keep_all or bool(probability[order[0]] >= fit.threshold)  # the best candidate decides
        kept = order if answers else order[:0]
        hits: list[Hit] = []
        shown: set[str] = set()
        for row in kept.tolist():
            if len(hits) >= limit:
                break
            doc_id = int(found.doc_ids[row])
            passage = self.passages[doc_id]
            same = " ".join(passage.text.lower().split())
            if same in shown:
                continue  # a page that repeats itself: the same text is shown once
            shown.add(same)
            matched = feats.rule.matched({s for s, flags in feats.held.items() if flags[row]})
            sentence = answer_sentence(
                passage_sentences(passage), feats.rule, asked if not hits else None, self.encoder
            )
            hits.append(
                Hit(
                    doc_id,
                    passage,
                    float(scores[row]),
                    float(feats.coverage[row]),
                    matched,
                    sentence,
                    float(probability[row]),
                )
            )
        return SearchResult(hits, feats, fit, scores, probability, order, query)

    def asks_only_unknown(self, query: Query) -> bool:
        """Is every word the question typed one no article uses? Then nothing answers it, however close the meaning."""
        own = query.own_concepts()
        return bool(own) and len(self.unknown_concepts(own)) == len(own)

    def question_vector(self, query: Query) -> np.ndarray | None:
        """The question's sentence vector (with a follow-up's carried topic), or None without the model."""
        if self.encoder is None or not query.question:
            return None
        try:
            return self.encoder.encode([query.meaning_text])[0]
        except Exception as exc:  # onnxruntime's own error types: answer by words alone rather than not at all
            log.warning("ranking by words alone, the sentence model failed: %s", exc)
            return None

    def opening_flags(self, query: Query, doc_ids: np.ndarray) -> np.ndarray:
        """For "what is X" where X is what an article is about (its title): which passages open that article."""
        flags = np.zeros(len(doc_ids))
        asked = {s for c in query.own_concepts() for s in c.typed.stems}
        if not query.asks_definition or not asked:
            return flags
        for row, doc_id in enumerate(doc_ids.tolist()):
            passage = self.passages[doc_id]
            if passage.position == 0 and asked <= self.title_stems(passage.article):
                flags[row] = 1.0
        return flags

    def definition_flags(self, query: Query, doc_ids: np.ndarray) -> np.ndarray:
        """For "what is X": which passages say what X is ("X, a protein that...", "X (...)", "called X").

        X is the question's defined term (see bot.query.defined_term): "what are the symptoms
        of anal cancer" asks for symptoms, not for a definition. When X is what an article is
        about, its opening defines it (opening_flags) and this says nothing.
        """
        flags = np.zeros(len(doc_ids))
        phrase = query.defined_term
        if not phrase or any(set(phrase) <= self.title_stems(self.passages[d].article) for d in doc_ids.tolist()):
            return flags
        holding = np.ones(len(doc_ids), dtype=bool)
        for stem in set(phrase):
            holding &= self.retriever.holds(doc_ids, stem)
        for row in np.flatnonzero(holding).tolist():
            if defines(self.passages[int(doc_ids[row])].text, phrase):
                flags[row] = 1.0
        return flags

    def named_section_flags(self, query: Query, doc_ids: np.ndarray) -> np.ndarray:
        """Which passages' section title the question names in full, when that title is a kind of section.

        "What is the outlook for Tourette syndrome?" names the section "Outlook", and "outlook"
        heads sections in other articles too: it is a kind of section, not one article's subject.
        A title with any word that heads no other article's section ("Calcium" in the vitamin
        article) names a subject, not a kind of section, and is left to the text match.
        """
        flags = np.zeros(len(doc_ids))
        named: set[str] = set()
        for concept in query.own_concepts():
            for alternative in concept.alternatives:
                if not alternative.related:  # a relative does not name a section
                    named.update(alternative.stems)
                named.update(alternative.covers)
        kinds = {s for s in named if self.is_section_kind(frozenset((s,)))}
        if not kinds:
            return flags
        may_name = np.zeros(len(doc_ids), dtype=bool)
        for stem in kinds:
            may_name |= self.retriever.holds(doc_ids, stem)
        for row in np.flatnonzero(may_name).tolist():
            passage = self.passages[int(doc_ids[row])]
            titles = (
                (passage.section, passage.subsection) if passage.section != passage.article else (passage.subsection,)
            )
            if any(stems and stems <= kinds for stems in (self.title_stems(t) for t in titles if t)):
                flags[row] = 1.0
        return flags

    def is_section_kind(self, stems: frozenset[str]) -> bool:
        """Does every word of a section title head sections in at least two articles?"""
        kind = self._section_kinds.get(stems)
        if kind is None:
            if len(self._section_kinds) >= IDF_CACHE:
                self._section_kinds.clear()
            kind = self._section_kinds[stems] = all(self.retriever.section_title_frequency(s)[0] >= 2 for s in stems)
        return kind

    def other_topic_counts(self, query: Query, doc_ids: np.ndarray) -> np.ndarray:
        """For each passage, how many topics the question names that its article never mentions.

        A topic is a concept that tells articles apart: its words are in the titles of some
        articles but at most half of them ("vitamin d3", "magnesium"), or anywhere in some
        articles but at most half of them ("calcium"). A passage about "how much to take per day"
        in an article that never says "vitamin d3" (in its text, section titles or title) does not
        answer "how much vitamin D3 per day".
        """
        counts = np.zeros(len(doc_ids))
        for concept in query.own_concepts():
            strong = [a for a in concept.alternatives if a.weight >= 1 and a.stems and not a.related]
            if not concept.typed.stems or concept.typed.covers or not any(self.is_topic(a.stems) for a in strong):
                continue  # a phrase of question words only ("where can i get") names no topic
            present = np.zeros(len(doc_ids), dtype=bool)
            for alternative in strong:
                held = np.ones(len(doc_ids), dtype=bool)
                for stem in alternative.stems:
                    held &= self.retriever.article_holds(doc_ids, stem)
                present |= held
            counts[~present] += 1
        return counts

    def is_topic(self, stems: Sequence[str]) -> bool:
        """Do these words together tell articles apart (see demote_other_topics)?"""
        for frequency in (self.retriever.title_frequency, self.retriever.article_frequency):
            counts = [frequency(s) for s in stems]
            if all(0 < n <= total / 2 for n, total in counts):
                return True
        return False

    def title_stems(self, title: str) -> frozenset[str]:
        stems = self._titles.get(title)
        if stems is None:
            stems = self._titles[title] = frozenset(terms(title))
        return stems

    def holds_most_specific(self, query: Query, held: dict[str, np.ndarray], rows: int) -> np.ndarray:
        """Which passages hold the question's most specific concept (the most IDF mass), in some form.

        A two-concept question is a subject and what is asked about it: "can i sleep in on
        weekends", "which cheese has the most K2". A passage with only the commoner word (a
        passage about sleep, a passage about K2) does not answer it.
        """
        top = max(query.concepts, key=self.concept_mass)
        holds = np.zeros(rows, dtype=bool)
        for alternative in top.alternatives:
            if alternative.weight >= 1 and alternative.stems and not alternative.related:
                all_held = np.ones(rows, dtype=bool)
                for stem in alternative.stems:
                    all_held &= held[stem]
                holds |= all_held
        return holds

    def unknown_share(self, query: Query) -> float:
        """The share of the question's IDF mass in concepts no article uses in any form.

        A question is about its most specific words. When those are words the articles never
        use ("what research is being done for anal cancer?" asked of a vitamin blog), matching
        its other words ("research", "done") is a coincidence, not an answer, unless the match is
        strong: a long message whose chatter the articles never use ("hi, my neighbour told me...")
        but that names several of their rarest words ("aphids", "whitefly") is still answered.
        """
        unknown = sum(self.concept_mass(c) for c in self.unknown_concepts(query.concepts))
        total = self.question_mass(query)
        return unknown / total if total else 0.0

    def asks_about_unknown_name(self, query: Query) -> bool:
        """A short question about a name no article uses, its other words naming no topic ("side effects or risks
        of atenolol").

        A word that no article uses and no English dictionary lists (a drug, a product, a name)
        is what such a question is about: "side effects" and "risks" only say what it asks about
        it, so however well they match, nothing answers it. Beside a topic word ("is it safe to
        take metformin with vitamin d") the question is weighed by its share of unknown words,
        as is a dictionary word that no article uses ("why does bone density matter"): it may
        be chatter.
        """
        concepts = query.own_concepts()
        if len(concepts) > UNKNOWN_NAME_MAX_CONCEPTS:
            return False
        unknown = self.unknown_concepts(concepts)
        if not any(is_unknown_name(word) for concept in unknown for word in concept.label.split()):
            return False
        known = [c for c in query.concepts if c not in unknown]  # a follow-up's carried topic counts
        return not any(self.names_topic(s) for c in known for s in c.typed.stems)

    def names_topic(self, stem: str) -> bool:
        """Does this typed word name what some article or section is about, not what is asked about it?

        A word of an article title does, and so does a section-title word unless it heads
        sections in two or more articles ("Side Effects", "Dosage": a kind of section). The
        commonest English words name nothing. Kinds of section show only across articles: in a
        one-article corpus every section-title word names a topic, "Dosage" too, and where one
        article of several has "Side Effects", the words look like its topic.
        """
        if stem in common_stems():
            return False
        if self.retriever.title_frequency(stem)[0] > 0:
            return True
        return self.retriever.section_title_frequency(stem)[0] == 1

    def unknown_concepts(self, concepts: Sequence[Concept]) -> list[Concept]:
        """The concepts that no article uses, in any of their forms (text, section titles or article title)."""
        return [c for c in concepts if not any(self.is_used(s) for a in c.alternatives for s in a.stems)]

    def is_used(self, stem: str) -> bool:
        """Does any article use this stem anywhere?"""
        return self.retriever.passage_frequency(stem) > 0 or self.retriever.title_frequency(stem)[0] > 0

    def question_mass(self, query: Query) -> float:
        """The question's IDF mass: what coverage is a share of."""
        return sum(self.concept_mass(c) for c in query.concepts)

    def concept_mass(self, concept: Concept) -> float:
        """A concept's share of the question: its weight times the IDF of the words typed for it."""
        return concept_mass(concept, self.idf)

    def coverage(self, query: Query) -> QuestionCoverage:
        """The coverage rule compiled for this question (bot.ranking.coverage)."""
        return question_coverage(query, self.idf)


def is_unknown_name(word: str) -> bool:
    """A word of letters that no English dictionary lists, nor a typo of one: a drug, a product or a name
    ("atenolol", "ozempic").

    One letter off an English word ("drnking", "sorre") is a typo the spelling corrector could
    not fix, because the articles do not use the word either; it is not a name.
    """
    word = word.lower()
    return (
        len(word) >= NAME_LETTERS and word.isalpha() and word not in english_words() and not one_edit_from_english(word)
    )

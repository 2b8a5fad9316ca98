"""Query analysis on the seed index: answer-type words, word families and their coverage credit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.builder import build_index
from bot.config import Ranking, Settings
from bot.engine import Engine, Snapshot
from bot.families import WordFamilies, family_table
from bot.query import Alternative, Concept, Query, is_follow_up, mark_answer_type_words
from bot.spelling import SpellingCorrector
from bot.text import stem, tokenize


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory, seed_build: Path) -> Snapshot:
    from conftest import copy_seed_corpus, copy_seed_index, settings_in

    tmp_path = tmp_path_factory.mktemp("query")
    copy_seed_corpus(tmp_path)
    copy_seed_index(seed_build, tmp_path / "index")  # the session's seed build
    settings = settings_in(tmp_path)
    return Engine(settings).open()


def labels(query: Query) -> list[str]:
    return [c.label for c in query.concepts]


def test_how_long_marks_long_as_a_question_word() -> None:
    tokens = mark_answer_type_words(tokenize("how long should I rest"))
    assert [t.surface for t in tokens if not t.stop] == ["rest"]
    # "long" elsewhere is still a topic word
    assert "long" in [t.surface for t in mark_answer_type_words(tokenize("long term effects")) if not t.stop]


def test_how_long_question_searches_its_topic_only(snapshot: Snapshot) -> None:
    query = snapshot.analyzer.analyse("how long does k2 take to work")
    assert "long" not in labels(query)
    assert "k2" in labels(query)


def test_families_join_derived_words() -> None:
    families = WordFamilies(family_table({"density": 3, "absorption": 2, "living": 1}))
    assert families.relatives("denser", stem("denser")) == (stem("density"),)
    assert families.relatives("absorb", stem("absorb")) == (stem("absorption"),)


def test_families_ignore_short_roots() -> None:
    # Lancaster cuts "alive" to "al": too short to say anything about relatedness
    families = WordFamilies(family_table({"living": 1, "also": 1, "calcium": 1}))
    assert families.relatives("alive", stem("alive")) == ()
    assert families.relatives("", "") == ()
    assert families.relatives("x-ray", stem("x-ray")) == ()


def test_unknown_word_gets_its_family_at_reduced_weight(snapshot: Snapshot) -> None:
    query = snapshot.analyzer.analyse("at what age do bones stop getting denser")
    denser = next(c for c in query.concepts if c.label == "denser")
    typed, *relatives = denser.alternatives
    assert typed.stems == ("denser",) and typed.weight == 1.0
    assert [r.stems for r in relatives] == [(stem("density"),)]
    assert relatives[0].weight == Ranking().family_weight < 1.0


def test_known_word_gets_no_family(snapshot: Snapshot) -> None:
    query = snapshot.analyzer.analyse("bone density")
    assert not any(a.weight == Ranking().family_weight for c in query.concepts for a in c.alternatives)


def test_family_match_counts_for_less_coverage_than_the_word(snapshot: Snapshot) -> None:
    searcher = snapshot.searcher
    exact = snapshot.analyzer.analyse("bone density")
    related = snapshot.analyzer.analyse("bone denser")
    present = {stem("bone"), stem("density")}
    assert searcher.coverage(exact).of_sentence(present) == pytest.approx(1.0)
    partial = searcher.coverage(related).of_sentence(present)
    assert 0.0 < partial < 1.0


def test_family_weight_zero_turns_it_off(
    tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    seed_corpus(tmp_path)
    settings = make_settings(tmp_path)
    settings = replace(settings, ranking=replace(settings.ranking, family_weight=0.0))
    build_index(settings)
    query = Engine(settings).open().analyzer.analyse("denser bones")
    assert all(len(c.alternatives) == 1 for c in query.concepts if c.label == "denser")


# ----- follow-ups and spelling: documented behaviour the tests must pin down ------------------
def test_a_single_concept_question_is_a_follow_up(snapshot: Snapshot) -> None:
    """'cheese?' after a question about K2 foods leans on it, with no cue word or pronoun."""
    previous = snapshot.analyzer.analyse("what foods have K2?").concepts
    query = snapshot.analyzer.analyse("cheese?", previous)
    assert query.follow_up
    assert {c.label for c in query.concepts if c.carried} == {c.label for c in previous}
    assert not snapshot.analyzer.analyse("cheese?").follow_up  # no previous turn, no follow-up


def test_single_concept_rule_directly() -> None:
    tokens = tokenize("cheese")
    one = [concept("cheese")]
    assert is_follow_up(tokens, one, title_stems={stem("cheese")})  # even when it names a topic
    two = [concept("vitamin"), concept("bone")]
    assert not is_follow_up(tokenize("vitamin bone"), two, title_stems={stem("vitamin"), stem("bone")})


def test_a_dictionary_word_is_never_corrected() -> None:
    """'glass' is an English word the articles do not use, not a typo of 'grass'."""
    speller = SpellingCorrector({"grass": 5, "calcium": 3}, dictionary=frozenset({"glass"}))
    assert speller.correct("glass") is None
    assert speller.correct("grasss") == "grass"  # a real typo still is corrected
    assert speller.correct("calcum") == "calcium"


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("hwo", "how"),
        ("teh", "the"),
        ("wyh", "why"),
        ("taht", "that"),
        ("ibs", None),
        ("nph", None),
        ("nad", None),
        ("itp", None),  # abbreviations a swap away from "its", "and", "tip"
        ("mcg", None),
        ("owh", None),  # words of the dictionary
    ],
)
def test_three_letter_words_are_only_read_as_question_words_with_two_letters_swapped(
    typed: str, meant: str | None
) -> None:
    """ "ibs" is one letter from "its", but reading it so would hide that no article mentions IBS."""
    speller = SpellingCorrector(
        {"vitamin": 3},
        dictionary=frozenset({"mcg", "owh"}),
        function_words=frozenset({"how", "who", "the", "that", "its", "and", "tip"}),
    )
    assert speller.correct(typed) == meant


def test_a_corrected_how_still_marks_how_long(snapshot: Snapshot) -> None:
    query = snapshot.analyzer.analyse("hwo long should i take vitamin d")
    assert query.corrections == {"hwo": "how"}
    assert "long" not in labels(query)


def test_dictionary_words_in_questions_keep_their_spelling(snapshot: Snapshot) -> None:
    query = snapshot.analyzer.analyse("does glass help bones")
    assert "glass" not in query.corrections


def test_word_family_roots_are_right_when_many_threads_ask_at_once() -> None:
    """NLTK's Lancaster stemmer loads its rules on first use; racing threads once cached wrong roots."""
    from concurrent.futures import ThreadPoolExecutor

    from nltk.stem import LancasterStemmer

    from bot import families

    words = [
        "absorption",
        "absorbing",
        "density",
        "denser",
        "diagnosis",
        "calcification",
        "supplementation",
        "deficiency",
    ] * 4
    expected = {w: LancasterStemmer().stem(w) for w in words}
    for _ in range(20):
        families.LANCASTER = LancasterStemmer()  # rules not loaded yet, as in a fresh process
        families.lancaster_root.cache_clear()
        with ThreadPoolExecutor(max_workers=8) as pool:
            roots = dict(zip(words, pool.map(families.lancaster_root, words)))
        assert all(roots[w] == (expected[w] if len(expected[w]) >= families.MIN_ROOT else "") for w in words)
    families.lancaster_root.cache_clear()


def test_a_long_question_is_clipped_between_words() -> None:
    from bot.query import MAX_QUESTION_CHARS, clip_question

    clipped = clip_question("osteocalcin " * 10_000)
    assert len(clipped) <= MAX_QUESTION_CHARS and clipped.split()[-1] == "osteocalcin"
    assert clip_question("a" * 2000) == "a" * MAX_QUESTION_CHARS  # one endless word: cut where it must be
    assert clip_question("what is k2") == "what is k2"


def test_a_definition_opener_in_a_synonym_group_is_not_searched(built_seed: Settings) -> None:
    """ "overview" is in the shipped article/overview/summary group; as an opener it is a question word."""
    engine = Engine(built_seed)
    engine.open()
    assert engine.answer("overview of osteocalcin").query == "osteocalcin"
    assert engine.answer("overview").query == "overview"  # alone, it is what is asked about


def test_an_unknown_word_with_a_word_family_is_not_split_into_two_words(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """ "asthmatics" is kin to "asthma": splitting it into "asthma tics" would search tics."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "asthma.md").write_text(
        "# Asthma\n\n## Treatment\n\nInhalers open the airways during asthma attacks.\n", encoding="utf-8"
    )
    (corpus / "tourette.md").write_text(
        "# Tourette syndrome\n\n## Overview\n\nTics are sudden movements or sounds.\n", encoding="utf-8"
    )
    query = Engine(make_settings(tmp_path, corpus_dir=corpus)).open().analyzer.analyse("inhalers for asthmatics")
    assert "asthmatics" not in query.corrections
    asthmatics = next(c for c in query.concepts if c.label == "asthmatics")
    assert (stem("asthma"),) in [a.stems for a in asthmatics.alternatives]
    assert "tics" not in labels(query)
    # a word with no family is still split when both halves are index words
    assert Engine(make_settings(tmp_path, corpus_dir=corpus)).open().analyzer.analyse("asthmainhalers").corrections == {
        "asthmainhalers": "asthma inhalers"
    }


def concept(word: str, weight: float = 1.0) -> Concept:
    return Concept(word, (Alternative((stem(word),), 1.0),), weight)


def test_context_carries_what_the_follow_up_does_not_ask_again_at_half_weight() -> None:
    from bot.query import carry_over

    previous = (concept("calcium"), concept("osteocalcin"), concept("magnesium", 0.5))
    carried = carry_over(previous, [concept("osteocalcin")], 0.5)
    # "osteocalcin" is asked again, so it is not carried; "magnesium" was typed at half weight (0.25 < 0.3)
    assert [(c.label, c.weight, c.carried) for c in carried] == [("calcium", 0.5, True)]
    assert [c.label for c in carry_over(previous, [], 0.5)] == ["calcium", "osteocalcin"]


def test_what_a_follow_up_carried_is_carried_again_at_the_same_weight() -> None:
    """The conversation's topic survives a chain of follow-ups; the previous turn's own words are halved once."""
    from bot.query import carry_over

    previous = (concept("food"), replace(concept("magnesium", 0.5), carried=True))
    carried = carry_over(previous, [concept("dose")], 0.5)
    assert [(c.label, c.weight) for c in carried] == [("food", 0.5), ("magnesium", 0.5)]


def test_titles_that_differ_in_one_word_make_that_word_a_substitute() -> None:
    from bot.query import title_substitutes

    titles = ["Vitamin D3 Sources", "Vitamin K2 Sources", "Vitamin K2", "Introduction", "Calcium", "Vitamin D3 Sources"]
    assert title_substitutes(titles) == {stem("d3"): {stem("k2")}, stem("k2"): {stem("d3")}}
    assert title_substitutes(["Introduction", "Conclusion", "Sleep"]) == {}  # one-word titles differ in everything


def test_a_follow_up_does_not_carry_what_it_replaces_with_a_substitute() -> None:
    """ "and k2?" after "how much d3 should i take" asks how much K2, not how much of both."""
    from bot.query import carry_over

    previous = (concept("dose"), concept("d3"))
    substitutes = {stem("k2"): frozenset({stem("d3")}), stem("d3"): frozenset({stem("k2")})}
    assert [c.label for c in carry_over(previous, [concept("k2")], 0.5, substitutes)] == ["dose"]
    assert [c.label for c in carry_over(previous, [concept("k2")], 0.5)] == ["dose", "d3"]
    assert [c.label for c in carry_over(previous, [concept("food")], 0.5, substitutes)] == ["dose", "d3"]


def test_a_word_typed_twice_is_one_concept(snapshot: Snapshot) -> None:
    assert labels(snapshot.analyzer.analyse("osteocalcin and osteocalcin again")) == ["osteocalcin"]


@pytest.mark.parametrize(
    "question, cue",
    [
        ("any other minerals that help bones", False),  # "that" opens a relative clause
        ("is that safe", True),
        ("what about that", True),
        ("how much of it", True),
        ("and for kids", True),
    ],
)
def test_a_relative_that_is_no_follow_up_cue(question: str, cue: bool) -> None:
    from bot.query import has_follow_up_cue
    from bot.text import tokenize

    assert has_follow_up_cue(tokenize(question)) is cue

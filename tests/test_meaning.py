"""Ranking by meaning: passage vectors in the index, their cache, and the bot without them."""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import SEED_ARTICLE

from bot.builder import build_extra, build_index, index_is_current, synonyms_for
from bot.config import Settings
from bot.encoder import DIMENSIONS, MODEL_ID, SentenceEncoder, load_encoder, runtime_identity
from bot.engine import Engine
from bot.errors import IndexCorruptError
from bot.index_store import npy_bytes, read_build, read_index, read_manifest
from bot.live_index import query_encoder
from bot.ranking.sentence import answer_sentence
from bot.search import Searcher
from bot.text import split_sentences
from bot.vectors import vector_code_digest

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
SEED_NAME = SEED_ARTICLE.name


def test_the_index_holds_one_unit_vector_per_passage(built_seed: Settings) -> None:
    index = read_index(built_seed.index_dir)
    assert index.manifest["encoder"] == MODEL_ID
    assert index.vectors is not None and index.vectors.dtype == np.float32 and index.vectors.flags.c_contiguous
    assert index.vectors.shape == (len(index.passages), DIMENSIONS)
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)


def test_turned_off_the_index_has_no_vectors_and_the_bot_still_answers(
    tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    seed_corpus(tmp_path)
    settings = make_settings(tmp_path, semantic=False)
    assert "No passage vectors" not in build_index(settings).summary()
    index = read_index(settings.index_dir)
    assert index.vectors is None and index.manifest["encoder"] == ""
    answer = Engine(settings).answer("what foods have K2?")
    assert answer.results and "Natto" in answer.results[0].text
    assert not index_is_current(replace(settings, semantic=True))  # turning it on rebuilds, with vectors


def test_without_a_usable_model_the_build_goes_on_by_words_alone(
    tmp_path: Path,
    seed_corpus: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed_corpus(tmp_path)
    settings = make_settings(tmp_path, encoder_model=tmp_path / "no-such-model.onnx")
    with caplog.at_level(logging.WARNING):
        report = build_index(settings)
    assert "building without passage vectors" in caplog.text and "cannot read the sentence model" in caplog.text
    assert (
        "No passage vectors, so answers are ranked by words alone: cannot read the sentence model" in report.summary()
    )
    assert read_index(settings.index_dir).vectors is None
    answer = Engine(settings).answer("what foods have K2?")
    assert answer.results and "Natto" in answer.results[0].text


def test_a_rebuild_encodes_only_the_articles_that_changed(
    built_seed: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    before = read_index(built_seed.index_dir)
    shutil.copy(FIXTURES / "sleep-hygiene.md", built_seed.corpus_dir)
    with caplog.at_level(logging.INFO, logger="bot"):
        build_index(built_seed)
    after = read_index(built_seed.index_dir)
    added = len(after.passages) - len(before.passages)
    assert added > 0 and f"encoded {added} passages of 1 article(s); 1 article(s) from the cache" in caplog.text
    assert after.vectors is not None and before.vectors is not None
    seed_rows = [i for i, p in enumerate(after.passages) if p.source == before.passages[0].source]
    assert np.array_equal(after.vectors[seed_rows], before.vectors)


def test_a_damaged_vectors_file_fails_its_checksum(built_seed: Settings) -> None:
    manifest = read_manifest(built_seed.index_dir)
    build_dir = built_seed.index_dir / manifest["build_dir"]
    vectors = build_dir / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="vectors.npy fails its checksum"):
        read_build(build_dir, manifest)


def test_a_follow_up_is_read_for_meaning_with_its_carried_topic(built_seed: Settings) -> None:
    snap = Engine(built_seed).snapshot()
    first = snap.analyzer.analyse("what foods have K2?")
    follow = snap.analyzer.analyse("and how much should i take?", first.concepts)
    assert follow.follow_up and follow.meaning_text.startswith("and how much should i take?")
    assert "k2" in follow.meaning_text.lower().split("?", 1)[1]
    assert first.meaning_text == "what foods have K2?"


@pytest.mark.parametrize("damage", ["x" * (34 * DIMENSIONS * 2), 12345, b"\x00\x7c" * (34 * DIMENSIONS)])
def test_a_damaged_cache_entry_is_encoded_again(
    built_seed: Settings, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Text or a number where the bytes should be, or infinities (0x7c00): the build encodes the article again."""
    before = read_index(built_seed.index_dir).vectors
    with sqlite3.connect(built_seed.index_dir / "analysis-cache.sqlite3") as db:
        assert db.execute("UPDATE vectors SET data = ?", (damage,)).rowcount == 1
    with (built_seed.corpus_dir / SEED_NAME).open("a", encoding="utf-8") as handle:
        handle.write("\n")  # the index is stale, the passages' texts are not
    with caplog.at_level(logging.INFO, logger="bot"):
        build_index(built_seed)
    assert "encoded 34 passages of 1 article(s); 0 article(s) from the cache" in caplog.text
    assert before is not None and np.array_equal(read_index(built_seed.index_dir).vectors, before)


def test_editing_the_synonyms_encodes_nothing_again(built_seed: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """Vectors read the passages' texts, which synonyms do not change."""
    with (built_seed.corpus_dir / "synonyms.conf").open("a", encoding="utf-8") as handle:
        handle.write("\nbone, skeleton\n")
    with caplog.at_level(logging.INFO, logger="bot"):
        build_index(built_seed)
    assert "1 of 1 article(s) have their passage vectors in the cache" in caplog.text
    assert "encoded" not in caplog.text and read_index(built_seed.index_dir).vectors is not None


def test_a_build_by_words_alone_keeps_the_cached_vectors(
    built_seed: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    build_index(replace(built_seed, semantic=False))
    assert read_index(built_seed.index_dir).vectors is None
    with caplog.at_level(logging.INFO, logger="bot"):
        build_index(built_seed)
    assert "1 of 1 article(s) have their passage vectors in the cache" in caplog.text
    assert "encoded" not in caplog.text and read_index(built_seed.index_dir).vectors is not None


def test_the_runtime_and_the_encoding_code_are_part_of_the_fingerprint(built_seed: Settings) -> None:
    """A build made while onnxruntime was missing or broken is redone once another version is there."""
    assert runtime_identity().startswith("onnxruntime:") and runtime_identity() != "onnxruntime:missing"
    assert runtime_identity() in build_extra(built_seed, synonyms_for(built_seed).digest)
    assert vector_code_digest() in build_extra(
        built_seed, synonyms_for(built_seed).digest
    )  # the encoding code and vocabulary too
    assert "onnxruntime" not in build_extra(replace(built_seed, semantic=False), synonyms_for(built_seed).digest)


def test_vectors_of_the_wrong_width_make_the_build_inconsistent(built_seed: Settings) -> None:
    manifest = read_manifest(built_seed.index_dir)
    build_dir = built_seed.index_dir / manifest["build_dir"]
    narrow = npy_bytes(np.zeros((34, 256), dtype=np.float16))
    (build_dir / "vectors.npy").write_bytes(narrow)
    manifest["sha256"]["vectors.npy"] = hashlib.sha256(narrow).hexdigest()
    with pytest.raises(IndexCorruptError, match="inconsistent"):
        read_build(build_dir, manifest)


def test_without_a_usable_model_at_question_time_the_bot_ranks_by_words_alone(
    built_seed: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    index = read_index(built_seed.index_dir)
    with caplog.at_level(logging.WARNING):
        assert query_encoder(index, replace(built_seed, encoder_model=built_seed.index_dir / "missing.onnx")) is None
    assert "ranking by words alone: cannot read the sentence model" in caplog.text
    assert query_encoder(index, built_seed) is not None
    assert query_encoder(index, replace(built_seed, semantic=False)) is None


class RecordingEncoder:
    """The real encoder, remembering what it was asked to read."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self.encoder = encoder
        self.identity = encoder.identity
        self.read: list[str] = []

    def encode(self, texts: Sequence[str], max_tokens: int = 256) -> np.ndarray:
        self.read.extend(texts)
        return self.encoder.encode(texts, max_tokens)


def test_the_ranking_reads_a_follow_up_with_its_carried_topic(built_seed: Settings) -> None:
    snap = Engine(built_seed).snapshot()
    recorder = RecordingEncoder(load_encoder(None))
    searcher = Searcher(snap.searcher.passages, snap.searcher.retriever, snap.searcher.ranking, recorder)  # type: ignore[arg-type]
    first = snap.analyzer.analyse("what foods have K2?")
    assert searcher.search(first) and recorder.read[0] == "what foods have K2?"  # then the answer sentences
    follow = snap.analyzer.analyse("how much should i take", first.concepts)
    before = len(recorder.read)
    assert searcher.search(follow) and recorder.read[before] == follow.meaning_text != "how much should i take"


@pytest.mark.parametrize(
    ("question", "answer"), [("k2 dose", "45-180 mcg"), ("how many kinds of k2 are there", "MK-4 through MK-13")]
)
def test_the_model_breaks_a_tie_between_the_first_results_best_sentences_by_words(
    built_seed: Settings, question: str, answer: str
) -> None:
    """By words alone "k2 dose" was answered with the D3 line of the dosage list ("Vitamin D3: Most adults
    benefit...")."""
    engine = Engine(built_seed)
    first = engine.answer(question).results[0]
    assert answer in first.answer
    snap = engine.snapshot()
    query = snap.analyzer.analyse(question)
    by_words = answer_sentence(tuple(split_sentences(first.text)), snap.searcher.coverage(query))
    assert answer in first.text and answer not in by_words  # the same passage, another sentence


def test_the_first_results_do_not_depend_on_how_many_are_asked_for(built_seed: Settings) -> None:
    snap = Engine(built_seed).snapshot()
    query = snap.analyzer.analyse("how much vitamin d3 should i take")
    few, many = snap.searcher.search(query, 3), snap.searcher.search(query, 10)
    assert len(many) > 3 and [h.doc_id for h in few] == [h.doc_id for h in many[:3]]
    scores = [h.score for h in many]
    assert scores == sorted(scores, reverse=True)


def test_results_come_best_first_with_their_answer_probability(built_seed: Settings) -> None:
    snap = Engine(built_seed).snapshot()
    hits = snap.searcher.search(snap.analyzer.analyse("is gouda a good source"), 10)
    assert hits and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0.0 <= h.confidence <= 1.0 for h in hits)

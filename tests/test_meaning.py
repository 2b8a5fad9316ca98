"""Ranking by meaning: passage vectors in the index, their cache, and the bot without them."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from bot.builder import build_index, index_is_current
from bot.config import Settings
from bot.encoder import DIMENSIONS, MODEL_ID
from bot.engine import Engine
from bot.errors import IndexCorruptError
from bot.index_store import read_build, read_index, read_manifest

FIXTURES = Path(__file__).parent / "fixtures" / "articles"


def test_the_index_holds_one_unit_vector_per_passage(built_seed: Settings) -> None:
    index = read_index(built_seed.index_dir)
    assert index.manifest["encoder"] == MODEL_ID
    assert index.vectors is not None and index.vectors.dtype == np.float16
    assert index.vectors.shape == (len(index.passages), DIMENSIONS)
    assert np.allclose(np.linalg.norm(index.vectors.astype(np.float32), axis=1), 1.0, atol=1e-2)


def test_turned_off_the_index_has_no_vectors_and_the_bot_still_answers(tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]) -> None:
    seed_corpus(tmp_path)
    settings = make_settings(tmp_path, semantic=False)
    assert "No passage vectors" not in build_index(settings).summary()
    index = read_index(settings.index_dir)
    assert index.vectors is None and index.manifest["encoder"] == ""
    answer = Engine(settings).answer("what foods have K2?")
    assert answer.results and "Natto" in answer.results[0].text
    assert not index_is_current(replace(settings, semantic=True))  # turning it on rebuilds, with vectors


def test_without_a_usable_model_the_build_goes_on_by_words_alone(tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    seed_corpus(tmp_path)
    settings = make_settings(tmp_path, encoder_model=tmp_path / "no-such-model.onnx")
    with caplog.at_level(logging.WARNING):
        report = build_index(settings)
    assert "building without passage vectors" in caplog.text and "cannot read the sentence model" in caplog.text
    assert "No passage vectors, so answers are ranked by words alone: cannot read the sentence model" in report.summary()
    assert read_index(settings.index_dir).vectors is None
    answer = Engine(settings).answer("what foods have K2?")
    assert answer.results and "Natto" in answer.results[0].text


def test_a_rebuild_encodes_only_the_articles_that_changed(built_seed: Settings, caplog: pytest.LogCaptureFixture) -> None:
    before = read_index(built_seed.index_dir)
    shutil.copy(FIXTURES / "sleep-hygiene.md", built_seed.corpus_dir)
    with caplog.at_level(logging.INFO, logger="bot.vectors"):
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

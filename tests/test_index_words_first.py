"""Words first, meaning behind: a new build answers by words at once, its passage vectors follow."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import vector_build
from bot.builder import build_index, guarded_build
from bot.config import Settings
from bot.engine import Engine
from bot.index_store import read_index, read_manifest
from bot.vector_build import encode_pending, vector_status, vectors_state

FIXTURES = Path(__file__).parent / "fixtures" / "articles"


def words_build(settings: Settings) -> None:
    """Write a build the way every build starts, without encoding or starting an encoder."""
    assert guarded_build(settings, None, only_if_stale=False) is not None


def test_a_new_corpus_answers_by_words_before_its_vectors_exist_and_by_meaning_after(
    tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    seed_corpus(tmp_path)
    settings = make_settings(tmp_path, reload_seconds=0)
    report = build_index(settings, wait_for_vectors=False)  # starts the background encoder
    assert "the passage vectors are being encoded" in report.summary()
    engine = Engine(settings)
    snapshot = engine.snapshot()
    if snapshot.index.vectors is None:  # the encoder has not finished yet (it takes seconds)
        assert vectors_state(snapshot.index.manifest) == "pending"
        answer = engine.answer("what foods have K2?")
        assert answer.results and "Natto" in answer.results[0].text
    deadline = time.monotonic() + 90
    while read_index(settings.index_dir).vectors is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert vectors_state(read_manifest(settings.index_dir)) == "ready"
    assert engine.snapshot().index.vectors is not None  # the serving engine picked the better build up
    assert vector_status(settings.index_dir) is None
    answer = engine.answer("what foods have K2?")
    assert answer.results and "Natto" in answer.results[0].text


def test_progress_is_reported_and_an_interrupted_encoding_resumes_from_the_cache(
    tmp_path: Path,
    seed_corpus: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    corpus = seed_corpus(tmp_path)
    for name in ("sleep-hygiene.md", "strength-training.html"):
        shutil.copy(FIXTURES / name, corpus)
    settings = make_settings(tmp_path)
    words_build(settings)
    index = read_index(settings.index_dir)
    assert index.vectors is None
    status = vector_status(settings.index_dir)
    assert status is not None and status.done == 0 and status.total == len(index.passages) and not status.running
    assert f"0 of {len(index.passages)} passages" in status.describe()

    monkeypatch.setattr(vector_build, "CHUNK_PASSAGES", 1)  # one article per chunk: a cache commit after each
    reports: list[tuple[int, int]] = []

    def killed_after_one_article(done: int, total: int, label: str) -> None:
        reports.append((done, total))
        if done > 0:
            raise KeyboardInterrupt  # as if the process were stopped mid-way

    with pytest.raises(KeyboardInterrupt):
        encode_pending(settings.index_dir, None, killed_after_one_article)
    first = reports[-1][0]
    assert 0 < first < len(index.passages)
    assert read_index(settings.index_dir).vectors is None  # nothing swapped in half-done
    assert vector_status(settings.index_dir) == vector_build.VectorStatus(
        index.build_id, first, len(index.passages), running=False
    )

    with caplog.at_level(logging.INFO, logger="bot"):
        assert encode_pending(settings.index_dir, None, None)
    assert "of 2 article(s); 1 article(s) from the cache" in caplog.text  # the restart encoded only the rest
    assert read_index(settings.index_dir).vectors is not None


def test_a_build_whose_vectors_are_all_cached_has_them_at_once(built_seed: Settings) -> None:
    (built_seed.corpus_dir / "synonyms.conf").write_text("bone, skeleton\n", encoding="utf-8")
    words_build(built_seed)  # nothing encoded: every article's vectors come from the cache
    manifest = read_manifest(built_seed.index_dir)
    assert vectors_state(manifest) == "ready" and read_index(built_seed.index_dir).vectors is not None


def test_an_engine_that_waits_for_vectors_encodes_a_current_build_s_pending_ones_before_answering(
    tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    """With background vectors off (eval, the benchmark gate, BOT_BACKGROUND_VECTORS=off), a current build left
    by words first (its encoder killed, or another process's build) is not served by words alone."""
    seed_corpus(tmp_path)
    settings = make_settings(tmp_path, background_vectors=False)
    words_build(settings)
    assert vectors_state(read_manifest(settings.index_dir)) == "pending"
    snapshot = Engine(settings).open()
    assert snapshot.index.vectors is not None
    assert vectors_state(snapshot.index.manifest) == "ready"

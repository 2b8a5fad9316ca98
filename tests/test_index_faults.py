"""The index under faults: unwritable folders, damaged builds, killed builds, many processes at once."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot import builder
from bot.builder import build_if_stale, build_index
from bot.config import Settings
from bot.engine import Engine
from bot.errors import BotError
from bot.index_store import read_manifest

FIXTURES = Path(__file__).parent / "fixtures" / "articles"


@pytest.fixture
def settings(built_seed_words: Settings) -> Settings:
    return built_seed_words


def test_an_unwritable_index_folder_is_a_clear_error(
    tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    seed_corpus(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the index folder should be", encoding="utf-8")
    settings = replace(make_settings(tmp_path), index_dir=blocker / "index")
    with pytest.raises(BotError, match="cannot write the index"):
        build_index(settings)


def test_a_stale_index_that_cannot_be_rebuilt_keeps_serving(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """As on a read-only mount: the rebuild cannot even take its lock, and the index on disk answers."""
    shutil.copy(FIXTURES / "sleep-hygiene.md", settings.corpus_dir)  # now stale
    lock = settings.index_dir / ".build.lock"
    lock.unlink()
    lock.mkdir()  # opening the lock file for writing now fails with an OSError
    with caplog.at_level(logging.WARNING):
        answer = Engine(settings).answer("what foods have K2?")
    assert answer.results and "Natto" in answer.results[0].text
    assert "could not be rebuilt" in caplog.text and "cannot write the index" in caplog.text


def test_a_damaged_current_build_falls_back_to_the_previous_one(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    first = read_manifest(settings.index_dir)["build_id"]
    shutil.copy(FIXTURES / "sleep-hygiene.md", settings.corpus_dir)
    build_index(settings)
    current = settings.index_dir / read_manifest(settings.index_dir)["build_dir"]
    (current / "body.tf.npy").write_bytes(b"garbage")
    (settings.corpus_dir / "broken.txt").write_bytes(b"")  # and a rebuild is not possible either
    with caplog.at_level(logging.WARNING):
        engine = Engine(settings)
        answer = engine.answer("what foods have K2?")
    assert answer.results and "Natto" in answer.results[0].text
    assert engine.snapshot().index.build_id == first
    assert "previous build" in caplog.text
    # once the corpus is fixed, opening rebuilds and serves a whole new build
    (settings.corpus_dir / "broken.txt").unlink()
    fresh = Engine(settings)
    fresh.open()
    assert fresh.snapshot().index.build_id not in (first,)
    assert fresh.answer("how long should a nap be").results[0].source == "sleep-hygiene.md"


def test_temporaries_of_a_killed_build_are_removed_by_the_next_build(settings: Settings) -> None:
    leftover = settings.index_dir / ".tmp-20260101T000000-dead00"
    leftover.mkdir()
    (leftover / "passages.jsonl").write_text("half a build", encoding="utf-8")
    (settings.index_dir / ".manifest.json.20260101T000000-dead00").write_text("{}", encoding="utf-8")
    build_index(settings)
    assert not leftover.exists()
    assert not list(settings.index_dir.glob(".manifest.json.*"))


def test_many_openers_of_a_stale_index_build_it_once(settings: Settings) -> None:
    shutil.copy(FIXTURES / "sleep-hygiene.md", settings.corpus_dir)
    builds: list[str] = []
    real = builder.assemble_index

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        builds.append(threading.current_thread().name)
        return real(*args, **kwargs)

    builder.assemble_index = counting  # type: ignore[assignment]
    try:
        threads = [threading.Thread(target=build_if_stale, args=(settings,), name=f"opener-{i}") for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        builder.assemble_index = real  # type: ignore[assignment]
    assert len(builds) == 1
    assert build_if_stale(settings) is None  # current now


def test_many_new_articles_are_analysed_in_worker_processes_with_the_same_result(
    tmp_path: Path, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import analysis

    monkeypatch.setattr(analysis, "PARALLEL_FROM", 10)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(30):
        (corpus / f"note-{i:02d}.md").write_text(
            f"# Note {i}\n\n## Part\n\nThe word token{i} appears only in note {i}.\n", encoding="utf-8"
        )
    (corpus / "broken.md").write_bytes(b"")
    settings = make_settings(tmp_path, corpus_dir=corpus)
    with pytest.raises(BotError, match="broken.md: file is empty"):
        build_index(settings)
    (corpus / "broken.md").unlink()
    report = build_index(settings)
    assert report.articles == 30 and report.passages == 30
    engine = Engine(settings)
    for i in (0, 17, 29):
        assert engine.answer(f"token{i}").results[0].source == f"note-{i:02d}.md"

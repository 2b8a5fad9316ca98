"""The error hierarchy: one definition of each message rule, and structured context on each error."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import errors
from bot.corpus import read_bytes
from bot.errors import (
    REBUILD_HINT,
    ArticleError,
    BotError,
    CorpusError,
    IndexCorruptError,
    IndexMissingError,
    IndexStoreError,
)
from bot.readers import ARTICLE_EXTENSIONS, parse_article


def test_hierarchy() -> None:
    assert issubclass(ArticleError, BotError)
    assert issubclass(CorpusError, BotError)
    assert issubclass(IndexStoreError, BotError)
    assert issubclass(IndexMissingError, IndexStoreError)
    assert issubclass(IndexCorruptError, IndexStoreError)


def test_article_error_carries_the_file_and_the_problem() -> None:
    exc = ArticleError("notes.txt", "file is empty")
    assert (exc.name, exc.problem, str(exc)) == ("notes.txt", "file is empty", "notes.txt: file is empty")


def test_corpus_error_carries_the_folder_and_each_broken_article(tmp_path: Path) -> None:
    broken = [ArticleError("a.txt", "file is empty"), ArticleError("b.md", "file is binary")]
    exc = CorpusError("broken article file(s)", corpus_dir=tmp_path, problems=broken)
    assert exc.corpus_dir == tmp_path
    assert exc.problems == tuple(broken)
    assert str(exc) == "broken article file(s)"
    assert CorpusError("plain").problems == () and CorpusError("plain").corpus_dir is None


@pytest.mark.parametrize("cls", [IndexMissingError, IndexCorruptError])
def test_index_errors_end_with_the_rebuild_hint_once(cls: type[IndexStoreError], tmp_path: Path) -> None:
    exc = cls(f"no index in {tmp_path}", index_dir=tmp_path)
    # the hint names the index, so that it rebuilds that one and not the default (it said "reindex" alone)
    assert str(exc) == f"no index in {tmp_path}; {REBUILD_HINT} --index {tmp_path}"
    odd = tmp_path / "my index"
    assert str(cls("gone", index_dir=odd)).endswith(f"--index '{odd}'")
    assert exc.index_dir == tmp_path
    assert exc.problem == f"no index in {tmp_path}"
    # a message that already carries the hint (older call sites) does not get it twice
    assert str(cls(f"broken; {REBUILD_HINT}")).count(REBUILD_HINT) == 1


def test_the_size_limit_message_is_one_rule(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"Words and more words. " * 100)
    from_parse = pytest.raises(ArticleError)
    with from_parse as parsed:
        parse_article(path.read_bytes(), "big.txt", max_bytes=1000)
    with pytest.raises(ArticleError) as read:
        read_bytes(path, 1000)
    expected = errors.ArticleError.too_large("big.txt", 2200, 1000)
    assert str(parsed.value) == str(read.value) == str(expected)
    assert expected.problem == "file is 2,200 bytes, over the 1,000-byte limit"


def test_upload_check_accepts_every_extension_the_readers_accept() -> None:
    from bot.library import upload_problem

    for ext in ARTICLE_EXTENSIONS:
        assert upload_problem(f"notes{ext}", 10, 1000) == "", ext
    assert "unsupported file type" in upload_problem("notes.pdf", 10, 1000)
    assert upload_problem("big.txt", 2200, 1000) == str(ArticleError.too_large("big.txt", 2200, 1000))
    assert upload_problem("notes.txt", None, 1000) == ""


def test_telegram_upload_accepts_htm_and_markdown() -> None:
    pytest.importorskip("telegram")
    from bot.telegram.admin import upload_problem

    for name in ("page.htm", "page.HTML", "notes.markdown", "notes.md", "notes.txt"):
        assert upload_problem(name, 10, 1000) == "", name


def build_corpus(corpus: Path) -> None:
    """Build an index of `corpus` in a sibling folder (raises what the build raises)."""
    from dataclasses import replace

    from bot.builder import build_index
    from bot.config import Settings

    build_index(
        replace(Settings(), corpus_dir=corpus, index_dir=corpus.parent / "index", data_dir=corpus.parent / "data")
    )


def test_a_broken_corpus_names_each_broken_article(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_bytes(b"Bones\n\nCalcium keeps bones strong in adults and children alike.\n")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "nul.md").write_bytes(b"a\x00b")
    with pytest.raises(CorpusError) as info:
        build_corpus(corpus)
    assert info.value.corpus_dir == corpus
    assert [(p.name, p.problem) for p in info.value.problems] == [
        ("empty.txt", "file is empty"),
        ("nul.md", "file is binary (it contains NUL bytes), not text"),
    ]
    assert "empty.txt: file is empty" in str(info.value)


def test_an_empty_corpus_names_the_accepted_extensions(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    with pytest.raises(CorpusError) as info:
        build_corpus(tmp_path / "corpus")
    assert all(ext in str(info.value) for ext in ARTICLE_EXTENSIONS)

"""Which files in a corpus folder are articles, and what is skipped and why (issue 13, items 3, 6, 9)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.builder import build_index
from bot.config import Settings
from bot.corpus import article_paths, list_corpus

ARTICLE = b"Bones\n\nCalcium and vitamin D keep bones strong in adults and children alike. Exercise helps too.\n"
BAD_NAME = b"bad\xffname.txt"


def write(path: Path, data: bytes = ARTICLE) -> Path:
    path.write_bytes(data)
    return path


def write_bad_name(folder: Path) -> None:
    """A file whose name is not UTF-8 (only a bytes path can create it)."""
    with open(os.fsencode(folder) + b"/" + BAD_NAME, "wb") as handle:
        handle.write(ARTICLE)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A corpus with one article of each accepted extension and one of everything that is skipped."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("a.txt", "b.md", "c.markdown", "d.html", "e.HTM"):
        write(folder / name)
    write(folder / "report.pdf", b"%PDF-1.4")
    write(folder / "letter.docx", b"PK\x03\x04")
    write(folder / "synonyms.conf", b"k2, menaquinone\n")  # the corpus's own synonyms: not an article, not "skipped"
    write(folder / ".hidden.txt")  # hidden files (and half-written uploads) are not articles, silently
    (folder / "drafts").mkdir()
    write(folder / "drafts" / "draft.txt")
    outside = write(tmp_path / "secret.txt")
    (folder / "outside.txt").symlink_to(outside)
    (folder / "dangling.md").symlink_to(tmp_path / "gone.md")
    (folder / "inside.txt").symlink_to(folder / "a.txt")
    write_bad_name(folder)
    return folder


def test_listing_returns_articles_and_what_was_skipped_with_reasons(corpus: Path) -> None:
    paths, skipped = list_corpus(corpus)
    assert [p.name for p in paths] == ["a.txt", "b.md", "c.markdown", "d.html", "e.HTM", "inside.txt"]
    reasons = dict(skipped)
    assert set(reasons) == {"report.pdf", "letter.docx", "drafts", "outside.txt", "dangling.md", "bad\\xffname.txt"}
    assert "unsupported file type" in reasons["report.pdf"] and ".txt" in reasons["report.pdf"]
    assert "unsupported file type" in reasons["letter.docx"]
    assert "folder" in reasons["drafts"]
    assert "outside the corpus folder" in reasons["outside.txt"]
    assert "broken link" in reasons["dangling.md"]
    assert "not valid UTF-8" in reasons["bad\\xffname.txt"]
    # every name and reason prints on any terminal: no lone surrogates
    for name, reason in skipped:
        (name + reason).encode("utf-8")


def test_article_paths_are_the_listed_articles(corpus: Path) -> None:
    assert article_paths(corpus) == list_corpus(corpus).paths


def test_listing_is_sorted_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("z.txt", "m.md", "a.html"):
        write(folder / name)
    write(folder / "b.pdf")
    write(folder / "a.pdf")
    listing = list_corpus(folder)
    assert [p.name for p in listing.paths] == ["a.html", "m.md", "z.txt"]
    assert [name for name, _ in listing.skipped] == ["a.pdf", "b.pdf"]


def test_a_link_to_a_folder_outside_is_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    write(folder / "a.txt")
    (tmp_path / "elsewhere").mkdir()
    (folder / "more.txt").symlink_to(tmp_path / "elsewhere")
    listing = list_corpus(folder)
    assert [p.name for p in listing.paths] == ["a.txt"]
    assert [name for name, _ in listing.skipped] == ["more.txt"]


def test_build_with_a_non_utf8_file_name_does_not_crash(
    tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]
) -> None:
    folder = seed_corpus(tmp_path)
    write_bad_name(folder)
    (folder / "outside.txt").symlink_to(write(tmp_path / "secret.txt"))
    report = build_index(make_settings(tmp_path, semantic=False))  # about file names, not the sentence model
    assert [a["name"] for a in report.manifest["corpus"]["articles"]] == ["vitamin-k2-d3-bone-density.txt"]


def test_reindex_and_ask_with_a_non_utf8_file_name(
    tmp_path: Path,
    seed_corpus: Callable[[Path], Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.cli import main

    monkeypatch.setenv("BOT_SEMANTIC", "off")  # about file names, not the sentence model

    folder = seed_corpus(tmp_path)
    write_bad_name(folder)
    dirs = ["--corpus", str(folder), "--index", str(tmp_path / "index")]
    assert main(["reindex", *dirs]) == 0
    assert main(["ask", *dirs, "what foods have K2?"]) == 0
    out, err = capsys.readouterr()
    assert "Natto" in out
    assert "Traceback" not in out + err

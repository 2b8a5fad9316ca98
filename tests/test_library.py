"""Admin operations: add/replace/remove articles safely, and the SQLite question log."""

from __future__ import annotations

import sqlite3
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.builder import build_index
from bot.config import Settings
from bot.engine import Engine
from bot.errors import ArticleError, BotError
from bot.index_store import read_manifest
from bot.library import add_article, list_articles, remove_article, safe_article_name
from bot.questionlog import QuestionLog

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
SEED_NAME = "vitamin-k2-d3-bone-density.txt"
K2_QUESTION = "what foods have K2?"


@pytest.fixture
def engine(tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]) -> Engine:
    seed_corpus(tmp_path)
    settings = make_settings(tmp_path, reload_seconds=0, max_article_bytes=50_000)
    build_index(settings)
    engine = Engine(settings)
    engine.open()
    return engine


def corpus_state(engine: Engine) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in engine.settings.corpus_dir.iterdir()}


def assert_k2_still_answered(engine: Engine) -> None:
    answer = engine.answer(K2_QUESTION)
    assert answer.results and "Natto" in answer.results[0].text


def test_a_failed_upload_over_a_link_puts_the_link_back_not_its_target(engine: Engine, tmp_path: Path) -> None:
    """A link to a file outside the corpus is skipped by the index; restoring wrote the target's text as an article."""
    corpus = engine.settings.corpus_dir
    outside = tmp_path / "private.md"
    outside.write_text("# Private\n\nThe confidential launch token is swordfish.\n", encoding="utf-8")
    (corpus / "notes.md").symlink_to(outside)
    (corpus / "broken.txt").write_bytes(b"\x00\x01 not text")  # makes every re-index fail
    with pytest.raises(BotError):
        add_article(engine, "notes.md", (FIXTURES / "sleep-hygiene.md").read_bytes())
    assert (corpus / "notes.md").is_symlink() and (corpus / "notes.md").readlink() == outside
    (corpus / "broken.txt").unlink()
    engine.rebuild()
    assert "notes.md" not in {name for name, _, _ in list_articles(engine)}
    assert not engine.answer("confidential launch token swordfish").results


# ----- add / replace -------------------------------------------------------------------------
def test_add_markdown_article_is_answered_from(engine: Engine) -> None:
    data = (FIXTURES / "sleep-hygiene.md").read_bytes()
    added = add_article(engine, "sleep-hygiene.md", data)
    assert added.name == "sleep-hygiene.md"
    assert not added.replaced
    assert added.passages > 5
    assert (engine.settings.corpus_dir / "sleep-hygiene.md").read_bytes() == data
    answer = engine.answer("how many hours of sleep do adults need")
    top = answer.results[0]
    assert top.source == "sleep-hygiene.md"
    assert top.article == "Sleep Hygiene: Habits for Deeper Rest"
    assert "7 to 9 hours" in top.text
    assert_k2_still_answered(engine)
    names = {name: passages for name, _, passages in list_articles(engine)}
    assert names == {SEED_NAME: names[SEED_NAME], "sleep-hygiene.md": added.passages}
    assert added.report.added == ["sleep-hygiene.md"]


def test_add_html_article(engine: Engine) -> None:
    data = (FIXTURES / "strength-training.html").read_bytes()
    added = add_article(engine, "strength-training.htm", data)
    assert added.name == "strength-training.html"
    assert added.passages > 0
    assert {n for n, _, _ in list_articles(engine)} == {SEED_NAME, "strength-training.html"}


def test_replace_existing_article(engine: Engine) -> None:
    v1 = b"# Porridge\n\n## Recipe\n\nQuinoa porridge is simmered with oat milk and cinnamon for twenty minutes.\n"
    v2 = b"# Pancakes\n\n## Recipe\n\nBuckwheat pancakes need buttermilk, an egg and a hot cast iron pan.\n"
    first = add_article(engine, "breakfast.md", v1)
    assert not first.replaced
    assert engine.answer("quinoa porridge").results[0].source == "breakfast.md"
    second = add_article(engine, "breakfast.md", v2)
    assert second.replaced
    assert second.report.changed == ["breakfast.md"]
    assert (engine.settings.corpus_dir / "breakfast.md").read_bytes() == v2
    assert engine.answer("buckwheat pancakes buttermilk").results[0].source == "breakfast.md"
    assert not any(r.source == "breakfast.md" for r in engine.answer("quinoa porridge").results)
    assert [n for n, _, _ in list_articles(engine)].count("breakfast.md") == 1


NAV_ONLY_HTML = (
    b"<html><head><title>Shop</title><script>var cart = 0;</script></head><body>"
    b'<nav><a href="/">Home</a> <a href="/cart">Cart (0)</a></nav>'
    b"<footer>Privacy &middot; Terms &copy; 2024</footer></body></html>"
)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.md", b"", "empty"),
        ("spaces.txt", b" \n \n\t", "empty"),
        ("binary.txt", b"GIF89a\x01\x00\x01\x00\x00\xff\x00,\x00\x00", "binary"),
        ("latin1.md", "# Caf\xe9\n\nCr\xe8me br\xfbl\xe9e.".encode("latin-1"), "UTF-8"),
        ("huge.md", b"# Huge\n\n" + b"lots of words here " * 5_000, "limit"),
        ("report.pdf", b"%PDF-1.4\n", "unsupported"),
        ("script.sh", b"#!/bin/sh\nrm -rf /\n", "unsupported"),
        ("nav.html", NAV_ONLY_HTML, "no article text"),
        ("titles.md", b"# Only a title\n\n## And a heading\n", "no article text"),
    ],
)
def test_rejected_upload_changes_nothing(engine: Engine, name: str, data: bytes, reason: str) -> None:
    corpus_before = corpus_state(engine)
    build_before = read_manifest(engine.settings.index_dir)["build_id"]
    with pytest.raises(ArticleError) as info:
        add_article(engine, name, data)
    assert reason.lower() in str(info.value).lower()
    assert corpus_state(engine) == corpus_before
    assert read_manifest(engine.settings.index_dir)["build_id"] == build_before
    assert_k2_still_answered(engine)


def test_failed_rebuild_restores_the_corpus(engine: Engine) -> None:
    """If the re-index fails after the upload was written (another broken file), the upload is undone."""
    (engine.settings.corpus_dir / "broken.txt").write_bytes(b"")
    before = corpus_state(engine)
    build_before = read_manifest(engine.settings.index_dir)["build_id"]
    with pytest.raises(BotError, match="broken.txt"):
        add_article(engine, "sleep-hygiene.md", (FIXTURES / "sleep-hygiene.md").read_bytes())
    assert corpus_state(engine) == before
    assert read_manifest(engine.settings.index_dir)["build_id"] == build_before
    assert_k2_still_answered(engine)


# ----- file names ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../evil.txt", "evil.txt"),
        ("/etc/cron.d/evil.md", "evil.md"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("C:\\Users\\me\\notes.TXT", "notes.txt"),
        (".hidden.md", "hidden.md"),
        ("...md.md", "md.md"),
        ("my article (final).md", "my-article-final.md"),
        ("café crème.md", "caf-cr-me.md"),
        ("page.htm", "page.html"),
        ("notes.markdown", "notes.md"),
        ("a\x00b.txt", "a-b.txt"),
    ],
)
def test_safe_article_name(given: str, expected: str) -> None:
    assert safe_article_name(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "../../evil.txt",
        "..\\..\\evil.md",
        ".hidden.md",
        "dir/.././../x.html",
        "ünïcödé-名前.md",
        "\u202egnp.md",
        "a" * 300 + ".md",
        " spaced .txt",
    ],
)
def test_safe_name_stays_inside_corpus(tmp_path: Path, given: str) -> None:
    corpus = tmp_path / "corpus"
    name = safe_article_name(given)
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert name.isascii() and unicodedata.normalize("NFC", name) == name
    assert len(name) <= 110
    assert (corpus / name).resolve().parent == corpus.resolve()


@pytest.mark.parametrize("given", ["..", "../..", "名前.md", ".md", "noext", "evil.exe", "", "   "])
def test_unusable_names_are_rejected(given: str) -> None:
    with pytest.raises(ArticleError):
        safe_article_name(given)


def test_traversal_upload_lands_inside_corpus(engine: Engine, tmp_path: Path) -> None:
    data = b"# Evil\n\n## Payload\n\nThis article about zebra migration tried to escape the corpus folder.\n"
    added = add_article(engine, "../../evil.md", data)
    assert added.name == "evil.md"
    assert (engine.settings.corpus_dir / "evil.md").read_bytes() == data
    outside = [p for p in tmp_path.rglob("evil.md") if p.parent != engine.settings.corpus_dir]
    assert outside == []
    assert engine.answer("zebra migration").results[0].source == "evil.md"


# ----- remove --------------------------------------------------------------------------------
def test_remove_article(engine: Engine) -> None:
    add_article(engine, "sleep-hygiene.md", (FIXTURES / "sleep-hygiene.md").read_bytes())
    assert engine.answer("how long should a nap be").results[0].source == "sleep-hygiene.md"
    report = remove_article(engine, "sleep-hygiene.md")
    assert report.removed == ["sleep-hygiene.md"]
    assert not (engine.settings.corpus_dir / "sleep-hygiene.md").exists()
    assert not any(r.source == "sleep-hygiene.md" for r in engine.answer("how long should a nap be").results)
    assert [n for n, _, _ in list_articles(engine)] == [SEED_NAME]
    assert_k2_still_answered(engine)


def test_remove_refuses_last_and_unknown(engine: Engine) -> None:
    with pytest.raises(BotError, match="last"):
        remove_article(engine, SEED_NAME)
    assert (engine.settings.corpus_dir / SEED_NAME).is_file()
    with pytest.raises(BotError, match="no article"):
        remove_article(engine, "nope.md")
    with pytest.raises(BotError):
        remove_article(engine, "../corpus/" + SEED_NAME)
    assert (engine.settings.corpus_dir / SEED_NAME).is_file()
    assert_k2_still_answered(engine)


# ----- question log --------------------------------------------------------------------------
@pytest.fixture
def qlog(tmp_path: Path, make_settings: Callable[..., Settings]) -> QuestionLog:
    return QuestionLog.default(make_settings(tmp_path))


def test_question_log_stats(qlog: QuestionLog) -> None:
    a = qlog.record_question(1, K2_QUESTION, True, "Dietary Sources of K2 and D3")
    b = qlog.record_question(2, "capital of australia", False, "")
    c = qlog.record_question(3, "  Capital of Australia", False, "")
    qlog.record_question(3, "who won the cup", False, "")
    assert len({a, b, c}) == 3 and all(i > 0 for i in (a, b, c))
    stats = qlog.stats(days=7)
    assert (stats.asked, stats.answered) == (4, 1)
    assert stats.unanswered_top[0] == ("capital of australia", 2)
    assert ("who won the cup", 1) in stats.unanswered_top
    report = stats.format()
    assert "Questions (last 7 day(s)): 4" in report
    assert "Answered: 1 (25%)" in report
    assert "2× capital of australia" in report
    assert qlog.stats(days=None).asked == 4


def test_question_log_period(qlog: QuestionLog) -> None:
    qlog.record_question(1, "old question", False, "")
    with sqlite3.connect(qlog.path) as conn:
        conn.execute("UPDATE questions SET asked_at = asked_at - 30 * 86400")
    qlog.record_question(1, "new question", True, "S")
    assert qlog.stats(days=7).asked == 1
    assert qlog.stats(days=None).asked == 2


def test_feedback_and_changing_a_vote(qlog: QuestionLog) -> None:
    q1 = qlog.record_question(10, K2_QUESTION, True, "S")
    q2 = qlog.record_question(11, "and d3?", True, "S")
    assert qlog.record_feedback(q1, 10, 1)
    assert qlog.record_feedback(q2, 11, 1)
    stats = qlog.stats()
    assert (stats.thumbs_up, stats.thumbs_down) == (2, 0)
    assert qlog.record_feedback(q1, 10, -1)  # the same chat changes its mind
    stats = qlog.stats()
    assert (stats.thumbs_up, stats.thumbs_down) == (1, 1)
    assert not qlog.record_feedback(q1, 99, -1)  # another chat cannot vote on this chat's answer
    assert qlog.stats().thumbs_down == 1
    assert not qlog.record_feedback(12345, 10, 1)  # unknown question
    with pytest.raises(ValueError):
        qlog.record_feedback(q1, 10, 5)
    assert "👍 1  👎 1" in qlog.stats().format()


def test_chat_ids_are_hashed(qlog: QuestionLog) -> None:
    chat_id = 987654321123
    qlog.record_question(chat_id, "is natto healthy", True, "S")
    qid = qlog.record_question(chat_id, "second question", False, "")
    qlog.record_feedback(qid, chat_id, 1)
    raw = b"".join(p.read_bytes() for p in qlog.path.parent.iterdir() if p.is_file())
    assert str(chat_id).encode() not in raw
    assert qlog.pseudonym(chat_id) != str(chat_id)
    assert qlog.pseudonym(chat_id) == qlog.pseudonym(str(chat_id))  # stable
    with sqlite3.connect(qlog.path) as conn:
        hashes = {row[0] for row in conn.execute("SELECT chat_hash FROM questions")}
    assert hashes == {qlog.pseudonym(chat_id)}


def test_concurrent_writes_lose_nothing(qlog: QuestionLog) -> None:
    per_thread = 25
    errors: list[BaseException] = []
    shared = qlog
    start = threading.Barrier(8)

    def write(n: int) -> None:
        log = shared if n % 2 == 0 else QuestionLog(qlog.path)  # shared object and separate connections
        try:
            start.wait()
            for i in range(per_thread):
                qid = log.record_question(n, f"thread {n} question {i}", i % 2 == 0, "S")
                if i % 5 == 0:
                    log.record_feedback(qid, n, 1)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:3]
    stats = qlog.stats(days=None, top=1000)
    assert stats.asked == 8 * per_thread
    assert stats.answered == 8 * ((per_thread + 1) // 2)
    assert stats.thumbs_up == 8 * len(range(0, per_thread, 5))
    with sqlite3.connect(qlog.path) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM questions")]
    assert len(set(ids)) == 8 * per_thread


def test_log_survives_reopening(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(tmp_path)
    first = QuestionLog.default(settings)
    qid = first.record_question(5, "does it persist", False, "")
    first.record_feedback(qid, 5, -1)
    del first
    again = QuestionLog.default(replace(settings))
    stats = again.stats(days=None)
    assert (stats.asked, stats.answered, stats.thumbs_down) == (1, 0, 1)
    assert stats.unanswered_top == [("does it persist", 1)]
    assert again.path == settings.data_dir / "questions.sqlite3"


def test_long_and_hostile_questions_are_stored_safely(qlog: QuestionLog) -> None:
    qlog.record_question(1, "x" * 100_000, False, "")
    qlog.record_question(1, "'); DROP TABLE questions; --", False, "")
    qlog.record_question(1, "emoji 🦴 and \u202eRTL\u202c", False, "")
    stats = qlog.stats(days=None)
    assert stats.asked == 3
    assert all(len(q) <= 500 for q, _ in stats.unanswered_top)
    assert ("'); drop table questions; --", 1) in stats.unanswered_top


def test_telegram_uploads_are_checked_by_the_one_upload_rule() -> None:
    """The upload checks are written once, in bot.library; the Telegram handler uses that function."""
    pytest.importorskip("telegram")
    from bot import library
    from bot.telegram import admin

    assert admin.upload_problem is library.upload_problem

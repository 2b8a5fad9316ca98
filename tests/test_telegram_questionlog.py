"""The question log behind Telegram's feedback buttons and /stats: keyed pseudonyms, retention, clear errors."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import BotError
from bot.questionlog import QuestionLog

CHAT = 1001
REPO = Path(__file__).resolve().parent.parent


def log_in(folder: Path, **kwargs: int) -> QuestionLog:
    return QuestionLog(folder / "questions.sqlite3", **kwargs)


def chat_hashes(log: QuestionLog) -> set[str]:
    with sqlite3.connect(log.path) as conn:
        return {str(row[0]) for row in conn.execute("SELECT chat_hash FROM questions")}


def test_pseudonym_is_a_keyed_hmac_with_a_private_secret(tmp_path: Path) -> None:
    log = log_in(tmp_path / "data")
    qid = log.record_question(CHAT, "what foods have k2?", True, "S")
    [stored] = chat_hashes(log)
    assert stored != hashlib.sha256(f"chat:{CHAT}".encode()).hexdigest()[:16]  # not brute-forceable from the id alone
    assert stored not in {hashlib.sha256(f"{p}{CHAT}".encode()).hexdigest()[: len(stored)] for p in ("", "chat:")}
    keys = [p for p in (tmp_path / "data").iterdir() if p.suffix == ".key"]
    assert len(keys) == 1 and stat.S_IMODE(keys[0].stat().st_mode) == 0o600
    again = log_in(tmp_path / "data")  # a restart keeps the secret, so a chat keeps its pseudonym
    assert again.record_feedback(qid, CHAT, 1)
    other = log_in(tmp_path / "elsewhere")  # another deployment has another secret
    other.record_question(CHAT, "what foods have k2?", True, "S")
    assert chat_hashes(other) != {stored}


def test_feedback_only_from_the_chat_that_asked(tmp_path: Path) -> None:
    log = log_in(tmp_path)
    qid = log.record_question(CHAT, "what foods have k2?", True, "S")
    assert not log.record_feedback(qid, 2002, 1)  # someone else's question id
    assert log.stats().thumbs_up == 0
    assert log.record_feedback(qid, CHAT, 1)
    assert log.record_feedback(qid, CHAT, -1)  # the asker may change their vote
    assert (log.stats().thumbs_up, log.stats().thumbs_down) == (0, 1)


def test_rows_older_than_the_retention_period_are_deleted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = log_in(tmp_path)
    old = log.record_question(CHAT, "an old question", True, "S")
    log.record_feedback(old, CHAT, 1)
    new = log.record_question(CHAT, "a new question", True, "S")
    with sqlite3.connect(log.path) as conn:
        conn.execute("UPDATE questions SET asked_at = asked_at - 100 * 86400 WHERE id = ?", (old,))
        conn.execute("UPDATE feedback SET given_at = given_at - 100 * 86400")
    monkeypatch.setenv("BOT_LOG_RETENTION_DAYS", "90")
    reopened = QuestionLog.default(Settings(data_dir=tmp_path))
    assert reopened.retention_days == 90
    with sqlite3.connect(log.path) as conn:
        assert [row[0] for row in conn.execute("SELECT id FROM questions")] == [new]
        assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0
    assert QuestionLog(tmp_path / "questions.sqlite3", 90).retention_days == 90
    forever = log_in(tmp_path / "forever", retention_days=0)
    forever.record_question(CHAT, "kept", True, "S")
    with sqlite3.connect(forever.path) as conn:
        conn.execute("UPDATE questions SET asked_at = asked_at - 1000 * 86400")
    assert forever.purge() == 0 and forever.stats(None).asked == 1


def test_default_retention_is_90_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_LOG_RETENTION_DAYS", raising=False)
    assert QuestionLog.default(Settings(data_dir=tmp_path)).retention_days == 90


def test_stats_on_a_missing_log_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "TYPO"
    with pytest.raises(BotError) as caught:
        QuestionLog.for_reading(Settings(data_dir=typo)).stats()
    assert str(typo) in str(caught.value) and "\n" not in str(caught.value)
    assert not typo.exists()


def test_negative_days_are_refused(tmp_path: Path) -> None:
    log = log_in(tmp_path)
    with pytest.raises(BotError, match="days"):
        log.stats(-5)


def test_corrupt_log_opens_without_raising_and_says_so_on_use(tmp_path: Path) -> None:
    path = tmp_path / "questions.sqlite3"
    path.write_bytes(b"this is not a database at all " * 200)
    log = QuestionLog(path)  # the bot must still start
    with pytest.raises(BotError) as caught:
        log.record_question(CHAT, "what foods have k2?", True, "S")
    assert "corrupt" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(BotError) as caught:
        log.stats()
    assert "corrupt" in str(caught.value) and str(path) in str(caught.value)


def test_locked_log_gives_a_clear_error(tmp_path: Path) -> None:
    log = log_in(tmp_path)
    log.record_question(CHAT, "what foods have k2?", True, "S")
    log.close()  # the log keeps a writing connection open; the other process below is the one holding the file
    holder = sqlite3.connect(log.path, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=DELETE")
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO questions (asked_at, chat_hash, question, answered) VALUES (0, '', 'x', 0)")
        with pytest.raises(BotError) as caught:
            log.stats()
        assert "locked" in str(caught.value)
    finally:
        holder.close()


def test_read_only_log_can_still_be_reported(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    log = log_in(folder)
    log.record_question(CHAT, "capital of australia", False, "")
    os.chmod(log.path, 0o444)
    os.chmod(folder, 0o555)
    try:
        assert log.stats().asked == 1
    finally:
        os.chmod(folder, 0o755)


def test_old_reversible_pseudonyms_are_blanked_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "questions.sqlite3"
    old_hash = hashlib.sha256(f"chat:{CHAT}".encode()).hexdigest()[:16]
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE questions (id INTEGER PRIMARY KEY AUTOINCREMENT, asked_at REAL NOT NULL,"
            " chat_hash TEXT NOT NULL, question TEXT NOT NULL, answered INTEGER NOT NULL,"
            " top_section TEXT NOT NULL DEFAULT '');"
        )
        conn.execute(
            "INSERT INTO questions (asked_at, chat_hash, question, answered) VALUES (?, ?, 'q', 1)",
            (time.time(), old_hash),
        )
    log = QuestionLog(path)
    assert chat_hashes(log) == {""} and log.stats().asked == 1


def run_stats(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`run_bot.py stats ARGS` as a subprocess."""
    return subprocess.run(
        [sys.executable, str(REPO / "run_bot.py"), "stats", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )


def test_stats_command_errors_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    typo = tmp_path / "TYPO"
    missing = run_stats("--data", str(typo))
    assert missing.returncode == 1 and missing.stderr.startswith("error: no question log at ")
    assert not typo.exists()
    negative = run_stats("--days", "-5", "--data", str(tmp_path))
    assert negative.returncode == 2 and negative.stderr.strip() == "error: --days must be 0 (all time) or more, not -5"
    (tmp_path / "questions.sqlite3").write_bytes(b"garbage, not SQLite " * 100)
    corrupt = run_stats("--data", str(tmp_path))
    assert corrupt.returncode == 1 and "corrupt" in corrupt.stderr
    for result in (missing, negative, corrupt):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr

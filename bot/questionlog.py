"""The question log and feedback, in SQLite: what people asked, whether it was answered, 👍/👎.

What is stored, per question: the text (at most 500 characters), when it was asked (to the second),
whether it was answered, the top section, and a pseudonym of the chat. The pseudonym is an HMAC-SHA256
of the chat id under a random secret created on first run (`questionlog.key` in the data folder, mode
0600), so it cannot be reversed by hashing every possible id without that file. It lets a chat change its
own 👍/👎 and stops anyone voting on another chat's answer. Rows older than the retention period
(BOT_LOG_RETENTION_DAYS, default 90; 0 keeps them forever) are deleted when the log opens and then
hourly while it is written to.

Failures are `QuestionLogError` with a one-line message: a missing, corrupt, locked or unreadable
database never shows a traceback, and opening a broken log for writing does not raise (the Telegram
bot starts and answers; writes then fail, and the bot carries on without logging).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot.config import Settings
from bot.errors import BotError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at REAL NOT NULL,
    chat_hash TEXT NOT NULL,
    question TEXT NOT NULL,
    answered INTEGER NOT NULL,
    top_section TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions(asked_at);
CREATE TABLE IF NOT EXISTS feedback (
    question_id INTEGER NOT NULL REFERENCES questions(id),
    chat_hash TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value IN (-1, 1)),
    given_at REAL NOT NULL,
    PRIMARY KEY (question_id, chat_hash)
);
"""
# Version 2: chat pseudonyms are keyed HMACs. Older rows held a plain SHA-256 of the chat id, which is
# reversible by brute force, so the upgrade blanks them (their feedback can then no longer be changed).
SCHEMA_VERSION = 2
UPGRADE_TO_2 = """
UPDATE questions SET chat_hash = '';
UPDATE feedback SET chat_hash = 'v1-' || rowid;
"""
DB_NAME = "questions.sqlite3"
KEY_NAME = "questionlog.key"
MAX_STORED_QUESTION = 500
DEFAULT_RETENTION_DAYS = 90
PURGE_EVERY_SECONDS = 3600


class SharedVotes(Protocol):
    """Question ids, the pseudonym secret and votes shared by replicas (bot.store.redis.RedisVotes)."""

    def shared_key(self, candidate: bytes) -> bytes: ...
    def new_question(self, asker: str) -> int: ...
    def record(self, question_id: int, asker: str, value: int) -> bool: ...
    def counts(self, since: float) -> tuple[int, int]: ...


class QuestionLogError(BotError):
    """The question log cannot be read or written; the message says why in one line."""


@dataclass
class Stats:
    """The report behind /stats and `run_bot.py stats`."""

    days: int | None
    asked: int = 0
    answered: int = 0
    unanswered_top: list[tuple[str, int]] = field(default_factory=list)
    thumbs_up: int = 0
    thumbs_down: int = 0

    def format(self) -> str:
        period = f"last {self.days} day(s)" if self.days else "all time"
        share = f"{self.answered / self.asked:.0%}" if self.asked else "n/a"
        lines = [
            f"Questions ({period}): {self.asked}",
            f"Answered: {self.answered} ({share})",
            f"Feedback: 👍 {self.thumbs_up}  👎 {self.thumbs_down}",
        ]
        if self.unanswered_top:
            lines.append("Most frequent unanswered questions:")
            lines.extend(f"  {count}× {question}" for question, count in self.unanswered_top)
        else:
            lines.append("No unanswered questions.")
        return "\n".join(lines)


def load_or_create_key(path: Path) -> bytes:
    """The log's HMAC secret: read it, or create it (owner read/write only) on first run."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes().strip()
        if len(key) < 32:
            raise QuestionLogError(f"the question log key {path} is damaged; delete it to start a new one") from None
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
            log.warning("%s was readable by others; it is now readable by its owner only", path)
        return key
    with os.fdopen(fd, "wb") as out:
        key = secrets.token_hex(32).encode()
        out.write(key)
    return key


def explain(path: Path, exc: BaseException) -> str:
    """A one-line reason for a failed database operation."""
    text = " ".join(str(exc).split())
    if "not a database" in text or "malformed" in text:
        return f"the question log {path} is corrupt ({text}); move it away and a new one is started"
    if "locked" in text or "busy" in text:
        return f"the question log {path} is locked by another process ({text}); try again in a moment"
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return f"the question log {path} is read-only ({text})"
    return f"cannot use the question log {path}: {text}"


class QuestionLog:
    """Thread-safe access to the SQLite log; every write is its own committed transaction."""

    def __init__(self, path: Path, retention_days: int = DEFAULT_RETENTION_DAYS, *, create: bool = True) -> None:
        """Open (and with `create`, set up) the log at `path`; a broken log is reported on use, not here."""
        self.path = path
        self.retention_days = max(0, retention_days)
        self._lock = threading.Lock()
        self._key: bytes | None = None
        self._votes: SharedVotes | None = None  # with replicas: question ids and votes in the shared store
        self._conn: sqlite3.Connection | None = None  # kept open: one per write cost a WAL checkpoint each time
        self._last_purge = 0.0
        if create:
            try:
                self._set_up()
            except QuestionLogError as exc:
                log.warning("questions are not logged until this is fixed: %s", exc)

    @staticmethod
    def default(settings: Settings) -> QuestionLog:
        """The log in the data folder, for writing; retention from BOT_LOG_RETENTION_DAYS (settings)."""
        return QuestionLog(settings.data_dir / DB_NAME, settings.log_retention_days)

    @staticmethod
    def for_reading(settings: Settings) -> QuestionLog:
        """The log in the data folder, for reports only: creates nothing, not even the folder."""
        return QuestionLog(settings.data_dir / DB_NAME, create=False)

    @property
    def key_path(self) -> Path:
        return self.path.parent / KEY_NAME

    def _set_up(self) -> None:
        """Create the folder, the secret and the tables; upgrade old pseudonyms; apply retention."""
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                key = load_or_create_key(self.key_path)
                with closing(self._connect()) as conn:
                    conn.executescript(SCHEMA)
                    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                    if version < SCHEMA_VERSION:
                        conn.executescript(f"BEGIN; {UPGRADE_TO_2} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
                    self._purge_locked(conn)
            except (sqlite3.Error, OSError) as exc:
                raise QuestionLogError(explain(self.path, exc)) from exc
            self._key = key

    def share(self, votes: SharedVotes) -> None:
        """Replicas: take question ids, the pseudonym secret and the votes from the shared store.

        The questions themselves stay in this replica's SQLite file (so /stats counts the questions this
        replica answered, and every replica's votes); a vote may reach a replica that did not answer.
        """
        self._votes = votes
        if self._key is not None:
            self._key = votes.shared_key(self._key)

    def _ready(self) -> bytes:
        """The secret, setting the log up first if that failed before (e.g. the disk came back)."""
        if self._key is None:
            self._set_up()
            if self._votes is not None and self._key is not None:
                self._key = self._votes.shared_key(self._key)
        assert self._key is not None
        return self._key

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a committed row survives a crash of the process
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _writer(self) -> sqlite3.Connection:
        """The kept-open writing connection (call with self._lock held)."""
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _drop_writer(self) -> None:
        """Forget a connection that failed, so the next write opens a fresh one."""
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def close(self) -> None:
        """Close the writing connection."""
        with self._lock:
            self._drop_writer()

    def _connect_read(self) -> sqlite3.Connection:
        """A read-only connection that never creates the file (falls back to an immutable snapshot on a read-only
        disk)."""
        if not self.path.is_file():
            raise QuestionLogError(
                f"no question log at {self.path}: only the Telegram bot logs questions (the REPL and `ask` do not), "
                "and it has logged nothing there yet (check --data or BOT_DATA_DIR)"
            )
        uri = self.path.resolve().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=2)
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            if "unable to open" not in str(exc) and "readonly" not in str(exc):
                raise
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=2)

    def pseudonym(self, chat_id: int | str) -> str:
        """The chat's stable, keyed pseudonym (an HMAC; irreversible without the key file)."""
        return hmac.new(self._ready(), f"chat:{chat_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def record_question(self, chat_id: int | str, question: str, answered: bool, top_section: str) -> int:
        """Store one question; return its id (for feedback buttons)."""
        chat_hash = self.pseudonym(chat_id)
        with self._lock:
            try:
                conn = self._writer()
                if time.monotonic() - self._last_purge > PURGE_EVERY_SECONDS:
                    self._purge_locked(conn)
                shared_id = self._votes.new_question(chat_hash) if self._votes is not None else None
                cursor = conn.execute(
                    "INSERT INTO questions (id, asked_at, chat_hash, question, answered, top_section) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        shared_id,
                        int(time.time()),
                        chat_hash,
                        question[:MAX_STORED_QUESTION],
                        int(answered),
                        top_section,
                    ),
                )
                return int(cursor.lastrowid or 0)
            except (sqlite3.Error, OSError) as exc:
                self._drop_writer()
                raise QuestionLogError(explain(self.path, exc)) from exc

    def record_feedback(self, question_id: int, chat_id: int | str, value: int) -> bool:
        """Store (or change) a chat's 👍 (+1) / 👎 (-1) on its own answer; False if the question is unknown or another
        chat's."""
        if value not in (1, -1):
            raise ValueError("feedback value must be +1 or -1")
        chat_hash = self.pseudonym(chat_id)
        if self._votes is not None:
            try:
                return self._votes.record(question_id, chat_hash, value)
            except OSError as exc:
                raise QuestionLogError(f"cannot record the vote: {exc}") from exc
        with self._lock:
            try:
                conn = self._writer()
                row = conn.execute("SELECT chat_hash FROM questions WHERE id = ?", (question_id,)).fetchone()
                if row is None or not hmac.compare_digest(str(row[0]), chat_hash):
                    return False
                conn.execute(
                    "INSERT INTO feedback (question_id, chat_hash, value, given_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (question_id, chat_hash) "
                    "DO UPDATE SET value = excluded.value, given_at = excluded.given_at",
                    (question_id, chat_hash, value, int(time.time())),
                )
                return True
            except (sqlite3.Error, OSError) as exc:
                self._drop_writer()
                raise QuestionLogError(explain(self.path, exc)) from exc

    def purge(self) -> int:
        """Delete the questions (and their feedback) older than the retention period; return how many questions went."""
        self._ready()
        with self._lock:
            try:
                with closing(self._connect()) as conn:
                    return self._purge_locked(conn)
            except (sqlite3.Error, OSError) as exc:
                raise QuestionLogError(explain(self.path, exc)) from exc

    def _purge_locked(self, conn: sqlite3.Connection) -> int:
        self._last_purge = time.monotonic()
        if not self.retention_days:
            return 0
        cutoff = time.time() - self.retention_days * 86400
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "DELETE FROM feedback WHERE given_at < ? OR question_id IN (SELECT id FROM questions WHERE asked_at < ?)",
            (cutoff, cutoff),
        )
        removed = conn.execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount
        conn.execute("COMMIT")
        return int(removed)

    def stats(self, days: int | None = 7, top: int = 10) -> Stats:
        """Counts for the last `days` days (all time when None or 0)."""
        if days is not None and days < 0:
            raise QuestionLogError(f"the number of days must be 0 (all time) or more, not {days}")
        since = time.time() - days * 86400 if days else 0.0
        try:
            with closing(self._connect_read()) as conn:
                asked, answered = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions WHERE asked_at >= ?", (since,)
                ).fetchone()
                unanswered = conn.execute(
                    "SELECT lower(trim(question)) AS q, COUNT(*) AS n FROM questions "
                    "WHERE asked_at >= ? AND answered = 0 "
                    "GROUP BY q ORDER BY n DESC, MAX(asked_at) DESC LIMIT ?",
                    (since, top),
                ).fetchall()
                up, down = conn.execute(
                    "SELECT COALESCE(SUM(value = 1), 0), COALESCE(SUM(value = -1), 0) "
                    "FROM feedback WHERE given_at >= ?",
                    (since,),
                ).fetchone()
            if self._votes is not None:
                up, down = self._votes.counts(since)
        except (sqlite3.Error, OSError) as exc:
            raise QuestionLogError(explain(self.path, exc)) from exc
        return Stats(
            days or None, int(asked), int(answered), [(str(q), int(n)) for q, n in unanswered], int(up), int(down)
        )

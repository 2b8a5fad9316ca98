"""The question log and feedback, in SQLite: what people asked, whether it was answered, 👍/👎."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings

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
MAX_STORED_QUESTION = 500


def hash_chat(chat_id: int | str) -> str:
    """A stable pseudonym for a chat, so the log never stores who asked."""
    return hashlib.sha256(f"chat:{chat_id}".encode()).hexdigest()[:16]


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


class QuestionLog:
    """Thread-safe access to the SQLite log; every write is its own committed transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.executescript(SCHEMA)

    @staticmethod
    def default(settings: Settings) -> "QuestionLog":
        return QuestionLog(settings.data_dir / "questions.sqlite3")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def record_question(self, chat_id: int | str, question: str, answered: bool, top_section: str) -> int:
        """Store one question; return its id (for feedback buttons)."""
        with self._lock, closing(self._connect()) as conn:
            cursor = conn.execute(
                "INSERT INTO questions (asked_at, chat_hash, question, answered, top_section) VALUES (?, ?, ?, ?, ?)",
                (time.time(), hash_chat(chat_id), question[:MAX_STORED_QUESTION], int(answered), top_section),
            )
            return int(cursor.lastrowid or 0)

    def record_feedback(self, question_id: int, chat_id: int | str, value: int) -> bool:
        """Store (or change) a chat's 👍 (+1) / 👎 (-1) on an answer; False if the question is unknown."""
        if value not in (1, -1):
            raise ValueError("feedback value must be +1 or -1")
        with self._lock, closing(self._connect()) as conn:
            if conn.execute("SELECT 1 FROM questions WHERE id = ?", (question_id,)).fetchone() is None:
                return False
            conn.execute(
                "INSERT INTO feedback (question_id, chat_hash, value, given_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (question_id, chat_hash) DO UPDATE SET value = excluded.value, given_at = excluded.given_at",
                (question_id, hash_chat(chat_id), value, time.time()),
            )
            return True

    def stats(self, days: int | None = 7, top: int = 10) -> Stats:
        """Counts for the last `days` days (all time when None)."""
        since = time.time() - days * 86400 if days else 0.0
        with closing(self._connect()) as conn:
            asked, answered = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions WHERE asked_at >= ?", (since,)
            ).fetchone()
            unanswered = conn.execute(
                "SELECT lower(trim(question)) AS q, COUNT(*) AS n FROM questions WHERE asked_at >= ? AND answered = 0 "
                "GROUP BY q ORDER BY n DESC, MAX(asked_at) DESC LIMIT ?",
                (since, top),
            ).fetchall()
            up, down = conn.execute(
                "SELECT COALESCE(SUM(value = 1), 0), COALESCE(SUM(value = -1), 0) FROM feedback WHERE given_at >= ?", (since,)
            ).fetchone()
        return Stats(days, int(asked), int(answered), [(str(q), int(n)) for q, n in unanswered], int(up), int(down))

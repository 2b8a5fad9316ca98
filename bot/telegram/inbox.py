"""Durable update intake: an update is written to SQLite before Telegram can forget it, and crossed off once handled.

Telegram forgets an update once the bot acknowledges it: with long polling, when the next getUpdates
asks for a higher offset (PTB does that right after fetching); with a webhook, when the HTTP request
is answered (PTB does that right after queueing). Both happen before the update is handled, so a crash
used to lose every question in flight. Here:

1. `DurableUpdateQueue` is the Application's update queue. Putting an update in it first writes the
   update to the inbox (one SQLite row, committed), so by the time Telegram hears "got it" the update
   is on disk. An update id the inbox already holds (Telegram redelivering what the last run fetched
   but never acknowledged) is not queued twice.
2. The update processor (`bot.telegram.ordering`) crosses an update off (`Inbox.done`) once its
   handler has finished, errors included (the error handler has then told the user).
3. On start, `Inbox.pending()` gives the updates a previous run fetched but never finished; they are
   queued before polling starts, so they are handled first, in their original order.

Rows are keyed by the bot's id and the update id, and hold a digest of the update: a second bot
token on the same data folder has its own ids, and an id seen again with other content is a new
update (Telegram restarts its ids after a week without updates), not a redelivery. Before, both were
silently dropped as "already received".

So every fetched update is handled at least once. It is handled twice only when the process dies in
the moment between Telegram accepting the answer and the inbox row being crossed off.

An update that was replayed `MAX_ATTEMPTS` times without finishing (one that kills the process every
time) is dropped with a warning rather than replayed forever. Finished rows are kept for a day,
Telegram's own redelivery window, so a late redelivery is still recognised; then they are deleted.
A finished row keeps only the update id and times: the message itself is blanked once handled.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telegram import Bot, Update

if TYPE_CHECKING:
    from bot.store import UpdateInbox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
KEEP_DONE_SECONDS = 24 * 3600
PURGE_EVERY = 1000  # updates crossed off between purges of old finished rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    bot_id INTEGER NOT NULL,
    update_id INTEGER NOT NULL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    done_at REAL,
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox(bot_id, done_at, update_id);
"""
# Earlier versions kept `updates` without the bot's id: their unfinished rows are taken over by the
# first bot that starts (they were its updates), the finished ones dropped.
UPGRADE = """
INSERT OR IGNORE INTO inbox (bot_id, update_id, digest, body, received_at, attempts)
    SELECT 0, update_id, '', body, received_at, attempts FROM updates WHERE done_at IS NULL;
DROP TABLE updates;
"""


def bot_id_of(token: str) -> int:
    """The bot's id: the number before the colon of its token (0 when there is none)."""
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else 0


def encode(update: Update) -> tuple[str, str]:
    """The update as stored (JSON), and its digest: what tells a redelivery (same content, same id) from a new
    update that reuses an id. One serialisation for both: a flood of updates is recorded as fast as it comes."""
    body = json.dumps(update.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return body, hashlib.sha256(body.encode()).hexdigest()[:32]


class Inbox:
    """The SQLite record of fetched updates: pending until handled, then done (kept a day for de-duplication)."""

    def __init__(self, path: Path, bot_id: int = 0, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.bot_id = bot_id
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'updates'").fetchone():
            self._db.executescript(f"BEGIN; {UPGRADE} COMMIT;")
        self._finished = 0

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def accept(self, update: Update) -> bool:
        """Record a fetched update; False when it is already known (redelivered), so it must not be queued again."""
        body, digest = encode(update)
        now = self._clock()
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT digest, done_at FROM inbox WHERE bot_id = ? AND update_id = ?",
                    (self.bot_id, update.update_id),
                ).fetchone()
                if row is not None and row[0] == digest and (row[1] is None or row[1] >= now - KEEP_DONE_SECONDS):
                    return False
                if row is not None:
                    log.info("update id %s is reused by a new update (Telegram restarted its ids)", update.update_id)
                self._db.execute(
                    "INSERT OR REPLACE INTO inbox (bot_id, update_id, digest, body, received_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (self.bot_id, update.update_id, digest, body, now),
                )
        except sqlite3.Error as exc:  # a broken inbox costs durability, never the answer
            log.warning("update %s not recorded in the inbox (%s): handling it anyway", update.update_id, exc)
            return True
        return True

    def done(self, update_id: int) -> None:
        """Cross off a handled update."""
        try:
            with self._lock:  # the message itself is not kept once handled: only its id, to spot a redelivery
                self._db.execute(
                    "UPDATE inbox SET done_at = ?, body = '' WHERE bot_id = ? AND update_id = ?",
                    (self._clock(), self.bot_id, update_id),
                )
                self._finished += 1
                if self._finished % PURGE_EVERY == 0:
                    self._purge_locked()
        except sqlite3.Error as exc:
            log.warning("update %s not crossed off in the inbox (%s); a restart may handle it again", update_id, exc)

    def pending(self, bot: Bot) -> list[Update]:
        """Updates fetched by an earlier run and never finished, oldest first; each call counts as one more attempt.

        Updates replayed `MAX_ATTEMPTS` times already are given up (marked done) with a warning.
        """
        with self._lock:
            self._purge_locked()
            self._db.execute("UPDATE OR IGNORE inbox SET bot_id = ? WHERE bot_id = 0", (self.bot_id,))
            rows = self._db.execute(
                "SELECT update_id, body, attempts FROM inbox WHERE bot_id = ? AND done_at IS NULL ORDER BY update_id",
                (self.bot_id,),
            ).fetchall()
            updates: list[Update] = []
            for update_id, body, attempts in rows:
                if attempts >= MAX_ATTEMPTS:
                    log.warning("giving up update %s: it was replayed %d times without finishing", update_id, attempts)
                    self._finish_locked(update_id)
                    continue
                update = parse_update(body, bot)
                if update is None:
                    self._finish_locked(update_id)
                    continue
                self._db.execute(
                    "UPDATE inbox SET attempts = attempts + 1 WHERE bot_id = ? AND update_id = ?",
                    (self.bot_id, update_id),
                )
                updates.append(update)
        return updates

    def _finish_locked(self, update_id: int) -> None:
        self._db.execute(
            "UPDATE inbox SET done_at = ?, body = '' WHERE bot_id = ? AND update_id = ?",
            (self._clock(), self.bot_id, update_id),
        )

    def _purge_locked(self) -> None:
        self._db.execute(
            "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?", (self._clock() - KEEP_DONE_SECONDS,)
        )


def parse_update(body: str, bot: Bot) -> Update | None:
    """An Update from its stored JSON, or None (logged) when it cannot be read."""
    try:
        data: dict[str, Any] = json.loads(body)
        return Update.de_json(data, bot)
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("dropping an unreadable stored update: %s", exc)
        return None


class DurableUpdateQueue(asyncio.Queue[object]):
    """The Application's update queue: an update is recorded in the inbox before it is queued (and before Telegram is
    told)."""

    def __init__(self, inbox: UpdateInbox) -> None:
        super().__init__()
        self.inbox = inbox

    async def put(self, item: object) -> None:
        """Record, then queue; a redelivered update already in the inbox is skipped."""
        if isinstance(item, Update) and not self.inbox.accept(item):
            log.info("update %s was already received; not handling it twice", item.update_id)
            return
        await super().put(item)

    def replay(self, updates: list[Update]) -> None:
        """Queue updates taken from the inbox (already recorded)."""
        for update in updates:
            super().put_nowait(update)

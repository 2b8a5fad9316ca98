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

So every fetched update is handled at least once. It is handled twice only when the process dies in
the moment between Telegram accepting the answer and the inbox row being crossed off.

An update that was replayed `MAX_ATTEMPTS` times without finishing (one that kills the process every
time) is dropped with a warning rather than replayed forever. Finished rows are kept for a day,
Telegram's own redelivery window, so a late redelivery is still recognised; then they are deleted.
A finished row keeps only the update id and times: the message itself is blanked once handled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from telegram import Bot, Update

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
KEEP_DONE_SECONDS = 24 * 3600
PURGE_EVERY = 1000  # updates crossed off between purges of old finished rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS updates (
    update_id INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    received_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS updates_pending ON updates(done_at, update_id);
"""


class Inbox:
    """The SQLite record of fetched updates: pending until handled, then done (kept a day for de-duplication)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._finished = 0

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def accept(self, update: Update) -> bool:
        """Record a fetched update; False when it is already known (redelivered), so it must not be queued again."""
        body = json.dumps(update.to_dict(), ensure_ascii=False, separators=(",", ":"))
        try:
            with self._lock:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO updates (update_id, body, received_at) VALUES (?, ?, ?)",
                    (update.update_id, body, self._clock()),
                )
        except sqlite3.Error as exc:  # a broken inbox costs durability, never the answer
            log.warning("update %s not recorded in the inbox (%s): handling it anyway", update.update_id, exc)
            return True
        return cursor.rowcount == 1

    def done(self, update_id: int) -> None:
        """Cross off a handled update."""
        try:
            with self._lock:  # the message itself is not kept once handled: only its id, to spot a redelivery
                self._db.execute(
                    "UPDATE updates SET done_at = ?, body = '' WHERE update_id = ?", (self._clock(), update_id)
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
            rows = self._db.execute(
                "SELECT update_id, body, attempts FROM updates WHERE done_at IS NULL ORDER BY update_id"
            ).fetchall()
            updates: list[Update] = []
            for update_id, body, attempts in rows:
                if attempts >= MAX_ATTEMPTS:
                    log.warning("giving up update %s: it was replayed %d times without finishing", update_id, attempts)
                    self._db.execute(
                        "UPDATE updates SET done_at = ?, body = '' WHERE update_id = ?", (self._clock(), update_id)
                    )
                    continue
                update = parse_update(body, bot)
                if update is None:
                    self._db.execute(
                        "UPDATE updates SET done_at = ?, body = '' WHERE update_id = ?", (self._clock(), update_id)
                    )
                    continue
                self._db.execute("UPDATE updates SET attempts = attempts + 1 WHERE update_id = ?", (update_id,))
                updates.append(update)
        return updates

    def count_pending(self) -> int:
        """Updates not yet handled."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM updates WHERE done_at IS NULL").fetchone()[0])

    def _purge_locked(self) -> None:
        self._db.execute(
            "DELETE FROM updates WHERE done_at IS NOT NULL AND done_at < ?", (self._clock() - KEEP_DONE_SECONDS,)
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

    def __init__(self, inbox: Inbox) -> None:
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

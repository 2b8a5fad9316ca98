"""The update inbox: recorded before Telegram is told, de-duplicated by update id, replayed until handled, then
blanked."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from telegram import Bot, Update

from bot.telegram.inbox import MAX_ATTEMPTS, Inbox

BOT = Bot("123456:TEST-TOKEN")


def update(update_id: int, text: str = "what foods have K2?") -> Update:
    data = {
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 0, "chat": {"id": 5, "type": "private"}, "text": text},
    }
    parsed = Update.de_json(data, BOT)
    assert parsed is not None
    return parsed


def test_unfinished_updates_are_replayed_in_order_and_redeliveries_skipped(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "state.sqlite3")
    assert inbox.accept(update(2)) and inbox.accept(update(1)) and inbox.accept(update(3))
    assert not inbox.accept(update(2))  # Telegram redelivered what the last run fetched
    inbox.done(1)
    inbox.close()
    reopened = Inbox(tmp_path / "state.sqlite3")
    replayed = reopened.pending(BOT)
    assert [u.update_id for u in replayed] == [2, 3]
    assert replayed[0].effective_message is not None and replayed[0].effective_message.text == "what foods have K2?"
    assert not reopened.accept(update(1))  # finished, still recognised


def test_a_handled_update_keeps_no_message_text(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "state.sqlite3")
    inbox.accept(update(1, "my private question"))
    inbox.done(1)
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        assert db.execute("SELECT body FROM inbox").fetchall() == [("",)]


def test_an_update_that_never_finishes_is_given_up(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "state.sqlite3")
    inbox.accept(update(1))
    for _ in range(MAX_ATTEMPTS):
        assert [u.update_id for u in inbox.pending(BOT)] == [1]  # each start replays it (and it kills the bot again)
    assert inbox.pending(BOT) == []

"""Where the Telegram bot keeps what must outlive a process: one interface, a SQLite and a Redis implementation.

What is kept, and by whom:

| what | one process (default) | replicas (`BOT_REDIS_URL` set) |
| --- | --- | --- |
| conversation state (context, More pages, /remove confirmations) | `SQLiteStore` | `RedisConversationStore` |
| the update inbox (recorded before Telegram is told, replayed until handled) | `Inbox` (SQLite) | `RedisInbox` |
| per-chat order across processes | in-process locks (`bot.telegram.ordering`) | `RedisInbox.wait_turn` |
| feedback votes and question ids | the question log (SQLite) | `RedisVotes` (the log itself stays per replica) |
| Telegram's 30 messages per second | in-process (`bot.telegram.delivery`) | `RedisRate`, bot-wide |

The SQLite implementations live beside their users (`bot.conversation`, `bot.telegram.inbox`,
`bot.questionlog`); `bot.store.redis` holds the Redis ones. `open_shared_state` picks by settings.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from telegram import Bot, Update

from bot.config import Settings
from bot.conversation import ConversationStore, SQLiteStore
from bot.errors import BotError
from bot.questionlog import SharedVotes
from bot.telegram.delivery import SharedRate

log = logging.getLogger(__name__)

STATE_DB = "telegram.sqlite3"  # in the data folder: the update inbox and the conversations (one process)


class UpdateInbox(Protocol):
    """Fetched updates: recorded before Telegram is told, crossed off once handled, replayed when unfinished."""

    def accept(self, update: Update) -> bool:
        """Record an update; False when it is already known (a redelivery), so it must not be queued again."""

    def done(self, update_id: int) -> None:
        """Cross off a handled update."""

    def pending(self, bot: Bot) -> list[Update]:
        """Updates a previous run of this process fetched and never finished, oldest first."""

    def close(self) -> None:
        """Release the connection."""


class Turns(Protocol):
    """Per-chat order across processes."""

    async def wait_turn(
        self,
        key: Hashable,
        update_id: int,
        handle_orphan: Callable[[Update], Awaitable[None]],
        stopping: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Wait until `update_id` is its chat's oldest unfinished update; False when another process finished it
        or when `stopping()` turns true (it is then left unfinished, for another process)."""


class StoreUnavailable(BotError):
    """The shared store cannot be reached; the message says why in one line."""


@dataclass
class SharedState:
    """What `open_shared_state` opened: the inbox, the conversation store, and (with Redis) turns and votes."""

    inbox: UpdateInbox | None
    conversations: ConversationStore | None
    turns: Turns | None = None
    votes: SharedVotes | None = None  # RedisVotes with Redis; the question log keeps votes itself otherwise
    rate: SharedRate | None = None  # RedisRate with Redis: the bot-wide 30 messages per second


def open_shared_state(settings: Settings, bot_id: int) -> SharedState:
    """Redis when BOT_REDIS_URL is set (StoreUnavailable when it cannot be reached), else SQLite in the data folder.

    A SQLite state that cannot be opened is not fatal: the bot answers and keeps its state in memory.
    """
    if settings.redis_url:
        from bot.store.redis import open_redis_state

        return open_redis_state(settings, bot_id)
    from bot.telegram.inbox import Inbox

    path = Path(settings.data_dir) / STATE_DB
    try:
        return SharedState(Inbox(path, bot_id), SQLiteStore(path, settings.context_ttl_seconds))
    except (sqlite3.Error, OSError) as exc:  # the bot still answers; it just forgets on restart
        log.warning("cannot open %s (%s): updates and conversations are kept in memory only", path, exc)
        return SharedState(None, None)

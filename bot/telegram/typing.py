""" "typing…" on its own few connections: a cosmetic call never takes a connection an answer needs.

Chat actions used to share the Application's connection pool while bypassing its rate limiter: with
200 chats bursting, the typing calls held the pool and answers failed with "Pool timeout". Here they
go through a second `Bot` with a small pool of its own (`POOL`), short timeouts, and no waiting for a
connection: when all are busy the action is skipped. A chat is shown "typing…" at most once every
`EVERY` seconds (Telegram shows it for about five). A failure is logged once and never retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from telegram import Bot
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)

POOL = 4
TIMEOUT = 3.0  # seconds; a typing call slower than this is not worth waiting for
EVERY = 4.0
MAX_REMEMBERED = 10_000


class Typing:
    """Shows "typing…" in a chat without touching the answers' connections."""

    def __init__(self, bot: Bot, pool: int = POOL, every: float = EVERY, request: HTTPXRequest | None = None) -> None:
        self.bot = bot
        self.request = request
        self.pool = max(1, pool)
        self.every = every
        self._busy = 0
        self._shown: dict[int, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def for_bot(cls, bot: Bot, httpx_kwargs: dict[str, Any] | None = None, pool: int = POOL) -> Typing:
        """A Typing over a new Bot with the same token and URLs as `bot`, on a pool of `pool` connections."""
        request = HTTPXRequest(
            connection_pool_size=pool,
            pool_timeout=0.05,
            connect_timeout=TIMEOUT,
            read_timeout=TIMEOUT,
            write_timeout=TIMEOUT,
            httpx_kwargs=httpx_kwargs,
        )
        own = Bot(bot.token, base_url=bot.base_url.removesuffix(bot.token), request=request)
        return cls(own, pool, request=request)

    def show(self, chat_id: int) -> None:
        """Start the action in the background, unless shown lately or every typing connection is busy."""
        now = time.monotonic()
        if self._busy >= self.pool or now - self._shown.get(chat_id, -self.every) < self.every:
            return
        if len(self._shown) > MAX_REMEMBERED:
            self._shown.clear()
        self._shown[chat_id] = now
        self._busy += 1
        task = asyncio.get_running_loop().create_task(self._send(chat_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, chat_id: int) -> None:
        """One chat action; a failure is only logged."""
        try:
            await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:
            log.info("could not show typing in chat %s: %s", chat_id, " ".join(str(exc).split()))
        finally:
            self._busy -= 1

    async def close(self) -> None:
        """Cancel what is in flight and close the connections."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.request is not None:  # the Bot was never initialised (no getMe needed), so close its pool here
            await self.request.shutdown()

"""Getting requests to Telegram: rate limits, and bounded retries of transient Bot API faults.

`DeliveryLimiter` is the Application's rate limiter, so every Bot API call except getUpdates passes
through it (answers, edits, callback answers, and the start-up calls getMe, deleteWebhook and
setMyCommands):

- **What it limits.** Messages and edits: at most 30 per second overall and 20 per minute per group,
  Telegram's published limits. Chat actions ("typing…") are cosmetic: they bypass the limiter, so they
  never delay an answer, and they are sent once, never retried.
- **Replicas.** With Redis (`bot.store.redis.RedisRate`) the 30 per second are shared by every
  replica of the bot: each message also takes a slot of one bot-wide schedule in Redis, since
  Telegram counts the bot's messages, not a process's.
- **Flood control (429).** The request waits `retry_after` seconds and is sent again. Only the chat that
  got the 429 pauses; other chats keep going.
- **Transient faults.** Network errors, timeouts and 5xx answers are retried with exponential backoff
  (0.25 s, 0.5 s, 1 s, 2 s; at most `attempts` tries in all). A 4xx answer (other than 429) is never
  retried. Each retry is one WARNING line: the method, the error, the attempt, the delay.
- **Duplicates.** A request whose response was lost (a dropped connection after Telegram processed it,
  or a read timeout) may have been delivered. The Bot API has no idempotency key for sendMessage, so a
  retry can then show the message twice; the alternative is a lost answer. Edits and callback answers
  are harmless to repeat.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import warnings
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any, Protocol

from aiolimiter import AsyncLimiter
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

JSON = bool | dict[str, Any] | list[dict[str, Any]]
Callback = Callable[..., Coroutine[Any, Any, JSON]]

COSMETIC = frozenset({"sendChatAction"})
ATTEMPTS = 5
BASE_DELAY = 0.25
MAX_DELAY = 4.0
MAX_RETRY_AFTER = 60.0
MESSAGES_PER_SECOND = 30
GROUP_MESSAGES_PER_MINUTE = 20


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds (PTB returns int or timedelta depending on its settings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def is_transient(exc: BaseException) -> bool:
    """Network errors, timeouts and 5xx answers (PTB raises NetworkError for those; BadRequest is a 400)."""
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


def backoff(attempt: int, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """Delay before retry number `attempt` (1-based): exponential, capped, with up to 25% jitter."""
    return min(cap, base * 2 ** (attempt - 1)) * (1 + random.random() / 4)


class SharedRate(Protocol):
    """A bot-wide message schedule shared by replicas."""

    def reserve(self) -> float:
        """Take the next slot: 0 when the message may go now, else the seconds to wait before asking again."""


class DeliveryLimiter(BaseRateLimiter[int]):
    """Telegram's send limits plus bounded retries; `rate_limit_args` (an int) overrides the attempts of one call."""

    def __init__(
        self,
        attempts: int = ATTEMPTS,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        shared: SharedRate | None = None,
    ) -> None:
        self.shared = shared
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._overall = AsyncLimiter(MESSAGES_PER_SECOND, 1)
        self._groups: dict[int | str, AsyncLimiter] = {}
        self._paused_until: dict[int | str, float] = {}

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        """Send one request: cosmetic calls once and unlimited; everything else limited and retried."""
        if endpoint in COSMETIC:
            return await callback(*args, **kwargs)
        chat = chat_of(data)
        attempts = rate_limit_args or self.attempts
        for attempt in range(1, attempts + 1):
            await self._wait_if_paused(chat)
            try:
                async with AsyncExitStack() as limits:
                    await self._enter_limits(limits, chat)
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                delay = retry_after_seconds(exc)
                if attempt == attempts or delay > MAX_RETRY_AFTER:
                    raise
                log.warning(
                    "Bot API %s: flood control, attempt %d of %d; retrying in %.1f s",
                    endpoint,
                    attempt,
                    attempts,
                    delay,
                )
                if chat is None:
                    await asyncio.sleep(delay)
                else:
                    self._pause(chat, delay)
            except NetworkError as exc:
                if not is_transient(exc) or attempt == attempts:
                    raise
                delay = backoff(attempt, self.base_delay, self.max_delay)
                log.warning(
                    "Bot API %s failed (%s), attempt %d of %d; retrying in %.1f s",
                    endpoint,
                    describe(exc),
                    attempt,
                    attempts,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _enter_limits(self, limits: AsyncExitStack, chat: int | str | None) -> None:
        """The overall limit for anything sent to a chat, and the per-group limit for groups."""
        if chat is None:
            return
        await limits.enter_async_context(self._overall)
        while self.shared is not None and (wait := self.shared.reserve()) > 0:
            await asyncio.sleep(wait)
        if isinstance(chat, str) or chat < 0:
            group = self._groups.setdefault(chat, AsyncLimiter(GROUP_MESSAGES_PER_MINUTE, 60))
            await limits.enter_async_context(group)

    def _pause(self, chat: int | str, seconds: float) -> None:
        """Hold this chat's requests for `seconds`."""
        self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), time.monotonic() + seconds)

    async def _wait_if_paused(self, chat: int | str | None) -> None:
        """Sleep until the chat's flood-control pause is over."""
        if chat is None:
            return
        key = chat
        until = self._paused_until.get(key)
        if until is None:
            return
        remaining = until - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)
        if self._paused_until.get(key) == until:
            del self._paused_until[key]


def chat_of(data: dict[str, Any]) -> int | str | None:
    """The request's chat id (an int, or an '@channel' name), or None."""
    chat = data.get("chat_id")
    if chat is None:
        return None
    try:
        return int(chat)
    except (TypeError, ValueError):
        return str(chat)


def describe(exc: BaseException) -> str:
    """A one-line description of a Bot API error."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text

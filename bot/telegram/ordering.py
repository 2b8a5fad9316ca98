"""Per-chat ordering: the updates of one chat are handled one after another, different chats in parallel.

A follow-up ("and d3?") needs the context of the question before it, and a user expects answers in the
order they asked. PTB's concurrent processing runs every update as its own task, so two quick messages
of one chat could be searched at the same time and answered in either order. `PerChatUpdateProcessor`
gives each chat an `asyncio.Lock`; asyncio locks wake their waiters first-in first-out, and PTB starts
update tasks in the order it fetched them, so a chat's updates run in arrival order.

An update waiting for its chat holds no slot: PTB's own semaphore (taken before an update reaches the
processor) is made unbounded, and a slot of `max_concurrent_updates` is taken only once the update's
chat is free. So a chat that floods the bot with a thousand messages holds one slot, and the other
chats keep theirs: before, its waiting messages held every slot and other chats waited for minutes.

Across processes (two replicas on one Redis, `bot.store`), `turns` adds a second gate inside the chat
lock: an update runs only when it is the oldest unfinished update of its chat in the shared inbox and
this process holds the chat's shared lock.

With an inbox (`bot.telegram.inbox`), an update is crossed off once its handler has finished, still
holding its chat's lock, so a crash never loses it. `drain()` (called when the application stops, e.g.
on SIGTERM) lets the updates already being handled finish and starts no new one: those stay in the
inbox and are handled first after the restart. A stop then takes as long as the answers in flight,
not as long as the whole backlog, and at most `BOT_DRAIN_SECONDS` (default 5, half a container
platform's usual 10 s grace): updates still unfinished then are cancelled and, not crossed off, are
replayed at the next start. The conversation checkpoint (`Conversations.checkpoint`) makes that safe.

An outage longer than one round of Bot API retries (`bot.telegram.delivery`, about 4 s) does not lose
the question either: the error handler reports the update (`retry_later`), and it is handled again,
still holding its chat (so the chat's later messages keep waiting behind it), after 2, 10 and 30 s.
Only then is it given up, with an ERROR line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

if TYPE_CHECKING:
    from bot.store import Turns, UpdateInbox

log = logging.getLogger(__name__)

MAX_UPDATES_IN_FLIGHT = 1024
UNBOUNDED = 1_000_000  # PTB's semaphore: the real limit is taken after the chat lock (see above)
DRAIN_SECONDS = 5.0
RETRY_DELAYS = (2.0, 10.0, 30.0)  # seconds before handling again an update whose answer Telegram kept refusing


def chat_key(update: object) -> Hashable | None:
    """What orders an update: its chat (a pressed button counts for the chat of its message), else its user."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Serialise the updates of each chat; chats run concurrently. Locks exist only while a chat has updates in
    flight."""

    def __init__(
        self,
        max_concurrent_updates: int = MAX_UPDATES_IN_FLIGHT,
        inbox: UpdateInbox | None = None,
        turns: Turns | None = None,
        drain_seconds: float = DRAIN_SECONDS,
    ) -> None:
        super().__init__(UNBOUNDED)
        self.drain_seconds = drain_seconds
        self.slots = max(1, max_concurrent_updates)
        self._slots = asyncio.Semaphore(self.slots)
        self.inbox = inbox
        self.turns = turns
        self.draining = False
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._retry: set[int] = set()  # update ids whose handling hit a Bot API outage
        self.retry_delays: tuple[float, ...] = RETRY_DELAYS
        self.reprocess: Callable[[object], Awaitable[None]] | None = (
            None  # Application.process_update, set by the builder
        )
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: dict[Hashable, int] = {}

    def drain(self, grace: float | None = None) -> None:
        """Start no new update from now on; those being handled get `grace` seconds to finish, then are cancelled."""
        self.draining = True
        seconds = self.drain_seconds if grace is None else grace
        asyncio.get_running_loop().call_later(seconds, self._cancel_in_flight)

    def _cancel_in_flight(self) -> None:
        """The grace is over: updates still being handled are left for the next start."""
        if self._in_flight:
            log.warning("stopping: %d update(s) still in flight are left for the next start", len(self._in_flight))
        for task in list(self._in_flight):
            task.cancel()

    def retry_later(self, update_id: int) -> None:
        """Called by the error handler: Telegram kept failing while this update was handled, so handle it again."""
        self._retry.add(update_id)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await `coroutine` once every earlier update of the same chat is done."""
        key = chat_key(update)
        if key is None:
            async with self._slots:
                await self._handle(update, coroutine)
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock, self._slots:  # the slot only once the chat is free
                if self.turns is not None and isinstance(update, Update):
                    if not await self.turns.wait_turn(
                        key, update.update_id, self._handle_orphan, lambda: self.draining
                    ):
                        close = getattr(coroutine, "close", None)
                        if close is not None:
                            close()  # finished elsewhere, or left for another replica as this one stops
                        return
                await self._handle(update, coroutine)
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]

    async def _handle_orphan(self, orphan: Update) -> None:
        """Handle, in its chat's turn, an update taken over from a replica that died (see bot.store.redis)."""
        if self.reprocess is not None:
            await self._handle(orphan, self.reprocess(orphan))

    async def _handle(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the handlers unless draining; then cross the update off in the inbox."""
        if self.draining:
            close = getattr(coroutine, "close", None)
            if close is not None:
                close()  # never started: it stays pending in the inbox for the next run
            return
        update_id = update.update_id if isinstance(update, Update) else None
        delays = iter(self.retry_delays)
        while True:
            if not await self._run(coroutine):
                return  # cut off by the end of the grace: not crossed off, so it is replayed
            if update_id not in self._retry:
                break
            self._retry.discard(update_id)
            delay = next(delays, None)
            if delay is None or self.reprocess is None or self.draining:
                if not self.draining:
                    log.error(
                        "giving up update %s: Telegram kept failing through %d rounds of retries",
                        update_id,
                        len(self.retry_delays) + 1,
                    )
                    break
                return  # stopping: left for the next start
            log.warning("Telegram kept failing while handling update %s; handling it again in %.0f s", update_id, delay)
            await asyncio.sleep(delay)
            coroutine = self.reprocess(update)
        if self.inbox is not None and update_id is not None:
            self.inbox.done(update_id)

    async def _run(self, coroutine: Awaitable[Any]) -> bool:
        """Await PTB's process_update (handler errors go to the error handler); False when cut off by a stop."""
        task = asyncio.ensure_future(coroutine)
        self._in_flight.add(task)
        try:
            await task
        except asyncio.CancelledError:
            if self.draining and task.cancelled():
                return False
            raise
        finally:
            self._in_flight.discard(task)
        return True

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

"""The shared store on Redis: replicas behind one webhook share the inbox, per-chat order, conversations and votes.

Keys (one Redis, no cluster; every key of a bot under ``qa:<bot id>:``):

- ``u:<update id>``: a hash per update: digest, body (JSON), chat, owner (replica id), attempts, done.
  Crossed off, its body is blanked and it expires after a day (a late redelivery is still recognised).
- ``chat:<chat>``: a sorted set of the chat's unfinished update ids. An update is handled only when it
  is the first there, by its owner: that orders each chat across processes without a lock.
- ``pending``: every unfinished update id, for the sweep of orphans.
- ``conv:<chat>``: the conversation document (JSON, ``SET ... EX ttl``).
- ``replica:<id>`` (unscoped): a replica's heartbeat, refreshed every second by a thread, expiring after
  `HEARTBEAT_TTL_MS`. An unfinished update whose owner has no heartbeat is an orphan (its replica was
  killed): it is claimed atomically by another replica, which handles it, in its chat's order.
- ``votes:asker:<question id>``, ``votes:value``, ``votes:given``: feedback, with question ids from
  the counter ``question_id`` so that replicas never hand out the same id.

Every script runs atomically in Redis, so two replicas never both record, claim or finish one update.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from telegram import Bot, Update

from bot.config import Settings
from bot.conversation import Document
from bot.store import SharedState, StoreUnavailable
from bot.telegram.inbox import KEEP_DONE_SECONDS, MAX_ATTEMPTS, encode, parse_update

log = logging.getLogger(__name__)
T = TypeVar("T")

HEARTBEAT_TTL_MS = 5000
HEARTBEAT_EVERY = 1.0
WAIT_FIRST = 0.005  # seconds between looks at a chat's queue while another replica handles its earlier update
WAIT_MAX = 0.05
SWEEP_LIMIT = 200
RETENTION_SECONDS = 90 * 86400

ACCEPT = """
local known = redis.call('HGET', KEYS[1], 'digest')
if known == ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'digest', ARGV[2], 'body', ARGV[3], 'owner', ARGV[4], 'chat', ARGV[5],
           'attempts', 0, 'done', 0)
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1]) end
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[1])
return 1
"""
DONE = """
local chat = redis.call('HGET', KEYS[1], 'chat')
redis.call('HSET', KEYS[1], 'done', 1, 'body', '')
redis.call('EXPIRE', KEYS[1], ARGV[2])
if chat and chat ~= '' then redis.call('ZREM', ARGV[3] .. chat, ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""
CLAIM = """
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner ~= ARGV[1] or redis.call('HGET', KEYS[1], 'done') ~= '0' then return false end
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {redis.call('HGET', KEYS[1], 'body'), attempts}
"""


RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > burst then return math.ceil(tat - now - burst) end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', 60000)
return 0
"""


def text(value: object) -> str:
    """A reply of the client (decode_responses=True) as the string it is."""
    return value.decode() if isinstance(value, bytes) else str(value)


def chat_name(key: Hashable) -> str:
    """A chat key ("chat", 5) as it is kept in Redis: "chat.5"."""
    return ".".join(str(part) for part in key) if isinstance(key, tuple) else str(key)


def chat_of_update(update: Update) -> str:
    """The Redis name of the update's chat ('' when it has none)."""
    from bot.telegram.ordering import chat_key

    key = chat_key(update)
    return "" if key is None else chat_name(key)


def connect(url: str) -> redis.Redis:
    """A client for `url`, checked with PING; StoreUnavailable (one line) when Redis cannot be reached."""
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30, decode_responses=True
        )
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        parts = urlsplit(url)
        where = f"{parts.hostname}:{parts.port or 6379}"  # never the password
        raise StoreUnavailable(f"cannot reach Redis at {where}: {exc}") from None
    return client


class Heartbeat:
    """This replica's id, kept alive in Redis by a daemon thread while the process lives."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.replica = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.key = f"qa:replica:{self.replica}"
        self._stop = threading.Event()
        self.beat()
        self._thread = threading.Thread(target=self._run, name="redis-heartbeat", daemon=True)
        self._thread.start()

    def beat(self) -> None:
        """Say this replica is alive for the next HEARTBEAT_TTL_MS."""
        self.client.set(self.key, "1", px=HEARTBEAT_TTL_MS)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY):
            try:
                self.beat()
            except redis.RedisError as exc:
                log.warning("Redis heartbeat failed: %s", exc)

    def alive(self, replica: str) -> bool:
        """Is that replica's heartbeat still there?"""
        return replica == self.replica or bool(self.client.exists(f"qa:replica:{replica}"))

    def stop(self) -> None:
        """Stop beating and say so at once (this replica's unfinished updates become orphans for the others)."""
        self._stop.set()
        try:
            self.client.delete(self.key)
        except redis.RedisError:
            pass


class RedisInbox:
    """The update inbox and per-chat order, shared by every replica of one bot."""

    def __init__(self, client: redis.Redis, bot_id: int, heartbeat: Heartbeat) -> None:
        self.client = client
        self.prefix = f"qa:{bot_id}:"
        self.heartbeat = heartbeat
        self._accept = client.register_script(ACCEPT)
        self._done = client.register_script(DONE)
        self._claim = client.register_script(CLAIM)

    def _key(self, update_id: int) -> str:
        return f"{self.prefix}u:{update_id}"

    def accept(self, update: Update) -> bool:
        body, digest = encode(update)
        chat = chat_of_update(update)
        keys = [self._key(update.update_id), f"{self.prefix}chat:{chat}", f"{self.prefix}pending"]
        args: list[str | int] = [update.update_id, digest, body, self.heartbeat.replica, chat]
        try:
            return bool(self._accept(keys=keys, args=args))
        except redis.RedisError as exc:  # costs durability and cross-replica order, never the answer
            log.warning("update %s not recorded in Redis (%s): handling it anyway", update.update_id, exc)
            return True

    def done(self, update_id: int) -> None:
        keys = [self._key(update_id), f"{self.prefix}pending"]
        try:
            self._done(keys=keys, args=[update_id, KEEP_DONE_SECONDS, f"{self.prefix}chat:"])
        except redis.RedisError as exc:
            log.warning("update %s not crossed off in Redis (%s); it may be handled again", update_id, exc)

    def pending(self, bot: Bot) -> list[Update]:
        """Nothing: a restarted replica has a new id, and the sweep hands its old updates to whoever is alive."""
        return []

    def close(self) -> None:
        self.heartbeat.stop()

    def claim(self, update_id: int, owner: str, bot: Bot) -> Update | None:
        """Take over an unfinished update of a dead replica; None when someone else did, or it was given up."""
        try:
            taken = self._claim(keys=[self._key(update_id)], args=[owner, self.heartbeat.replica])
        except redis.RedisError as exc:
            log.warning("could not take over update %s: %s", update_id, exc)
            return None
        if not taken:
            return None
        body, attempts = text(taken[0]), int(taken[1])
        update = parse_update(body, bot) if body else None
        if update is None or attempts > MAX_ATTEMPTS:
            if update is not None:
                log.warning("giving up update %s: its replicas died %d times handling it", update_id, attempts - 1)
            self.done(update_id)
            return None
        log.info("taking over update %s from replica %s, which stopped", update_id, owner)
        return update

    def orphans(self, bot: Bot) -> list[Update]:
        """Claim the unfinished updates whose replica died, oldest first (the sweep; see RedisSweeper)."""
        ids = [int(text(i)) for i in self.client.zrange(f"{self.prefix}pending", 0, SWEEP_LIMIT - 1)]
        found: list[Update] = []
        alive: dict[str, bool] = {}
        for update_id in ids:
            owner, done = self.client.hmget(self._key(update_id), ["owner", "done"])
            if owner is None:  # expired or never fully recorded
                self.client.zrem(f"{self.prefix}pending", update_id)
                continue
            name = text(owner)
            if text(done) == "1" or alive.setdefault(name, self.heartbeat.alive(name)):
                continue
            update = self.claim(update_id, name, bot)
            if update is not None:
                found.append(update)
        return found

    async def wait_turn(
        self,
        key: Hashable,
        update_id: int,
        handle_orphan: Callable[[Update], Awaitable[None]],
        bot: Bot,
        stopping: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Wait until `update_id` is first in its chat; orphans before it are handled here, in order (`handle_orphan`).

        False when the update is no longer ours to handle (finished or claimed by another replica meanwhile),
        or when this replica is stopping (the update stays unfinished: another replica takes it over).
        """
        queue = f"{self.prefix}chat:{chat_name(key)}"
        delay = WAIT_FIRST
        while not stopping():
            owner, done = self.client.hmget(self._key(update_id), ["owner", "done"])
            if owner is None:
                return True  # not recorded (Redis failed when it arrived): handle it rather than lose it
            if text(done) == "1" or text(owner) != self.heartbeat.replica:
                return False
            head = self.client.zrange(queue, 0, 0)
            if not head or int(text(head[0])) >= update_id:
                return True
            first = int(text(head[0]))
            first_owner, first_done = self.client.hmget(self._key(first), ["owner", "done"])
            if first_owner is None or text(first_done) == "1":
                self.client.zrem(queue, first)  # a leftover: the update expired or was finished
                continue
            name = text(first_owner)
            if name == self.heartbeat.replica:  # ours, queued behind this one (e.g. claimed by the sweep)
                orphan = self._reread(first, bot)
            elif not self.heartbeat.alive(name):
                orphan = self.claim(first, name, bot)
            else:
                await asyncio.sleep(delay)  # another replica is answering the chat's earlier message
                delay = min(delay * 2, WAIT_MAX)
                continue
            if orphan is not None:
                await handle_orphan(orphan)
            delay = WAIT_FIRST
        return False

    def _reread(self, update_id: int, bot: Bot) -> Update | None:
        body = self.client.hget(self._key(update_id), "body")
        update = parse_update(text(body), bot) if body else None
        if update is None:
            self.done(update_id)
        return update


class RedisTurns:
    """`Turns` over a RedisInbox, bound to the Application's bot (orphans are parsed with it)."""

    def __init__(self, inbox: RedisInbox) -> None:
        self.inbox = inbox
        self.bot: Bot | None = None

    async def wait_turn(
        self,
        key: Hashable,
        update_id: int,
        handle_orphan: Callable[[Update], Awaitable[None]],
        stopping: Callable[[], bool] = lambda: False,
    ) -> bool:
        if self.bot is None:
            raise RuntimeError("RedisTurns.bot is set by build_application")
        try:
            return await self.inbox.wait_turn(key, update_id, handle_orphan, self.bot, stopping)
        except redis.RedisError as exc:  # order across replicas is lost while Redis is down, never the answer
            log.warning("Redis unavailable (%s): handling update %s without waiting for other replicas", exc, update_id)
            return True


class RedisRate:
    """Telegram's 30 messages per second for the whole bot, shared by its replicas (a GCRA schedule in Redis)."""

    def __init__(self, client: redis.Redis, bot_id: int, per_second: int = 30, burst: int = 30) -> None:
        self.client = client
        self.key = f"qa:{bot_id}:rate"
        self.interval_ms = 1000 / per_second
        self.burst_ms = self.interval_ms * max(0, burst - 1)
        self._reserve = client.register_script(RESERVE)

    def reserve(self) -> float:
        """0 when a message may go now (its slot is taken), else seconds to wait; Redis down: go (local limit only)."""
        try:
            wait_ms = int(self._reserve(keys=[self.key], args=[self.interval_ms, self.burst_ms]))
        except redis.RedisError as exc:
            log.warning("shared rate limit unavailable (%s); keeping this replica's own limit only", exc)
            return 0.0
        return wait_ms / 1000


class RedisConversationStore:
    """Conversation documents as JSON strings with an expiry (`ConversationStore`)."""

    def __init__(self, client: redis.Redis, bot_id: int, ttl: float) -> None:
        self.client = client
        self.prefix = f"qa:{bot_id}:conv:"
        self.ttl = ttl

    def get(self, key: str) -> Document | None:
        try:
            raw = self.client.get(self.prefix + key)
        except redis.RedisError as exc:
            raise OSError(f"Redis: {exc}") from None  # Conversations logs OSError and carries on
        if raw is None:
            return None
        try:
            document = json.loads(raw)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def put(self, key: str, document: Document) -> None:
        try:
            self.client.set(self.prefix + key, json.dumps(document, separators=(",", ":")), ex=max(1, int(self.ttl)))
        except redis.RedisError as exc:
            raise OSError(f"Redis: {exc}") from None

    def delete(self, key: str) -> None:
        try:
            self.client.delete(self.prefix + key)
        except redis.RedisError as exc:
            raise OSError(f"Redis: {exc}") from None


def as_os_error(method: Callable[..., T]) -> Callable[..., T]:
    """Raise a Redis failure as OSError, which the question log reports in one line like a disk failure."""

    @functools.wraps(method)
    def wrapped(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except redis.RedisError as exc:
            raise OSError(f"Redis: {exc}") from None

    return wrapped


class RedisVotes:
    """Question ids and 👍/👎 shared by replicas: a vote may reach another replica than the one that answered."""

    def __init__(self, client: redis.Redis, bot_id: int, retention_seconds: int = RETENTION_SECONDS) -> None:
        self.client = client
        self.prefix = f"qa:{bot_id}:votes:"
        self.retention = retention_seconds

    @as_os_error
    def shared_key(self, candidate: bytes) -> bytes:
        """The pseudonym secret every replica uses: the first replica's `candidate` wins."""
        self.client.set(self.prefix + "key", candidate.decode(), nx=True)
        key = self.client.get(self.prefix + "key")
        return text(key).encode() if key else candidate

    @as_os_error
    def new_question(self, asker: str) -> int:
        """A cluster-wide question id, remembered with the pseudonym of the chat that asked."""
        question_id = int(self.client.incr(self.prefix + "question_id"))
        self.client.set(f"{self.prefix}asker:{question_id}", asker, ex=self.retention)
        return question_id

    @as_os_error
    def record(self, question_id: int, asker: str, value: int) -> bool:
        """Store (or change) the asking chat's vote; False when the question is unknown or another chat's."""
        known = self.client.get(f"{self.prefix}asker:{question_id}")
        if known is None or text(known) != asker:
            return False
        member = f"{question_id}:{asker}"
        pipe = self.client.pipeline()
        pipe.hset(self.prefix + "value", member, value)
        pipe.zadd(self.prefix + "given", {member: time.time()})
        pipe.execute()
        return True

    @as_os_error
    def counts(self, since: float) -> tuple[int, int]:
        """(👍, 👎) given since `since` (a Unix time); votes older than the retention are dropped first."""
        self.client.zremrangebyscore(self.prefix + "given", 0, time.time() - self.retention)
        members = [text(m) for m in self.client.zrangebyscore(self.prefix + "given", since, "+inf")]
        if not members:
            return 0, 0
        values = [int(text(v)) for v in self.client.hmget(self.prefix + "value", members) if v is not None]
        return sum(v == 1 for v in values), sum(v == -1 for v in values)


def open_redis_state(settings: Settings, bot_id: int) -> SharedState:
    """Connect, start this replica's heartbeat, and build the Redis implementations."""
    client = connect(settings.redis_url)
    inbox = RedisInbox(client, bot_id, Heartbeat(client))
    return SharedState(
        inbox,
        RedisConversationStore(client, bot_id, settings.context_ttl_seconds),
        RedisTurns(inbox),
        RedisVotes(client, bot_id),
        RedisRate(client, bot_id),
    )

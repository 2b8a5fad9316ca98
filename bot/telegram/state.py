"""Short-lived per-chat state, bounded: answers that can still page with More, pending /remove confirmations.

Without bounds this grows with every chat that ever wrote (about 12 KiB a chat, 200 KiB for a busy one).
`ChatState` keeps at most `per_chat` values of each kind per chat (the oldest go first), forgets a chat
that has been idle longer than `ttl_seconds` (the conversation TTL, so a More button lives as long as the
follow-up context), and holds at most `max_chats` chats (the least recently used go first). A forgotten
value makes its button answer "no longer available". It lives in process memory; a restart forgets it.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

PER_CHAT = 5
MAX_CHATS = 10_000


@dataclass
class ChatEntry:
    """One chat's values by kind and token, oldest first, and when the chat last used them."""

    used: float
    kinds: dict[str, OrderedDict[str, object]] = field(default_factory=dict)


class ChatState:
    """Per-chat values under short random tokens (safe in callback_data), with a cap per chat and an idle expiry."""

    def __init__(
        self,
        ttl_seconds: float,
        per_chat: int = PER_CHAT,
        max_chats: int = MAX_CHATS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.per_chat = max(1, per_chat)
        self.max_chats = max(1, max_chats)
        self._clock = clock
        self._chats: OrderedDict[int, ChatEntry] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        """Chats that hold something."""
        return len(self._chats)

    def put(self, chat_id: int, kind: str, value: object) -> str:
        """Store `value` for the chat under a new token; the chat's oldest value of this kind beyond the cap goes."""
        now = self._clock()
        self._expire(now)
        entry = self._touch(chat_id, now, create=True)
        assert entry is not None
        values = entry.kinds.setdefault(kind, OrderedDict())
        token = secrets.token_urlsafe(6)
        values[token] = value
        while len(values) > self.per_chat:
            values.popitem(last=False)
        while len(self._chats) > self.max_chats:
            self._chats.popitem(last=False)
        return token

    def get(self, chat_id: int, kind: str, token: str) -> object | None:
        """The value, or None when it is unknown, capped out or expired."""
        now = self._clock()
        self._expire(now)
        entry = self._touch(chat_id, now, create=False)
        return entry.kinds.get(kind, {}).get(token) if entry is not None else None

    def drop(self, chat_id: int, kind: str, token: str) -> None:
        """Forget one value."""
        entry = self._chats.get(chat_id)
        if entry is not None:
            entry.kinds.get(kind, OrderedDict()).pop(token, None)

    def clear(self, chat_id: int) -> None:
        """Forget everything of one chat."""
        self._chats.pop(chat_id, None)

    def _touch(self, chat_id: int, now: float, create: bool) -> ChatEntry | None:
        entry = self._chats.get(chat_id)
        if entry is None:
            if not create:
                return None
            entry = self._chats[chat_id] = ChatEntry(now)
        entry.used = now
        self._chats.move_to_end(chat_id)
        return entry

    def _expire(self, now: float) -> None:
        """Drop chats idle for longer than the TTL (they are in least-recently-used order, so stop at the first live one)."""
        while self._chats:
            chat_id, entry = next(iter(self._chats.items()))
            if now - entry.used <= self.ttl:
                return
            del self._chats[chat_id]

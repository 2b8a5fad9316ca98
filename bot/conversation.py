"""Per-conversation memory of the last answered turn, so follow-ups can lean on it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Hashable

from bot.query import Concept

MAX_CONVERSATIONS = 10_000


@dataclass(frozen=True)
class Turn:
    concepts: tuple[Concept, ...]
    at: float


class Conversations:
    """Thread-safe store of each conversation's last answered turn; entries expire after `ttl` seconds."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._turns: dict[Hashable, Turn] = {}
        self._lock = threading.Lock()

    def previous(self, key: Hashable | None) -> tuple[Concept, ...]:
        """Concepts of the last answered turn, or () if there is none or it expired."""
        if key is None:
            return ()
        with self._lock:
            turn = self._turns.get(key)
            if turn is None:
                return ()
            if time.monotonic() - turn.at > self.ttl:
                del self._turns[key]
                return ()
            return turn.concepts

    def remember(self, key: Hashable | None, concepts: tuple[Concept, ...]) -> None:
        if key is None or not concepts:
            return
        with self._lock:
            if len(self._turns) >= MAX_CONVERSATIONS:
                self._expire_locked()
            self._turns[key] = Turn(concepts, time.monotonic())

    def reset(self, key: Hashable | None) -> None:
        with self._lock:
            self._turns.pop(key, None)

    def _expire_locked(self) -> None:
        now = time.monotonic()
        for key in [k for k, t in self._turns.items() if now - t.at > self.ttl]:
            del self._turns[key]
        while len(self._turns) >= MAX_CONVERSATIONS:
            del self._turns[next(iter(self._turns))]

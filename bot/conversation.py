"""Per-conversation state: the last answered turn (so follow-ups can lean on it) and short-lived values.

One store holds everything a conversation remembers, as one JSON document per conversation:

- ``context``: the concepts of the last answered turn (`Conversations.previous` / `remember`), with
  ``build``, the id of the index build they were read against: their synonym groups and families
  are that build's, so a new build reads no context from an old one (the next question starts fresh);
- ``turns``: for each of the last `MAX_TURNS` turns begun (Telegram updates), the context before it
  (`checkpoint`), so a turn handled again after a crash or a retry reads its question as the first
  time did, even when later turns of the chat had begun meanwhile;
- ``values``: short-lived values by kind under random tokens, such as the answer behind a More button
  or a pending /remove confirmation (`put_value` / `get_value`), at most `per_kind` of each kind.

**One expiry rule:** a conversation is forgotten whole `ttl` seconds after it last changed (a question
answered, a page shown, a value stored). `reset` forgets it at once.

Stores (`ConversationStore`) only keep JSON documents with that expiry, so they are easy to swap:
`MemoryStore` (the default: the CLI and REPL), `SQLiteStore` (the Telegram bot: survives a restart).
A Redis store for several replicas needs the same three methods: ``GET``, ``SET key doc EX ttl``, ``DEL``.
Nothing is pickled: a user's messages shape this state.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Protocol

from bot.query import Alternative, Concept

log = logging.getLogger(__name__)

MAX_CONVERSATIONS = 10_000
PER_KIND = 5
MAX_TURNS = 8  # turn checkpoints kept per conversation (a replay comes back to one of the last few)
PURGE_EVERY_SECONDS = 60.0  # expired rows in SQLite are deleted at most this long after a write finds them

Document = dict[str, Any]


class ConversationStore(Protocol):
    """JSON documents by conversation key; a document expires `ttl` seconds after its last `put`."""

    ttl: float

    def get(self, key: str) -> Document | None:
        """The live document, or None (unknown or expired)."""

    def put(self, key: str, document: Document) -> None:
        """Store the document and restart its expiry clock."""

    def delete(self, key: str) -> None:
        """Forget the conversation."""


class MemoryStore:
    """In-process store: at most `max_conversations` (least recently changed go first). A restart forgets it."""

    def __init__(
        self, ttl: float, max_conversations: int = MAX_CONVERSATIONS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_conversations = max(1, max_conversations)
        self._clock = clock
        self._docs: OrderedDict[str, tuple[float, str]] = OrderedDict()  # least recently changed first

    def __len__(self) -> int:
        self._expire(self._clock())
        return len(self._docs)

    def get(self, key: str) -> Document | None:
        now = self._clock()
        self._expire(now)
        found = self._docs.get(key)
        return json.loads(found[1]) if found is not None else None

    def put(self, key: str, document: Document) -> None:
        now = self._clock()
        self._expire(now)
        self._docs[key] = (now, json.dumps(document))
        self._docs.move_to_end(key)
        while len(self._docs) > self.max_conversations:
            self._docs.popitem(last=False)

    def delete(self, key: str) -> None:
        self._docs.pop(key, None)

    def _expire(self, now: float) -> None:
        while self._docs:
            key, (changed, _) = next(iter(self._docs.items()))
            if now - changed <= self.ttl:
                return
            del self._docs[key]


class SQLiteStore:
    """Conversations in a SQLite table (JSON text), so they survive a restart. Expired rows are deleted as it goes."""

    def __init__(self, path: Path, ttl: float, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._purged = 0.0
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS conversations "
            "(key TEXT PRIMARY KEY, document TEXT NOT NULL, changed REAL NOT NULL)"
        )
        with self._lock:
            self._purge_locked()

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM conversations WHERE changed >= ?", (self._clock() - self.ttl,)
            ).fetchone()
        return int(row[0])

    def get(self, key: str) -> Document | None:
        with self._lock:
            row = self._db.execute(
                "SELECT document FROM conversations WHERE key = ? AND changed >= ?", (key, self._clock() - self.ttl)
            ).fetchone()
        if row is None:
            return None
        try:
            document = json.loads(row[0])
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def put(self, key: str, document: Document) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO conversations (key, document, changed) VALUES (?, ?, ?)",
                (key, json.dumps(document, separators=(",", ":")), self._clock()),
            )
            if self._clock() - self._purged >= PURGE_EVERY_SECONDS:
                self._purge_locked()

    def delete(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM conversations WHERE key = ?", (key,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _purge_locked(self) -> None:
        self._purged = self._clock()
        self._db.execute("DELETE FROM conversations WHERE changed < ?", (self._purged - self.ttl,))


class Conversations:
    """Thread-safe per-conversation state over a `ConversationStore`; store errors are logged, never raised."""

    def __init__(self, ttl_seconds: float, store: ConversationStore | None = None, per_kind: int = PER_KIND) -> None:
        self.ttl = ttl_seconds
        self.store: ConversationStore = store if store is not None else MemoryStore(ttl_seconds)
        self.per_kind = max(1, per_kind)
        self._lock = threading.Lock()

    def use(self, store: ConversationStore) -> None:
        """Keep state in `store` from now on (e.g. a persistent one, when the Telegram bot starts)."""
        with self._lock:
            self.store = store
            self.ttl = store.ttl

    # ----- the last answered turn ---------------------------------------------------------------
    def previous(self, key: Hashable | None, build: str | None = None) -> tuple[Concept, ...]:
        """Concepts of the last answered turn, or () if there is none, it expired, or it was read by another build."""
        if key is None:
            return ()
        with self._lock:
            document = self._load(key)
        if build is not None and document.get("build", build) != build:
            return ()
        try:
            return tuple(concept_from_json(c) for c in document.get("context", ()))
        except (TypeError, KeyError, ValueError):
            return ()

    def remember(self, key: Hashable | None, concepts: tuple[Concept, ...], build: str | None = None) -> None:
        """Keep this turn's concepts (read against index build `build`) as the context of the next one."""
        if key is None or not concepts:
            return
        with self._lock:
            document = self._load(key)
            document["context"] = [concept_to_json(c) for c in concepts]
            if build is None:
                document.pop("build", None)
            else:
                document["build"] = build
            self._save(key, document)

    def checkpoint(self, key: Hashable | None, turn: int | str) -> None:
        """Mark the start of a turn that may be handled again (a Telegram update replayed or retried).

        The first time `turn` is seen, the current context is saved under it. Seen again, the context
        is put back as it was before that turn, so the question is read exactly as the first time, not
        as a follow-up of itself nor of a later turn that had begun meanwhile.
        """
        if key is None:
            return
        turn = str(turn)
        with self._lock:
            document = self._load(key)
            turns = document.get("turns")
            if not isinstance(turns, dict):
                turns = {}
            mark = turns.get(turn)
            if isinstance(mark, dict):
                document["context"] = mark.get("context", [])
                if "build" in mark:
                    document["build"] = mark["build"]
                else:
                    document.pop("build", None)
            else:
                mark = {"context": document.get("context", [])}
                if "build" in document:
                    mark["build"] = document["build"]
                turns[turn] = mark
                for old in list(turns)[: max(0, len(turns) - MAX_TURNS)]:  # dicts keep insertion order
                    del turns[old]
            document["turns"] = turns
            document.pop("turn", None)  # the one-mark form of earlier versions
            self._save(key, document)

    def reset(self, key: Hashable | None) -> None:
        """Forget the conversation: its context and every value stored for it."""
        if key is None:
            return
        with self._lock:
            try:
                self.store.delete(store_key(key))
            except (sqlite3.Error, OSError) as exc:
                log.warning("conversation state not deleted: %s", exc)

    # ----- short-lived values under tokens ------------------------------------------------------
    def put_value(self, key: Hashable, kind: str, value: Any) -> str:
        """Store a JSON value under a new short token (safe in callback_data); the oldest of its kind beyond
        `per_kind` goes."""
        token = secrets.token_urlsafe(6)
        with self._lock:
            document = self._load(key)
            values = document.setdefault("values", {}).setdefault(kind, {})
            values[token] = value
            for old in list(values)[: max(0, len(values) - self.per_kind)]:  # dicts keep insertion order
                del values[old]
            self._save(key, document)
        return token

    def get_value(self, key: Hashable, kind: str, token: str) -> Any | None:
        """The value stored under `token`, or None (unknown, capped out, expired, or reset)."""
        with self._lock:
            values = self._load(key).get("values", {}).get(kind, {})
        return values.get(token) if isinstance(values, dict) else None

    def set_value(self, key: Hashable, kind: str, token: str, value: Any) -> None:
        """Replace the value under an existing token (nothing happens when it is gone)."""
        with self._lock:
            document = self._load(key)
            values = document.get("values", {}).get(kind, {})
            if token in values:
                values[token] = value
                self._save(key, document)

    def drop_value(self, key: Hashable, kind: str, token: str) -> None:
        """Forget one value."""
        with self._lock:
            document = self._load(key)
            values = document.get("values", {}).get(kind, {})
            if values.pop(token, None) is not None:
                self._save(key, document)

    # ----- storage ------------------------------------------------------------------------------
    def _load(self, key: Hashable) -> Document:
        try:
            return self.store.get(store_key(key)) or {}
        except (sqlite3.Error, OSError) as exc:  # a broken store costs the memory of the conversation, not the answer
            log.warning("conversation state not read: %s", exc)
            return {}

    def _save(self, key: Hashable, document: Document) -> None:
        try:
            self.store.put(store_key(key), document)
        except (sqlite3.Error, OSError) as exc:
            log.warning("conversation state not saved: %s", exc)


def store_key(key: Hashable) -> str:
    """The store's key for a conversation key (a Telegram chat id becomes its decimal string)."""
    return key if isinstance(key, str) else repr(key)


def concept_to_json(concept: Concept) -> dict[str, Any]:
    """A concept as plain JSON."""
    return {
        "label": concept.label,
        "weight": concept.weight,
        "carried": concept.carried,
        "alternatives": [
            {
                "stems": list(a.stems),
                "weight": a.weight,
                "covers": list(a.covers),
                "per_stem": a.per_stem,
                "related": a.related,
            }
            for a in concept.alternatives
        ],
    }


def concept_from_json(data: dict[str, Any]) -> Concept:
    """The concept `concept_to_json` wrote."""
    alternatives = tuple(
        Alternative(
            tuple(str(s) for s in a["stems"]),
            float(a["weight"]),
            tuple(str(c) for c in a.get("covers", ())),
            float(a.get("per_stem", 1.0)),
            bool(a.get("related", False)),
        )
        for a in data["alternatives"]
    )
    return Concept(str(data["label"]), alternatives, float(data.get("weight", 1.0)), bool(data.get("carried", False)))

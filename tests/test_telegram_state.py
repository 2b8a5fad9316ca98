"""Bounded per-chat state for More pages and confirmations: a cap per chat, idle expiry, a cap on chats."""

from __future__ import annotations

from bot.telegram.state import ChatState


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_chat_keeps_only_its_last_values_per_kind() -> None:
    state = ChatState(ttl_seconds=900, per_chat=3, clock=Clock())
    tokens = [state.put(1, "pages", n) for n in range(5)]
    assert [state.get(1, "pages", t) for t in tokens] == [None, None, 2, 3, 4]
    other = state.put(1, "removals", "x")  # kinds are capped separately
    assert state.get(1, "removals", other) == "x" and state.get(1, "pages", tokens[-1]) == 4
    assert state.get(2, "pages", tokens[-1]) is None  # another chat cannot read this chat's tokens


def test_chats_idle_beyond_the_ttl_are_dropped() -> None:
    clock = Clock()
    state = ChatState(ttl_seconds=60, clock=clock)
    old = state.put(1, "pages", "old")
    clock.now = 50
    busy = state.put(2, "pages", "busy")
    clock.now = 100  # chat 1 idle for 100 s, chat 2 for 50 s
    state.put(3, "pages", "new")
    assert len(state) == 2 and state.get(1, "pages", old) is None
    assert state.get(2, "pages", busy) == "busy"  # reading keeps a chat alive
    clock.now = 150
    assert state.get(2, "pages", busy) == "busy"
    clock.now = 220
    assert state.get(2, "pages", busy) is None and len(state) == 0


def test_the_number_of_chats_is_capped_least_recently_used_first() -> None:
    state = ChatState(ttl_seconds=900, max_chats=100, clock=Clock())
    first = state.put(0, "pages", 0)
    for chat in range(1, 1000):
        state.put(chat, "pages", chat)
        if chat == 50:
            assert state.get(0, "pages", first) == 0
    assert len(state) == 100 and state.get(0, "pages", first) is None


def test_clear_and_drop() -> None:
    state = ChatState(ttl_seconds=900, clock=Clock())
    a, b = state.put(1, "pages", "a"), state.put(1, "pages", "b")
    state.drop(1, "pages", a)
    assert state.get(1, "pages", a) is None and state.get(1, "pages", b) == "b"
    state.clear(1)
    assert state.get(1, "pages", b) is None and len(state) == 0

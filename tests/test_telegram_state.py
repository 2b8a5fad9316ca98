"""One store for per-conversation state: context, More pages and confirmations, with one expiry rule, in memory or
SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.answers import Answer, Result
from bot.conversation import Conversations, ConversationStore, MemoryStore, SQLiteStore
from bot.query import Alternative, Concept
from bot.telegram.state import ChatState, Pages


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


StoreFactory = Callable[[Path, float, Clock], ConversationStore]
STORES: dict[str, StoreFactory] = {
    "memory": lambda path, ttl, clock: MemoryStore(ttl, clock=clock),
    "sqlite": lambda path, ttl, clock: SQLiteStore(path / "state.sqlite3", ttl, clock=clock),
}
K2 = Concept("k2", (Alternative(("k2",), 1.0), Alternative(("menaquinon",), 0.5, ("menaquinone",))), 1.0, False)


@pytest.fixture(params=sorted(STORES))
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[float, Clock], ConversationStore]:
    factory = STORES[request.param]
    return lambda ttl, clock: factory(tmp_path, ttl, clock)


def sample_answer() -> Answer:
    results = tuple(
        Result(
            "Vitamins <&>",
            "v.txt",
            f"Section {n}",
            "Sub",
            f"passage {n} about k2",
            1.5 + n,
            "about k2",
            frozenset({"k2"}),
        )
        for n in range(5)
    )
    return Answer("and k2?", "k2 foods", results, corrections={"vitamn": "vitamin"}, follow_up=True)


def test_context_round_trips_through_json(make_store: Callable[[float, Clock], ConversationStore]) -> None:
    conversations = Conversations(900, make_store(900, Clock()))
    conversations.remember(7, (K2,))
    assert conversations.previous(7) == (K2,)
    assert conversations.previous(8) == () and conversations.previous(None) == ()


def test_one_expiry_rule_for_context_and_values(make_store: Callable[[float, Clock], ConversationStore]) -> None:
    clock = Clock()
    conversations = Conversations(60, make_store(60, clock))
    conversations.remember(1, (K2,))
    token = conversations.put_value(1, "pages", {"n": 1})
    clock.now += 50
    assert conversations.previous(1) == (K2,) and conversations.get_value(1, "pages", token) == {"n": 1}
    conversations.set_value(1, "pages", token, {"n": 2})  # a change restarts the clock for all of it
    clock.now += 50
    assert conversations.previous(1) == (K2,) and conversations.get_value(1, "pages", token) == {"n": 2}
    clock.now += 61
    assert conversations.previous(1) == () and conversations.get_value(1, "pages", token) is None


def test_each_conversation_keeps_only_its_last_values_per_kind(
    make_store: Callable[[float, Clock], ConversationStore],
) -> None:
    conversations = Conversations(900, make_store(900, Clock()), per_kind=3)
    tokens = [conversations.put_value(1, "pages", n) for n in range(5)]
    assert [conversations.get_value(1, "pages", t) for t in tokens] == [None, None, 2, 3, 4]
    other = conversations.put_value(1, "removals", "x")  # kinds are capped separately
    assert conversations.get_value(1, "removals", other) == "x" and conversations.get_value(1, "pages", tokens[-1]) == 4
    assert conversations.get_value(2, "pages", tokens[-1]) is None  # another chat cannot read this chat's tokens


def test_reset_forgets_context_and_values(make_store: Callable[[float, Clock], ConversationStore]) -> None:
    conversations = Conversations(900, make_store(900, Clock()))
    conversations.remember(1, (K2,))
    a, b = conversations.put_value(1, "pages", "a"), conversations.put_value(1, "pages", "b")
    conversations.drop_value(1, "pages", a)
    assert conversations.get_value(1, "pages", a) is None and conversations.get_value(1, "pages", b) == "b"
    conversations.reset(1)
    assert conversations.previous(1) == () and conversations.get_value(1, "pages", b) is None


def test_memory_store_caps_the_number_of_conversations() -> None:
    clock = Clock()
    store = MemoryStore(900, max_conversations=100, clock=clock)
    conversations = Conversations(900, store)
    conversations.remember(0, (K2,))
    for chat in range(1, 1000):
        conversations.put_value(chat, "pages", chat)
    assert len(store) == 100 and conversations.previous(0) == ()


def test_sqlite_state_survives_reopening_and_is_plain_json(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "state.sqlite3"
    chats = ChatState(Conversations(900, SQLiteStore(path, 900, clock=clock)))
    pages = Pages(sample_answer(), 3, 42)
    token = chats.keep_pages(5, pages)
    chats.conversations.remember(5, (K2,))
    reopened = ChatState(Conversations(900, SQLiteStore(path, 900, clock=clock)))
    assert reopened.pages(5, token) == pages  # highlights, corrections and follow-up included
    assert reopened.conversations.previous(5) == (K2,)
    with sqlite3.connect(path) as db:
        (document,) = db.execute("SELECT document FROM conversations").fetchone()
    assert json.loads(document)["values"]["pages"][token]["question_id"] == 42  # JSON, never a pickle


def test_a_broken_store_costs_memory_not_answers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite3", 900)
    store.close()  # every later call fails
    conversations = Conversations(900, store)
    conversations.remember(1, (K2,))
    assert conversations.previous(1) == ()
    assert "conversation state not" in caplog.text


def test_removal_confirmations_are_used_once() -> None:
    chats = ChatState(Conversations(900))
    token = chats.keep_removal(1, "old.txt")
    assert chats.take_removal(2, token) is None  # not from another chat
    assert chats.take_removal(1, token) == "old.txt" and chats.take_removal(1, token) is None


def test_a_replayed_turn_sees_the_context_from_before_it(
    make_store: Callable[[float, Clock], ConversationStore],
) -> None:
    conversations = Conversations(900, make_store(900, Clock()))
    d3 = Concept("d3", (Alternative(("d3",), 1.0),))
    conversations.remember(1, (K2,))
    conversations.checkpoint(1, 17)
    conversations.remember(1, (d3,))  # turn 17 answered, then the process died before it was crossed off
    conversations.checkpoint(1, 17)  # replayed
    assert conversations.previous(1) == (K2,)
    conversations.remember(1, (d3,))
    conversations.checkpoint(1, 18)  # the next turn starts from turn 17's context
    assert conversations.previous(1) == (d3,)

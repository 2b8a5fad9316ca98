"""Conversation context expires: a follow-up after BOT_CONTEXT_TTL_SECONDS starts afresh."""

from __future__ import annotations

import time
from dataclasses import replace

from bot.config import Settings
from bot.conversation import Conversations
from bot.engine import Engine
from bot.query import Alternative, Concept

K2 = (Concept("k2", (Alternative(("k2",), 1.0),)),)
TTL = 0.2


def test_context_is_forgotten_after_the_ttl() -> None:
    conversations = Conversations(TTL)
    conversations.remember("chat", K2)
    assert conversations.previous("chat") == K2  # still fresh
    time.sleep(TTL * 2)
    assert conversations.previous("chat") == ()


def test_context_is_kept_within_the_ttl() -> None:
    conversations = Conversations(3600)
    conversations.remember("chat", K2)
    time.sleep(TTL)
    assert conversations.previous("chat") == K2
    assert conversations.previous("other chat") == ()


def test_an_expired_follow_up_is_answered_on_its_own_words(built_seed: Settings) -> None:
    settings = replace(built_seed, context_ttl_seconds=TTL)
    engine = Engine(settings)
    engine.open()
    engine.answer("what foods have K2?", conversation="chat")
    assert engine.answer("and d3?", conversation="chat").follow_up
    engine.answer("what foods have K2?", conversation="chat")
    time.sleep(TTL * 2)
    assert not engine.answer("and d3?", conversation="chat").follow_up

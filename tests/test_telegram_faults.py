"""The faults of issue 23, each reproduced against the real Application over HTTP and the strict fake Bot API.

1. a flooding chat must not hold the slots other chats need;
2. a replayed turn reads the conversation as it was before its first try, even after later turns;
3. "typing…" must not take the connections answers need;
5. a restart on a stale index answers from the last good build at once and rebuilds in the background;
6. the inbox remembers whose updates it holds, and Telegram restarting its ids loses nothing.
(4, a slow SIGTERM during an upload, is in test_telegram_restart.py: it needs a real process.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.builder import build_index
from bot.config import Settings
from bot.conversation import Conversations
from bot.engine import Engine
from bot.live_index import LiveIndex
from bot.questionlog import QuestionLog
from bot.telegram import build_application
from bot.telegram.app import BotApplication

try:
    from tests.botapi import FakeBotApi
    from tests.botapi.fixtures import running_application
    from tests.test_telegram_e2e import GatedEngine, is_page_end, make_settings, new_messages, say, texts_of
except ImportError:  # tests/ is not importable as a package: pytest put tests/ on sys.path
    from botapi import FakeBotApi  # type: ignore[no-redef]
    from botapi.fixtures import running_application  # type: ignore[no-redef]
    from test_telegram_e2e import GatedEngine, is_page_end, make_settings, new_messages, say, texts_of  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent


def is_reply(text: str) -> bool:
    """The end of a reply to a question: an answer page footer, or the no-answer message (the ranking decides)."""
    return is_page_end(text) or "couldn't find anything" in text or text.startswith("🤔")


FLOOD = 5005
OTHER = 6006


@contextlib.asynccontextmanager
async def bot_app(
    settings: Settings, server: FakeBotApi, engine: Engine, tmp_path: Path, **build: Any
) -> AsyncIterator[BotApplication]:
    """The production Application, running against `server`, post_init run as run_polling does."""
    app = build_application(
        settings,
        engine,
        QuestionLog(tmp_path / "q.sqlite3"),
        base_url=server.base_url,
        base_file_url=server.base_file_url,
        httpx_kwargs={"trust_env": False},
        **build,
    )
    async with running_application(app):
        assert app.post_init is not None
        await app.post_init(app)
        yield app
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_flooding_chat_does_not_hold_the_slots_other_chats_need(tmp_path: Path) -> None:
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token, semantic=False)
        engine = GatedEngine(settings)
        async with bot_app(settings, server, engine, tmp_path, max_updates_in_flight=4):
            for _ in range(12):  # more waiting messages than there are slots; the first one's search is stuck
                server.push_message("what foods have K2?", user_id=FLOOD, chat_id=FLOOD)
            await server.wait_for(lambda s: engine.entered.is_set() and s.pending_update_count == 0)
            await say(server, "which foods contain vitamin d3?", is_reply, chat_id=OTHER, user_id=OTHER)
            assert not server.sent_messages(FLOOD)
            engine.gate.set()
            await server.wait_for(
                lambda s: sum(is_reply(t) for t in texts_of(s.sent_messages(FLOOD))) == 12, timeout=30
            )


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_typing_never_takes_the_connections_answers_need(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token, semantic=False)
        server.hold("sendChatAction")  # Telegram never answers the typing calls: each keeps its connection
        async with bot_app(settings, server, Engine(settings), tmp_path, connection_pool_size=4):
            chats = range(7001, 7009)
            for chat in chats:
                server.push_message("what foods have K2?", user_id=chat, chat_id=chat)
            for chat in chats:
                await new_messages(server, chat, 0, is_reply)
            server.release_held(process=False)
    starved = [r.getMessage() for r in caplog.records if "sendMessage failed" in r.getMessage()]
    assert not starved, starved  # no answer waited for a connection held by "typing…"


def stale_corpus(tmp_path: Path, server: FakeBotApi) -> Settings:
    """Settings whose index was built, after which an article was added (as a kill during /reindex leaves it)."""
    settings = make_settings(tmp_path, server.token, semantic=False, reload_seconds=0)
    build_index(settings)
    shutil.copy(REPO / "tests" / "fixtures" / "topics" / "magnesium-guide.md", settings.corpus_dir)
    return settings


class GatedLiveIndex(LiveIndex):
    """The real live index, except that rebuilding waits until `gate` is set."""

    gate = threading.Event()

    def rebuild_if_needed(self) -> Any:
        """Wait for the gate (a long build), then build as usual."""
        if not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        return super().rebuild_if_needed()


class SlowBuildEngine(Engine):
    """The real engine over a live index whose rebuilds wait for the test."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.live = GatedLiveIndex(settings)


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_restart_on_a_stale_index_answers_at_once_and_rebuilds_in_the_background(tmp_path: Path) -> None:
    with FakeBotApi() as server:
        settings = stale_corpus(tmp_path, server)
        GatedLiveIndex.gate = threading.Event()
        engine = SlowBuildEngine(settings)
        running = bot_app(settings, server, engine, tmp_path)
        try:
            await asyncio.wait_for(running.__aenter__(), 10)
        except asyncio.TimeoutError:
            GatedLiveIndex.gate.set()
            raise AssertionError("the start waited for the rebuild before answering") from None
        try:
            await say(server, "what foods have K2?", is_reply)  # answered from the last good build, during the build
            assert "magnesium-guide.md" not in str(engine.snapshot().index.manifest)
            GatedLiveIndex.gate.set()
            await server.wait_for(lambda s: "magnesium-guide.md" in str(engine.snapshot().index.manifest), timeout=30)
            await say(server, "how much magnesium should I take?", is_reply)  # the new build serves
        finally:
            GatedLiveIndex.gate.set()
            await running.__aexit__(None, None, None)


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_telegram_restarting_its_update_ids_loses_nothing(tmp_path: Path) -> None:
    async with contextlib.AsyncExitStack() as stack:
        first = stack.enter_context(FakeBotApi())
        settings = make_settings(tmp_path, first.token, semantic=False)
        engine = Engine(settings)
        async with bot_app(settings, first, engine, tmp_path):
            await say(first, "what foods have K2?", is_reply)
            await say(first, "how much vitamin D3 per day?", is_reply)
        second = stack.enter_context(FakeBotApi())  # same bot, its update ids start again from 1
        async with bot_app(settings, second, engine, tmp_path):
            await say(second, "which cheese has k2?", is_reply)  # update 1 again, another message: answered


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_second_bot_on_the_same_data_folder_gets_its_updates(tmp_path: Path) -> None:
    with FakeBotApi() as first, FakeBotApi(token="654321:OTHER-TOKEN", bot_username="other_bot") as second:
        settings = make_settings(tmp_path, first.token, semantic=False)
        async with bot_app(settings, first, Engine(settings), tmp_path):
            await say(first, "what foods have K2?", is_reply)
        (tmp_path / "other").mkdir()
        other = make_settings(tmp_path / "other", second.token, semantic=False, data_dir=settings.data_dir)
        async with bot_app(other, second, Engine(other), tmp_path):
            await say(second, "what foods have K2?", is_reply)  # its update 1 is not the first bot's update 1


def test_a_replayed_turn_reads_the_context_before_its_first_try_even_after_later_turns() -> None:
    conversations = Conversations(900)
    conversations.remember(1, concepts("k2"))
    conversations.checkpoint(1, "u2")  # turn 2 starts from k2...
    conversations.remember(1, concepts("d3"))
    conversations.checkpoint(1, "u3")  # ...turn 3 starts (its update was crossed off late, or never)...
    conversations.remember(1, concepts("magnesium"))
    conversations.checkpoint(1, "u2")  # ...and turn 2 is handled again
    assert [c.label for c in conversations.previous(1)] == ["k2"]


def test_context_from_another_build_is_not_read() -> None:
    conversations = Conversations(900)
    conversations.remember(1, concepts("k2"), build="build-1")
    assert [c.label for c in conversations.previous(1, build="build-1")] == ["k2"]
    assert conversations.previous(1, build="build-2") == ()


def concepts(label: str) -> tuple[Any, ...]:
    """One plain concept."""
    from bot.query import Alternative, Concept

    return (Concept(label, (Alternative((label,), 1.0),)),)

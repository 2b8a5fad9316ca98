"""The shared store on a real redis-server: the inbox, per-chat order across replicas, conversations, votes.

The replicas are two production Applications in this process, each with its own engine, sharing one
Redis and one fake Bot API; updates reach them round-robin through their update queues, exactly where
PTB's webhook server puts them. (bench/telegram_load.py --replicas 2 does the same with two processes.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from telegram import Bot, Update

from bot.builder import build_index
from bot.config import Settings
from bot.conversation import Conversations
from bot.engine import Engine
from bot.questionlog import QuestionLog
from bot.store import StoreUnavailable
from bot.store.redis import Heartbeat, RedisConversationStore, RedisInbox, RedisRate, RedisVotes, connect
from bot.telegram import build_application
from bot.telegram.app import BotApplication
from bot.telegram.ordering import PerChatUpdateProcessor

try:
    from tests.botapi import FakeBotApi
    from tests.botapi.redis_server import RedisServer, free_port, redis_server, redis_url  # noqa: F401  (fixtures)
    from tests.test_telegram_e2e import GatedEngine, buttons, is_page_end, make_settings, new_messages, texts_of
except ImportError:  # tests/ is not importable as a package: pytest put tests/ on sys.path
    from botapi import FakeBotApi  # type: ignore[no-redef]
    from botapi.redis_server import RedisServer, free_port, redis_server, redis_url  # type: ignore[no-redef]  # noqa: F401
    from test_telegram_e2e import (  # type: ignore[no-redef]
        GatedEngine,
        buttons,
        is_page_end,
        make_settings,
        new_messages,
        texts_of,
    )

BOT = Bot("123456:TEST-TOKEN")
CHAT = 8008


def update(update_id: int, text: str = "what foods have K2?", chat: int = 5, message_id: int | None = None) -> Update:
    data = {
        "update_id": update_id,
        "message": {
            "message_id": message_id or update_id,
            "date": 0,
            "chat": {"id": chat, "type": "private"},
            "text": text,
        },
    }
    parsed = Update.de_json(data, BOT)
    assert parsed is not None
    return parsed


# ----- the store alone ------------------------------------------------------------------------
def test_the_inbox_skips_redeliveries_but_not_reused_ids_nor_other_bots(redis_url: str) -> None:
    client = connect(redis_url)
    inbox = RedisInbox(client, 123456, Heartbeat(client))
    assert inbox.accept(update(1)) and not inbox.accept(update(1))  # a redelivery
    inbox.done(1)
    assert not inbox.accept(update(1))  # still recognised once handled
    assert inbox.accept(update(1, "and d3?", message_id=99))  # Telegram restarted its ids: a new update
    other = RedisInbox(client, 654321, Heartbeat(client))
    assert other.accept(update(1))  # another bot's update 1
    inbox.close()
    other.close()


def test_a_dead_replicas_unfinished_updates_are_taken_over_once(redis_url: str) -> None:
    client = connect(redis_url)
    dead, alive, third = (RedisInbox(client, 1, Heartbeat(client)) for _ in range(3))
    assert dead.accept(update(7)) and dead.accept(update(8, "and d3?"))
    assert alive.orphans(BOT) == []  # its replica is alive
    dead.close()  # its heartbeat stops, as when the process is killed (then the key expires)
    taken = alive.orphans(BOT)
    assert [u.update_id for u in taken] == [7, 8]
    assert third.orphans(BOT) == []  # claimed once
    alive.close()
    third.close()


def test_conversations_and_votes_are_shared(redis_url: str, tmp_path: Path) -> None:
    client = connect(redis_url)
    store = RedisConversationStore(client, 1, 900)
    one, two = Conversations(900, store), Conversations(900, RedisConversationStore(connect(redis_url), 1, 900))
    token = one.put_value(5, "pages", {"shown": 3})
    assert two.get_value(5, "pages", token) == {"shown": 3}
    two.reset(5)
    assert one.get_value(5, "pages", token) is None

    first, second = QuestionLog(tmp_path / "a" / "q.sqlite3"), QuestionLog(tmp_path / "b" / "q.sqlite3")
    first.share(RedisVotes(client, 1))
    second.share(RedisVotes(connect(redis_url), 1))
    asked = first.record_question(5, "what foods have k2?", True, "K2")
    assert second.record_question(6, "and d3?", True, "D3") != asked  # ids are unique across replicas
    assert second.record_feedback(asked, 5, 1)  # the vote reached the other replica
    assert not second.record_feedback(asked, 6, -1)  # another chat's answer
    assert first.stats(None).thumbs_up == second.stats(None).thumbs_up == 1


def test_an_unreachable_redis_is_one_clear_error() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        connect(f"redis://127.0.0.1:{free_port()}/0")
    assert "cannot reach Redis at 127.0.0.1" in str(caught.value)


# ----- two replicas ------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def replica(
    settings: Settings, server: FakeBotApi, engine: Engine, folder: Path
) -> AsyncIterator[BotApplication]:
    """A production Application fed through its update queue (as in webhook mode), with its own question log."""
    app = build_application(
        settings,
        engine,
        QuestionLog(folder / "q.sqlite3"),
        base_url=server.base_url,
        base_file_url=server.base_file_url,
        httpx_kwargs={"trust_env": False},
    )
    await app.initialize()
    await app.start()
    assert app.post_init is not None and app.post_shutdown is not None
    await app.post_init(app)
    try:
        yield app
    finally:
        await app.stop()
        await app.post_shutdown(app)
        await app.shutdown()


async def deliver(app: BotApplication, server: FakeBotApi, text: str, chat: int = CHAT) -> None:
    """The user writes `text`; the load balancer hands the update to `app`."""
    body = server.push_message(text, user_id=chat, chat_id=chat)
    parsed = Update.de_json(body, app.bot)
    assert parsed is not None
    await app.update_queue.put(parsed)


def replica_settings(tmp_path: Path, server: FakeBotApi, url: str) -> tuple[Settings, Settings]:
    """Two replicas' settings: one corpus and index, their own data folders, one Redis."""
    base = make_settings(tmp_path, server.token, redis_url=url)  # the ranking answers these questions with the model on
    build_index(base)  # once, before the replicas start (each would otherwise build it at start)
    return replace(base, data_dir=tmp_path / "a"), replace(base, data_dir=tmp_path / "b")


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_two_replicas_share_context_more_pages_and_votes(tmp_path: Path, redis_url: str) -> None:
    with FakeBotApi() as server:
        server.register_chat(CHAT)
        a, b = replica_settings(tmp_path, server, redis_url)
        async with (
            replica(a, server, Engine(a), tmp_path / "a") as one,
            replica(b, server, Engine(b), tmp_path / "b") as two,
        ):
            await deliver(one, server, "what foods have K2?")
            first = await new_messages(server, CHAT, 0, is_page_end)
            before = len(server.sent_messages(CHAT))
            await deliver(two, server, "and d3?")  # the follow-up reaches the other replica
            follow = "\n".join(texts_of(await new_messages(server, CHAT, before, is_page_end)))
            assert "following on from your last question" in follow and "Vitamin D3 Sources" in follow
            keys = buttons(first[-1])
            for app, data in (
                (two, keys["More ▸"]),
                (two, keys["👍"]),
            ):  # buttons of one replica's answer, on the other
                body = server.push_callback(first[-1]["message_id"], data, user_id=CHAT, chat_id=CHAT)
                parsed = Update.de_json(body, app.bot)
                assert parsed is not None
                await app.update_queue.put(parsed)
            await server.wait_for(lambda s: len(s.calls_of("answerCallbackQuery")) >= 2)
            answers = [c.params.get("text", "") for c in server.calls_of("answerCallbackQuery")]
            assert answers == ["", "Thanks for the feedback!"]
            await server.wait_for(lambda s: any(t.startswith("4. ") for t in texts_of(s.sent_messages(CHAT))))
        assert not server.rejections, server.describe_recent()


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_chat_is_answered_in_order_across_replicas_and_a_dead_replicas_question_is_taken_over(
    tmp_path: Path, redis_url: str
) -> None:
    with FakeBotApi() as server:
        server.register_chat(CHAT)
        a, b = replica_settings(tmp_path, server, redis_url)
        stuck = GatedEngine(a)  # replica one's search of the first question never ends: it "dies" with it
        async with (
            replica(a, server, stuck, tmp_path / "a") as one,
            replica(b, server, Engine(b), tmp_path / "b") as two,
        ):
            await deliver(one, server, "what foods have K2?")
            await server.wait_for(lambda s: stuck.entered.is_set())
            await deliver(two, server, "and d3?")
            await asyncio.sleep(0.5)
            assert not server.sent_messages(CHAT)  # the follow-up waits for the question before it
            assert one.state is not None and isinstance(one.state.inbox, RedisInbox)
            one.state.inbox.heartbeat.stop()  # replica one is gone (killed): its question is an orphan now
            replies = await new_messages(server, CHAT, 0, lambda t: "following on from your last question" in t)
            full = "\n".join(texts_of(replies))
            assert full.index("Natto") < full.index("following on from your last question")  # in order, in context
            assert isinstance(one.update_processor, PerChatUpdateProcessor)
            one.update_processor.drain(grace=0)  # a dead process sends nothing more
            await asyncio.sleep(0.2)
            stuck.gate.set()  # let its search thread end
        texts = texts_of(server.sent_messages(CHAT))
        assert sum("Natto" in t and t.startswith("1. ") for t in texts) == 1, texts


def test_replicas_share_the_bots_thirty_messages_a_second(redis_url: str) -> None:
    one, two = RedisRate(connect(redis_url), 1), RedisRate(connect(redis_url), 1)
    waits = [(one if n % 2 else two).reserve() for n in range(40)]
    assert waits[:30] == [0.0] * 30  # Telegram's burst, whichever replica sends
    assert all(w > 0 for w in waits[30:])  # then one slot every 1/30 s for the whole bot
    assert RedisRate(connect(redis_url), 2).reserve() == 0.0  # another bot has its own schedule


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_replica_keeps_answering_when_redis_goes_away(tmp_path: Path, redis_server: RedisServer) -> None:
    own = RedisServer(redis_server.binary).start()  # this test stops its Redis
    try:
        with FakeBotApi() as server:
            server.register_chat(CHAT)
            a, _ = replica_settings(tmp_path, server, own.url)
            async with replica(a, server, Engine(a), tmp_path / "a") as one:
                own.stop()
                await deliver(one, server, "what foods have K2?")
                await new_messages(server, CHAT, 0, lambda t: is_page_end(t) or "couldn't find" in t)
            assert not server.rejections, server.describe_recent()
            assert not any("Sorry" in t for t in texts_of(server.sent_messages(CHAT)))
    finally:
        own.stop()

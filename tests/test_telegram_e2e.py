"""End-to-end tests of the Telegram bot: the real Application over HTTP against the strict FakeBotApi."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.config import Settings
from bot.engine import Engine
from bot.questionlog import QuestionLog
from bot.telegram import build_application, run_telegram
from bot.telegram.app import REDACTED, protect_logs
from bot.telegram.delivery import ATTEMPTS
from bot.telegram.handlers import ADMIN_COMMANDS, EDITED, EXPIRED, NOTHING_MORE, SORRY, TEXT_ONLY, USER_COMMANDS
from bot.telegram.state import PER_CHAT

try:
    from tests.botapi import FakeBotApi
    from tests.botapi.fixtures import running_application
except ImportError:  # tests/ is not importable as a package: pytest put tests/ on sys.path
    from botapi import FakeBotApi  # type: ignore[no-redef]
    from botapi.fixtures import running_application  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
USER = 1001
ADMIN = 4242
GROUP = -100777
Message = dict[str, Any]


@dataclass
class Bot:
    """A running bot and the fake Telegram it talks to."""

    server: FakeBotApi
    settings: Settings
    engine: Engine
    question_log: QuestionLog


def make_settings(tmp_path: Path, token: str, **changes: Any) -> Settings:
    """Settings for a private copy of the repository's K2/D3 article."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("vitamin-k2-d3-bone-density.txt", "synonyms.conf"):
        shutil.copy(REPO / "corpus" / name, corpus / name)
    values: dict[str, Any] = {
        "corpus_dir": corpus,
        "index_dir": tmp_path / "index",
        "data_dir": tmp_path / "data",
        "telegram_token": token,
        "admin_ids": frozenset({ADMIN}),
        "top_k": 3,
        "semantic": False,  # the bot's Telegram side is under test, not the sentence model
    }
    return Settings(**{**values, **changes})


@contextlib.asynccontextmanager
async def running_bot(tmp_path: Path, engine_class: type[Engine] = Engine, **changes: Any) -> AsyncIterator[Bot]:
    """The bot, built by build_application and long-polling a fresh FakeBotApi (post_init run as run_polling does).

    On exit it checks that Telegram rejected nothing and that no user got an apology.
    """
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token, **changes)
        engine = engine_class(settings)
        question_log = QuestionLog(tmp_path / "q.sqlite3")
        app = build_application(
            settings,
            engine,
            question_log,
            base_url=server.base_url,
            base_file_url=server.base_file_url,
            httpx_kwargs={"trust_env": False},
        )
        async with running_application(app):
            assert app.post_init is not None
            await app.post_init(app)
            yield Bot(server, settings, engine, question_log)
        texts = [m.get("text", "") for m in server.sent_messages()]
        assert not server.rejections, server.describe_recent()
        assert not any(SORRY in t for t in texts), texts


@pytest_asyncio.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    """The bot with the real engine on a copy of the K2/D3 article."""
    async with running_bot(tmp_path) as running:
        yield running


def texts_of(messages: list[Message]) -> list[str]:
    """The plain texts of messages."""
    return [m.get("text", "") for m in messages]


async def say(
    server: FakeBotApi, text: str, until: Callable[[str], bool] | None = None, chat_id: int = USER, **kwargs: Any
) -> list[Message]:
    """Push a message and wait for new bot messages in the chat (one of them matching `until`)."""
    before = len(server.sent_messages(chat_id))
    server.push_message(text, chat_id=chat_id, **kwargs)
    return await new_messages(server, chat_id, before, until)


async def new_messages(
    server: FakeBotApi, chat_id: int, before: int, until: Callable[[str], bool] | None = None
) -> list[Message]:
    """Wait until the bot sent something new (matching `until`) to the chat since `before` messages."""

    def done(s: FakeBotApi) -> bool:
        new = texts_of(s.sent_messages(chat_id)[before:])
        return bool(new) and (until is None or any(until(t) for t in new))

    await server.wait_for(done, timeout=15)
    return server.sent_messages(chat_id)[before:]


def is_page_end(text: str) -> bool:
    """The last message of an answer page ends with its footer."""
    return " of " in text.rsplit("\n", 1)[-1]


def entity_texts(message: Message, kind: str) -> list[str]:
    """The texts covered by a message's entities of one type (offsets are UTF-16 units)."""
    encoded = message["text"].encode("utf-16-le")
    spans = [(e["offset"], e["length"]) for e in message.get("entities", []) if e["type"] == kind]
    return [encoded[2 * start : 2 * (start + length)].decode("utf-16-le") for start, length in spans]


def buttons(message: Message) -> dict[str, str]:
    """Button text -> callback data of a message's inline keyboard."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


def heading_before(text: str, needle: str) -> str:
    """The numbered heading line closest before `needle` in an answer message."""
    head = text[: text.index(needle)]
    return [line for line in head.splitlines() if line[:1].isdigit() and ". " in line][-1]


async def press(server: FakeBotApi, message: Message, data: str, chat_id: int = USER, user_id: int = USER) -> str:
    """Press an inline button; return the text of the callback answer."""
    before = len(server.calls_of("answerCallbackQuery"))
    update = server.push_callback(message["message_id"], data, user_id=user_id, chat_id=chat_id)
    query_id = update["callback_query"]["id"]
    await server.wait_for(lambda s: len(s.calls_of("answerCallbackQuery")) > before)
    call = next(c for c in server.calls_of("answerCallbackQuery") if c.params["callback_query_id"] == query_id)
    assert call.ok
    return str(call.params.get("text", ""))


# ----- answers -----------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_question_is_answered_with_highlighted_natto_passage(bot: Bot) -> None:
    server = bot.server
    replies = await say(server, "what foods have K2?", is_page_end)
    page = next(m for m in replies if "Natto" in m["text"])
    assert "Dietary Sources" in heading_before(page["text"], "Natto (fermented soybeans)")
    assert "foods" in entity_texts(
        page, "bold"
    ) and "1. Dietary Sources of K2 and D3 › Vitamin K2 Sources" in entity_texts(page, "bold")
    assert any(e["type"] == "expandable_blockquote" for e in page["entities"])
    assert replies[-1]["text"].endswith("1–3 of 10 · More below")
    assert set(buttons(replies[-1])) == {"More ▸", "👍", "👎"}
    typing = server.calls_of("sendChatAction")
    assert typing and typing[0].params == {"chat_id": USER, "action": "typing"}


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_more_pages_until_exhausted(bot: Bot) -> None:
    server = bot.server
    first = (await say(server, "what foods have K2?", is_page_end))[-1]
    pages = [first]
    for expected in ("4–6 of 10 · More below", "7–9 of 10 · More below", "10 of 10"):
        before = len(server.sent_messages(USER))
        assert await press(server, pages[-1], buttons(pages[-1])["More ▸"]) == ""
        pages.append((await new_messages(server, USER, before, lambda t, e=expected: t.endswith(e)))[-1])
    assert pages[1]["text"].startswith("4. ") and pages[3]["text"].startswith("10. ")
    assert "More ▸" not in buttons(pages[3]) and "👍" in buttons(pages[3])
    for old in pages[:3]:  # More is taken off the messages it was used on (after the page is out); feedback stays
        await server.wait_for(lambda s, m=old: set(buttons(s.message(USER, m["message_id"]) or {})) == {"👍", "👎"})
    assert await press(server, pages[0], buttons(first)["More ▸"]) == EXPIRED


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_follow_up_then_reset(bot: Bot) -> None:
    server = bot.server
    await say(server, "what foods have K2?", is_page_end)
    follow = "\n".join(texts_of(await say(server, "and d3?", is_page_end)))
    assert "following on from your last question" in follow
    assert "Vitamin D3 Sources" in follow.split("\n\n2. ")[0]
    assert "Fatty fish" in follow
    reset = await say(server, "/reset")
    assert "forgotten our conversation" in reset[0]["text"]
    fresh = "\n".join(texts_of(await say(server, "and d3?")))  # an answer or none: the ranking decides
    assert "following on" not in fresh and "Searching for" not in fresh


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_no_answer_and_empty_question(bot: Bot) -> None:
    server = bot.server
    [reply] = await say(server, "capital of australia")
    assert "couldn't find anything" in reply["text"] and reply["text"].count("\n• ") >= 2
    assert "reply_markup" not in reply
    [empty] = await say(server, "the of and")
    assert empty["text"].startswith("🤔 Please type a question in words")


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_retry_after_429_still_answers(bot: Bot) -> None:
    server = bot.server
    server.fail_next("sendMessage", 1, retry_after=1)
    replies = await say(server, "what foods have K2?", is_page_end)
    assert any("Natto" in t for t in texts_of(replies))
    statuses = [c.status for c in server.calls_of("sendMessage")]
    assert statuses[0] == 429 and 200 in statuses[1:]


# ----- ordering and concurrency -------------------------------------------------------------
GATED = 3003


class GatedEngine(Engine):
    """The real engine, except that a question containing `gated_word` waits in its search thread until `gate` is
    set."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.gate = threading.Event()
        self.gated_word = "K2"
        self.entered = threading.Event()
        self.asked: list[str] = []

    def answer(self, question: str, *args: Any, **kwargs: Any) -> Any:
        """Block on the gate for gated questions (a slow search); record the order questions reach the engine."""
        self.asked.append(question)
        if self.gated_word in question:
            self.entered.set()
            if not self.gate.wait(20):
                raise TimeoutError("the test never opened the gate")
        return super().answer(question, *args, **kwargs)


def answer_texts(server: FakeBotApi, chat_id: int) -> str:
    """Every bot message in a chat, joined."""
    return "\n".join(texts_of(server.sent_messages(chat_id)))


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_quick_messages_in_one_chat_are_answered_in_order(bot: Bot) -> None:
    server = bot.server
    server.push_message("what foods have K2?")
    server.push_message("and d3?")
    await server.wait_for(lambda s: sum(is_page_end(t) for t in texts_of(s.sent_messages(USER))) >= 2, timeout=20)
    full = answer_texts(server, USER)
    assert "following on from your last question" in full
    assert full.index("Natto") < full.index("following on from your last question")
    second = full[full.index("following on from your last question") :]
    assert "Vitamin D3 Sources" in second and "Natto" not in second.split("\n\n2. ")[0]


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_follow_up_waits_for_the_slow_question_before_it(tmp_path: Path) -> None:
    async with running_bot(tmp_path, GatedEngine) as bot:
        server, engine = bot.server, bot.engine
        assert isinstance(engine, GatedEngine)
        server.push_message("what foods have K2?")
        await server.wait_for(lambda s: engine.entered.is_set())
        server.push_message("and d3?")
        await server.wait_for(lambda s: s.pending_update_count == 0)  # the follow-up was fetched and dispatched
        await asyncio.sleep(0.3)  # time in which a concurrent handler would search and answer the follow-up
        assert engine.asked == ["what foods have K2?"]
        engine.gate.set()
        await server.wait_for(lambda s: sum(is_page_end(t) for t in texts_of(s.sent_messages(USER))) >= 2, timeout=20)
        full = answer_texts(server, USER)
        assert engine.asked == ["what foods have K2?", "and d3?"]
        assert full.index("Natto") < full.index("following on from your last question")


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_slow_search_in_one_chat_does_not_hold_up_other_chats(tmp_path: Path) -> None:
    async with running_bot(tmp_path, GatedEngine) as bot:
        server, engine = bot.server, bot.engine
        assert isinstance(engine, GatedEngine)
        server.push_message("what foods have K2?", user_id=GATED, chat_id=GATED)
        await server.wait_for(lambda s: engine.entered.is_set())
        other = await say(server, "which foods contain vitamin d3?", is_page_end)  # answered while GATED's search runs
        assert "Fatty fish" in "\n".join(texts_of(other))
        [help_reply] = await say(server, "/help", chat_id=GATED + 1, user_id=GATED + 1)
        assert help_reply["text"].startswith("Type a question")
        assert not server.sent_messages(GATED)
        engine.gate.set()
        gated = await new_messages(server, GATED, 0, is_page_end)
        assert "Natto" in "\n".join(texts_of(gated))


# ----- transient Bot API faults ------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_failed_typing_action_does_not_cost_the_answer(bot: Bot) -> None:
    server = bot.server
    server.inject_fault("sendChatAction", "500", times=ATTEMPTS)
    replies = await say(server, "what foods have K2?", is_page_end)
    assert "Natto" in "\n".join(texts_of(replies))
    assert [c.status for c in server.calls_of("sendChatAction")] == [500]  # cosmetic: tried once, never retried


@pytest.mark.asyncio
@pytest.mark.timeout(60)
@pytest.mark.parametrize("faults", [("500", "reset", "502"), ("429", "503")])
async def test_transient_faults_on_the_answer_are_retried_without_an_apology(bot: Bot, faults: tuple[str, ...]) -> None:
    server = bot.server
    for fault in faults:
        server.inject_fault("sendMessage", fault)
    replies = await say(server, "what foods have K2?", is_page_end)
    assert sum("Natto" in t for t in texts_of(server.sent_messages(USER))) == 1  # delivered once
    assert "Natto" in "\n".join(texts_of(replies)) and server.pending_faults == 0
    assert [c.status for c in server.calls_of("sendMessage")][: len(faults)] == [
        int(f) if f.isdigit() else 0 for f in faults
    ]


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_an_outage_longer_than_the_retries_delays_the_answer_but_loses_nothing(bot: Bot) -> None:
    server = bot.server
    server.inject_fault("sendMessage", "503", times=ATTEMPTS + 1)  # one more than a round of retries
    server.push_message("what foods have K2?")
    server.push_message("and d3?")  # waits for the question before it, outage or not
    await server.wait_for(lambda s: sum(is_page_end(t) for t in texts_of(s.sent_messages(USER))) >= 2, timeout=40)
    answers = [t for t in texts_of(server.sent_messages(USER)) if is_page_end(t)]
    assert len(answers) == 2 and "K2 Sources" in answers[0] and "following on from your last question" in answers[1]
    assert server.pending_faults == 0


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_lost_response_is_not_answered_with_an_apology(bot: Bot) -> None:
    server = bot.server
    server.inject_fault("sendMessage", "drop_after")  # Telegram delivered the message, the response got lost
    await say(server, "what foods have K2?", is_page_end)
    await say(server, "/help")  # handled after the question, so any apology would be visible by now
    assert any("Natto" in t for t in texts_of(server.sent_messages(USER)))


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_more_survives_faults_in_the_callback_answer_and_the_markup_edit(bot: Bot) -> None:
    server = bot.server
    first = (await say(server, "what foods have K2?", is_page_end))[-1]
    server.inject_fault("answerCallbackQuery", "reset", times=ATTEMPTS)  # fails for good
    server.inject_fault("editMessageReplyMarkup", "500", times=ATTEMPTS)  # fails for good
    before = len(server.sent_messages(USER))
    server.push_callback(first["message_id"], buttons(first)["More ▸"])
    page = (await new_messages(server, USER, before, lambda t: t.endswith("4–6 of 10 · More below")))[-1]
    assert page["text"].startswith("4. ")
    await server.wait_for(lambda s: s.pending_faults == 0)
    assert await press(server, page, buttons(page)["More ▸"]) == ""  # the next page still works
    await new_messages(server, USER, before + 1, lambda t: t.endswith("7–9 of 10 · More below"))


# ----- memory ------------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_only_the_last_answers_of_a_chat_keep_their_more_button(bot: Bot) -> None:
    server = bot.server
    questions = [
        "what foods have K2?",
        "what does vitamin d3 do?",
        "which cheese has k2?",
        "how much d3 per day?",
        "what is osteocalcin?",
        "what foods have D3?",
        "how do k2 and d3 work together?",
        "what is mk-7?",
    ]
    last_pages = [(await say(server, q, is_page_end))[-1] for q in questions]
    pages = [p for p in last_pages if "More ▸" in buttons(p)]
    assert len(pages) > PER_CHAT
    assert await press(server, pages[0], buttons(pages[0])["More ▸"]) == EXPIRED  # beyond the per-chat cap
    before = len(server.sent_messages(USER))
    assert await press(server, pages[-1], buttons(pages[-1])["More ▸"]) == ""
    await new_messages(server, USER, before, is_page_end)
    await say(server, "/reset")
    assert await press(server, pages[-2], buttons(pages[-2])["More ▸"]) == EXPIRED  # /reset forgets the pages too


# ----- commands ----------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_start_help_sources_and_command_menu(bot: Bot) -> None:
    server = bot.server
    [start] = await say(server, "/start")
    examples = [line for line in start["text"].splitlines() if line.startswith("• Tell me about")]
    assert start["text"].startswith("👋 Hi Tess!") and len(examples) == 3
    assert examples == [f"• {q}" for q in bot.engine.examples(3)]
    [help_reply] = await say(server, "/help")
    assert all(f"/{name}" in help_reply["text"] for name, _ in USER_COMMANDS)
    assert "/reindex" not in help_reply["text"]  # admin commands are shown to admins only
    [admin_help] = await say(server, "/help", chat_id=ADMIN, user_id=ADMIN)
    assert all(f"/{name}" in admin_help["text"] for name, _ in ADMIN_COMMANDS)
    [sources] = await say(server, "/sources")
    assert "Vitamin K2 and D3: The Powerful Synergy for Optimal Bone Density" in sources["text"]
    assert "• Dietary Sources of K2 and D3" in sources["text"]
    assert [c["command"] for c in server.commands()] == [name for name, _ in USER_COMMANDS]
    admin_menu = server.commands({"type": "chat", "chat_id": ADMIN})
    assert [c["command"] for c in admin_menu] == [name for name, _ in USER_COMMANDS + ADMIN_COMMANDS]


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_ask_command_and_unknown_command(bot: Bot) -> None:
    server = bot.server
    [usage] = await say(server, "/ask")
    assert usage["text"].startswith("Usage: /ask <question>")
    replies = await say(server, "/ask what foods have K2?", is_page_end)
    assert any("Natto" in t for t in texts_of(replies))
    [unknown] = await say(server, "/frobnicate now")
    assert unknown["text"] == "Sorry, I don't know that command. Send /help to see what I can do."


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_group_answers_only_when_addressed(bot: Bot) -> None:
    server = bot.server
    group = {"chat_type": "supergroup"}
    server.push_message("what foods have K2?", chat_id=GROUP, **group)  # chatter between members: ignored
    server.push_message("/frobnicate", chat_id=GROUP, **group)  # unknown command not addressed to the bot: ignored
    mention = await say(server, "@test_bot what foods have K2?", is_page_end, chat_id=GROUP, **group)
    assert "Natto" in "\n".join(texts_of(mention)) and mention[0]["reply_to_message"]["text"].startswith("@test_bot")
    asked = await say(server, "/ask@test_bot and d3?", is_page_end, chat_id=GROUP, **group)
    assert "Vitamin D3 Sources" in "\n".join(texts_of(asked))
    reply = await say(
        server,
        "what is the recommended dosage of vitamin d3?",
        is_page_end,
        chat_id=GROUP,
        reply_to_message_id=asked[-1]["message_id"],
        **group,
    )
    assert "Dosage" in "\n".join(texts_of(reply))
    answers = [t for t in texts_of(server.sent_messages(GROUP)) if is_page_end(t)]
    assert len(answers) == 3 and not any(
        t.startswith("Sorry, I don't know") for t in texts_of(server.sent_messages(GROUP))
    )


# ----- hostile and unusual input -----------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "a & b < c",
        "what foods have K2? " * 250,
        "🦴💊 K2 foods? 🧀",
        "ما هي مصادر فيتامين د؟",
        "k2 &amp; <b>d3</b> </i>",
    ],
)
async def test_hostile_text_gets_valid_replies(bot: Bot, text: str) -> None:
    replies = await say(bot.server, text)
    assert replies and all(m["text"] for m in replies)
    assert not bot.server.rejections, bot.server.describe_recent()


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_media_edits_and_channel_posts_do_not_crash(bot: Bot) -> None:
    server = bot.server
    for push in (server.push_sticker, server.push_photo, server.push_voice):
        before = len(server.sent_messages(USER))
        push()
        assert texts_of(await new_messages(server, USER, before)) == [TEXT_ONLY]
    question = server.push_message("what foods have K2?")["message"]
    await server.wait_for(lambda s: any(is_page_end(t) for t in texts_of(s.sent_messages(USER))))
    before = len(server.sent_messages(USER))
    server.push_edited_message(question["message_id"], "what foods have D3?")
    assert texts_of(await new_messages(server, USER, before)) == [EDITED]
    server.push_channel_post("what foods have K2?")
    await say(server, "/help")  # handled after the channel post
    assert server.pending_update_count == 0
    assert not any(c.params.get("chat_id", 0) < -1_000_000_000_000 for c in server.calls if c.method != "getUpdates")


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_unknown_and_stale_buttons_get_polite_answers(bot: Bot) -> None:
    server = bot.server
    [start] = await say(server, "/start")
    assert await press(server, start, "more:doesnotexist") == EXPIRED  # e.g. state lost in a restart
    assert await press(server, start, "fb:999999:+") == EXPIRED
    assert await press(server, start, "something-old") == "This button no longer works. Please ask again."
    assert NOTHING_MORE != EXPIRED


class BrokenEngine(Engine):
    """The real engine, except that a question containing "boom" raises, like a bug in the core."""

    def answer(self, question: str, *args: Any, **kwargs: Any) -> Any:
        """Raise for "boom"."""
        if "boom" in question:
            raise RuntimeError("a bug in the core")
        return super().answer(question, *args, **kwargs)


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_error_is_logged_and_user_gets_a_short_apology(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token)
        app = build_application(
            settings,
            BrokenEngine(settings),
            QuestionLog(tmp_path / "q.sqlite3"),
            base_url=server.base_url,
            base_file_url=server.base_file_url,
            httpx_kwargs={"trust_env": False},
        )
        async with running_application(app):
            assert texts_of(await say(server, "boom")) == [SORRY]
            [help_reply] = await say(server, "/help")  # the bot keeps working
            assert help_reply["text"].startswith("Type a question")
        assert not server.rejections, server.describe_recent()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "bot.telegram.handlers"]
    assert len(errors) == 1 and errors[0].exc_info is not None


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_failing_question_log_never_stops_an_answer(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log_dir = tmp_path / "log"
    async with running_bot(tmp_path) as bot:
        bot.question_log.path = log_dir / "q.sqlite3"
        log_dir.write_text("not a directory")  # the log's disk went away: every write fails
        replies = await say(bot.server, "what foods have K2?", is_page_end)
        assert "Natto" in "\n".join(texts_of(replies))
        assert set(buttons(replies[-1])) == {"More ▸"}  # no feedback buttons for a question that was not logged
    assert any("question not logged" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_feedback_is_accepted_only_from_the_chat_that_asked(bot: Bot) -> None:
    server = bot.server
    page = (await say(server, "what foods have K2?", is_page_end))[-1]
    vote = buttons(page)["👍"]
    [own] = await say(
        server, "/start", chat_id=2002, user_id=2002
    )  # another user forges the button on their own message
    assert await press(server, own, vote, chat_id=2002, user_id=2002) == EXPIRED
    assert bot.question_log.stats().thumbs_up == 0
    assert await press(server, page, vote) == "Thanks for the feedback!"
    assert bot.question_log.stats().thumbs_up == 1


# ----- running ------------------------------------------------------------------------------
def test_run_telegram_without_token_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(tmp_path, "")
    assert run_telegram(settings, webhook_url=None, listen="127.0.0.1", port=0, secret_token=None) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no Telegram bot token") and "\n" not in err


def test_webhook_mode_without_the_webhooks_extra_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tornado" else real_find_spec(name, *a)
    )
    settings = make_settings(tmp_path, "123:ABC")
    code = run_telegram(
        settings, webhook_url="https://bot.example.com/tg", listen="127.0.0.1", port=8443, secret_token="s"
    )
    assert code == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: webhook mode needs the webhooks extra: pip install 'python-telegram-bot[webhooks]'"
    )


def test_run_telegram_with_rejected_token_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, "999999:WRONG-SECRET", telegram_api_url=f"http://127.0.0.1:{server.port}")
        code = run_telegram(settings, webhook_url=None, listen="127.0.0.1", port=0, secret_token=None)
        assert server.calls_of("getMe") and server.calls_of("getMe")[0].status == 401
    assert code == 2
    assert capsys.readouterr().err.strip() == "error: Telegram rejected the bot token (check TELEGRAM_BOT_TOKEN)"
    assert "WRONG-SECRET" not in caplog.text
    assert logging.getLogger("httpx").level == logging.WARNING


def test_a_corrupt_question_log_does_not_stop_the_bot_starting(tmp_path: Path) -> None:
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token, telegram_api_url=f"http://127.0.0.1:{server.port}")
        settings.data_dir.mkdir()
        (settings.data_dir / "questions.sqlite3").write_bytes(b"garbage, not SQLite " * 100)
        problems: list[str] = []
        thread = drive_then_interrupt(server, lambda: server.push_message("what foods have K2?"), problems)
        code = run_telegram(settings, webhook_url=None, listen="127.0.0.1", port=0, secret_token=None)
        thread.join(5)
        assert code == 0 and not problems, problems
        assert not any(SORRY in t for t in texts_of(server.sent_messages(USER)))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def drive_then_interrupt(server: FakeBotApi, deliver: Callable[[], None], problems: list[str]) -> threading.Thread:
    """In a thread: deliver a question, wait for the answer, then stop the bot with SIGINT like Ctrl-C."""

    def run() -> None:
        try:
            deliver()
            deadline = time.monotonic() + 20
            while not any("Natto" in t for t in texts_of(server.sent_messages(USER))):
                if time.monotonic() > deadline:
                    problems.append("no answer:\n" + server.describe_recent())
                    break
                time.sleep(0.05)
        except Exception as exc:  # reported by the test in the main thread
            problems.append(repr(exc))
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_run_telegram_long_polls_until_interrupted(tmp_path: Path) -> None:
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token, telegram_api_url=f"http://127.0.0.1:{server.port}/bot")
        problems: list[str] = []
        thread = drive_then_interrupt(server, lambda: server.push_message("what foods have K2?"), problems)
        code = run_telegram(settings, webhook_url=None, listen="127.0.0.1", port=0, secret_token=None)
        thread.join(5)
        assert code == 0 and not problems, problems
        assert [c["command"] for c in server.commands()] == [name for name, _ in USER_COMMANDS]
        assert not server.rejections, server.describe_recent()


def test_start_up_retries_failed_calls_with_one_log_line_per_attempt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with FakeBotApi() as server:
        server.inject_fault("deleteWebhook", "500", times=2)
        server.inject_fault("setMyCommands", "reset")
        settings = make_settings(tmp_path, server.token, telegram_api_url=f"http://127.0.0.1:{server.port}")
        problems: list[str] = []
        thread = drive_then_interrupt(server, lambda: server.push_message("what foods have K2?"), problems)
        code = run_telegram(settings, webhook_url=None, listen="127.0.0.1", port=0, secret_token=None)
        thread.join(5)
        assert code == 0 and not problems, problems
        assert server.pending_faults == 0
        assert [c["command"] for c in server.commands()] == [name for name, _ in USER_COMMANDS]
    retries = [r for r in caplog.records if "attempt" in r.getMessage() and r.name.startswith("bot.")]
    assert sorted(r.getMessage().split(" failed")[0] for r in retries) == ["Bot API deleteWebhook"] * 2 + [
        "Bot API setMyCommands"
    ]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in retries)


def test_an_unreachable_bot_api_ends_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = make_settings(tmp_path, "123456:TEST-TOKEN", telegram_api_url=f"http://127.0.0.1:{free_port()}")
    code = run_telegram(settings, webhook_url=None, listen="127.0.0.1", port=0, secret_token=None)
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: cannot reach the Telegram Bot API") and "\n" not in err, err
    attempts = [r.getMessage() for r in caplog.records if "getMe failed" in r.getMessage()]
    assert len(attempts) == ATTEMPTS - 1 and all("attempt" in m for m in attempts)
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    assert "TEST-TOKEN" not in caplog.text + err


def test_run_telegram_webhook_mode(tmp_path: Path) -> None:
    if importlib.util.find_spec("tornado") is None:
        pytest.skip("needs the webhooks extra (tornado)")
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"

    def deliver() -> None:
        update = server.push_message("what foods have K2?")
        deadline = time.monotonic() + 20
        while not server.webhook_url and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(trust_env=False) as client:
            for _ in range(100):
                try:
                    wrong = client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            assert wrong.status_code == 403
            right = client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"})
            assert right.status_code == 200

    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token, telegram_api_url=f"http://127.0.0.1:{server.port}")
        problems: list[str] = []
        thread = drive_then_interrupt(server, deliver, problems)
        code = run_telegram(
            settings,
            webhook_url="https://bot.example.com/tg/hook",
            listen="127.0.0.1",
            port=port,
            secret_token="s3cret",
        )
        thread.join(5)
        assert code == 0 and not problems, problems
        [set_webhook] = server.calls_of("setWebhook")
        assert set_webhook.params["url"] == "https://bot.example.com/tg/hook"
        assert set_webhook.params["secret_token"] == "s3cret"
        assert not server.calls_of("getUpdates")
        assert (
            len([t for t in texts_of(server.sent_messages(USER)) if is_page_end(t)]) == 1
        )  # the wrong secret was refused
        assert not server.rejections, server.describe_recent()


def test_token_is_redacted_from_log_records(caplog: pytest.LogCaptureFixture) -> None:
    token = "123:SECRET-abc"
    caplog.set_level(logging.INFO)
    redactor = protect_logs(token)
    try:
        logger = logging.getLogger("tests.redaction")
        logger.info("HTTP Request: POST https://api.telegram.org/bot%s/getMe", token)
        try:
            raise RuntimeError(f"failed https://api.telegram.org/bot{token}/sendMessage")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(redactor)
    assert "SECRET" not in caplog.text
    assert caplog.text.count(REDACTED) == 2  # the message and the exception text

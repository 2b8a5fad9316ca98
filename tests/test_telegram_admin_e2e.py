"""End-to-end tests of the admin side of the Telegram bot (re-index, uploads, removal, stats, feedback)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.config import Settings
from bot.engine import Engine
from bot.questionlog import QuestionLog
from bot.telegram import build_application
from bot.telegram.admin import ONLY_ADMINS
from bot.telegram.handlers import SORRY, UNKNOWN_COMMAND

try:
    from tests.botapi import FakeBotApi
    from tests.botapi.fixtures import running_application
except ImportError:  # tests/ is not importable as a package: pytest put tests/ on sys.path
    from botapi import FakeBotApi  # type: ignore[no-redef]
    from botapi.fixtures import running_application  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
SLEEP_ARTICLE = REPO / "tests" / "fixtures" / "articles" / "sleep-hygiene.md"
K2_ARTICLE = "vitamin-k2-d3-bone-density.txt"
USER = 1001
ADMIN = 4242
MAX_BYTES = 50_000
Message = dict[str, Any]


@dataclass
class Bot:
    """A running bot and the fake Telegram it talks to."""

    server: FakeBotApi
    settings: Settings
    question_log: QuestionLog
    root: Path


@pytest_asyncio.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    """The bot with one admin (ADMIN), built by build_application and polling a fresh FakeBotApi."""
    corpus = tmp_path / "library" / "corpus"
    corpus.mkdir(parents=True)
    for name in (K2_ARTICLE, "synonyms.conf"):
        shutil.copy(REPO / "corpus" / name, corpus / name)
    with FakeBotApi() as server:
        settings = Settings(
            corpus_dir=corpus,
            index_dir=tmp_path / "index",
            data_dir=tmp_path / "data",
            telegram_token=server.token,
            admin_ids=frozenset({ADMIN}),
            max_article_bytes=MAX_BYTES,
            semantic=False,  # uploads and re-indexing are under test, not the sentence model
        )
        question_log = QuestionLog(tmp_path / "q.sqlite3")
        app = build_application(
            settings,
            Engine(settings),
            question_log,
            base_url=server.base_url,
            base_file_url=server.base_file_url,
            httpx_kwargs={"trust_env": False},
        )
        async with running_application(app):
            yield Bot(server, settings, question_log, tmp_path)
        assert not server.rejections, server.describe_recent()
        assert not any(SORRY in m.get("text", "") for m in server.sent_messages())


def texts(server: FakeBotApi, chat_id: int) -> list[str]:
    """Current texts of the bot's messages in a chat."""
    return [m.get("text", "") for m in server.sent_messages(chat_id)]


async def reply_to(
    server: FakeBotApi, push: Callable[[], object], chat_id: int, until: Callable[[str], bool] = lambda t: True
) -> list[Message]:
    """Push something and wait until a new (or edited) bot message in the chat satisfies `until`."""
    before = len(server.sent_messages(chat_id))
    push()
    await server.wait_for(lambda s: any(until(t) for t in texts(s, chat_id)[before:]), timeout=20)
    return server.sent_messages(chat_id)[before:]


async def command(
    server: FakeBotApi, text: str, user: int = ADMIN, until: Callable[[str], bool] = lambda t: True
) -> list[Message]:
    """A private message from `user`; the bot's new messages once one satisfies `until`."""
    return await reply_to(server, lambda: server.push_message(text, user_id=user), user, until)


async def upload(server: FakeBotApi, name: str, content: bytes, user: int = ADMIN) -> str:
    """Send a document; the bot's final word on it (after the ⏳ status message is replaced)."""
    replies = await reply_to(
        server, lambda: server.push_document(name, content, user_id=user), user, lambda t: not t.startswith("⏳")
    )
    return replies[-1]["text"]


def is_page_end(text: str) -> bool:
    """The last message of an answer page ends with its footer."""
    return " of " in text.rsplit("\n", 1)[-1]


async def ask(server: FakeBotApi, question: str, user: int = USER) -> list[Message]:
    """Ask a question; the messages of the first answer page."""
    return await command(server, question, user, lambda t: is_page_end(t) or "couldn't find" in t)


def buttons(message: Message) -> dict[str, str]:
    """Button text -> callback data of a message's inline keyboard."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def press(server: FakeBotApi, message: Message, data: str, chat_id: int, user_id: int) -> str:
    """Press an inline button; return the text of the callback answer."""
    query_id = server.push_callback(message["message_id"], data, user_id=user_id, chat_id=chat_id)["callback_query"][
        "id"
    ]
    await server.wait_for(
        lambda s: any(c.params.get("callback_query_id") == query_id for c in s.calls_of("answerCallbackQuery"))
    )
    call = next(c for c in server.calls_of("answerCallbackQuery") if c.params["callback_query_id"] == query_id)
    assert call.ok
    return str(call.params.get("text", ""))


# ----- access control ----------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_non_admins_get_the_unknown_command_reply(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    server = bot.server
    for text in ("/frobnicate", "/reindex", "/stats", "/articles", f"/remove {K2_ARTICLE}", "/stats 30"):
        [reply] = await command(server, text, user=USER)
        assert reply["text"] == UNKNOWN_COMMAND
    assert await upload(server, "notes.md", b"# Notes\n\nSome text about things.", user=USER) == ONLY_ADMINS
    assert not server.calls_of("getFile")
    refused = [r.getMessage() for r in caplog.records if "is not an admin" in r.getMessage()]
    assert len(refused) == 6 and all(str(USER) in m for m in refused)
    assert server.token not in caplog.text
    assert sorted(p.name for p in bot.settings.corpus_dir.iterdir()) == ["synonyms.conf", K2_ARTICLE]


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_admin_reindex_and_articles(bot: Bot) -> None:
    server = bot.server
    replies = await command(server, "/reindex", until=lambda t: t.startswith("✅"))
    assert replies[0]["text"].startswith("✅ Indexed 1 article(s) into ") and "edit_date" in replies[0]
    [listing] = await command(server, "/articles")
    assert listing["text"].startswith("1 article(s):")
    assert f"{K2_ARTICLE} — Vitamin K2 and D3: The Powerful Synergy for Optimal Bone Density (" in listing["text"]
    assert listing["entities"][0]["type"] == "bold"


# ----- uploads -----------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_admin_uploads_an_article_and_it_answers(bot: Bot) -> None:
    server = bot.server
    result = await upload(server, "sleep-hygiene.md", SLEEP_ARTICLE.read_bytes())
    assert result.startswith("✅ Added sleep-hygiene.md: ") and " passages." in result
    assert (bot.settings.corpus_dir / "sleep-hygiene.md").read_bytes() == SLEEP_ARTICLE.read_bytes()
    answer = "\n".join(m["text"] for m in await ask(server, "how many hours of sleep do adults need?"))
    assert "Sleep Hygiene: Habits for Deeper Rest" in answer and "7 to 9 hours" in answer
    again = await upload(server, "sleep-hygiene.md", SLEEP_ARTICLE.read_bytes() + b"\n\nOne more line about naps.\n")
    assert again.startswith("✅ Replaced sleep-hygiene.md: ")
    [listing] = await command(server, "/articles")
    assert listing["text"].startswith("2 article(s):") and "sleep-hygiene.md — Sleep Hygiene" in listing["text"]


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_bad_uploads_are_rejected_and_old_articles_still_answer(bot: Bot) -> None:
    server = bot.server
    empty = await upload(server, "empty.txt", b"   \n")
    assert empty.startswith("❌ Not added: empty.txt: file is empty")
    binary = await upload(server, "blob.md", b"\x00\x01\x02binary\xff" * 20)
    assert binary.startswith("❌ Not added: blob.md: file is binary")
    downloads = len(server.calls_of("getFile"))
    oversized = await upload(server, "huge.txt", b"word " * (MAX_BYTES // 5 + 10))
    assert oversized == f"❌ Not added: huge.txt: file is {MAX_BYTES + 50:,} bytes, over the {MAX_BYTES:,}-byte limit"
    assert len(server.calls_of("getFile")) == downloads  # refused before downloading
    wrong_type = await upload(server, "slides.pdf", b"%PDF-1.4 not really")
    assert wrong_type.startswith("❌ Not added: slides.pdf: unsupported file type")
    assert sorted(p.name for p in bot.settings.corpus_dir.iterdir()) == ["synonyms.conf", K2_ARTICLE]
    answer = "\n".join(m["text"] for m in await ask(server, "what foods have K2?"))
    assert "Natto" in answer


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_path_in_file_name_is_sanitised(bot: Bot) -> None:
    server = bot.server
    article = b"Evil Article\n\nThis article talks about quokkas and their sunny habits on islands.\n"
    result = await upload(server, "../../evil.txt", article)
    assert result.startswith("✅ Added evil.txt: ")
    assert (bot.settings.corpus_dir / "evil.txt").read_bytes() == article
    outside = [p for p in bot.root.rglob("evil*") if p.parent != bot.settings.corpus_dir]
    assert outside == [] and not (bot.settings.corpus_dir.parent.parent / "evil.txt").exists()
    answer = "\n".join(m["text"] for m in await ask(server, "where do quokkas live?"))
    assert "quokkas" in answer


# ----- removal -----------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_remove_with_confirmation(bot: Bot) -> None:
    server = bot.server
    assert (await upload(server, "sleep-hygiene.md", SLEEP_ARTICLE.read_bytes())).startswith("✅ Added")
    [unknown] = await command(server, "/remove nothing.md")
    assert unknown["text"].startswith("There is no article named 'nothing.md'")
    [confirm] = await command(server, "/remove sleep-hygiene.md")
    assert confirm["text"].startswith("Remove sleep-hygiene.md (Sleep Hygiene: Habits for Deeper Rest, ")
    choice = buttons(confirm)
    assert set(choice) == {"Yes, remove it", "No, keep it"} and all(len(d.encode()) <= 64 for d in choice.values())
    assert await press(server, confirm, choice["No, keep it"], ADMIN, ADMIN) == "Kept."
    await server.wait_for(
        lambda s: (s.message(ADMIN, confirm["message_id"]) or {}).get("text") == "Kept sleep-hygiene.md."
    )
    assert (bot.settings.corpus_dir / "sleep-hygiene.md").exists()

    [confirm] = await command(server, "/remove sleep-hygiene.md")
    yes = buttons(confirm)["Yes, remove it"]
    assert await press(server, confirm, yes, ADMIN, USER) == "Only admins can do that."
    assert await press(server, confirm, yes, ADMIN, ADMIN) == "Removing…"
    await server.wait_for(
        lambda s: "Removed sleep-hygiene.md" in (s.message(ADMIN, confirm["message_id"]) or {}).get("text", "")
    )
    assert not (bot.settings.corpus_dir / "sleep-hygiene.md").exists()
    assert await press(server, confirm, yes, ADMIN, ADMIN) == "This confirmation has expired. Send /remove again."
    [listing] = await command(server, "/articles")
    assert listing["text"].startswith("1 article(s):") and "sleep-hygiene" not in listing["text"]

    [last] = await command(server, f"/remove {K2_ARTICLE}")
    assert await press(server, last, buttons(last)["Yes, remove it"], ADMIN, ADMIN) == "Removing…"
    await server.wait_for(
        lambda s: "cannot remove the last article" in (s.message(ADMIN, last["message_id"]) or {}).get("text", "")
    )


# ----- feedback and stats ------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_feedback_is_recorded_and_stats_show_it(bot: Bot) -> None:
    server = bot.server
    page = (await ask(server, "what foods have K2?"))[-1]
    assert await press(server, page, buttons(page)["👍"], USER, USER) == "Thanks for the feedback!"
    await ask(server, "capital of australia")
    [stats] = await command(server, "/stats")
    text = stats["text"]
    assert "Questions (last 7 day(s)): 2" in text and "Answered: 1 (50%)" in text
    assert "👍 1  👎 0" in text and "1× capital of australia" in text
    assert stats["entities"] == [{"type": "pre", "offset": 0, "length": len(text.encode("utf-16-le")) // 2}]
    assert await press(server, page, buttons(page)["👎"], USER, USER) == "Thanks for the feedback!"  # changes the vote
    [all_time] = await command(server, "/stats all")
    assert "Questions (all time): 2" in all_time["text"] and "👍 0  👎 1" in all_time["text"]
    [usage] = await command(server, "/stats lots")
    assert usage["text"].startswith("Usage: /stats")


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_stats_with_odd_arguments_gets_the_usage(bot: Bot) -> None:
    server = bot.server
    for argument in ("²", "٣", "-5", "1e3", "123456"):  # a superscript and an Arabic-Indic digit pass str.isdigit()
        [usage] = await command(server, f"/stats {argument}")
        assert usage["text"].startswith("Usage: /stats"), argument
    [zero] = await command(server, "/stats 0")
    assert "Questions (all time): 0" in zero["text"]


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_stats_on_a_corrupt_log_is_one_clear_line_and_answers_go_on(bot: Bot) -> None:
    server = bot.server
    bot.question_log.path.write_bytes(b"garbage, not SQLite " * 100)
    [reply] = await command(server, "/stats")
    assert reply["text"].startswith("❌ No statistics: the question log ") and "corrupt" in reply["text"]
    assert "\n" not in reply["text"] and "Traceback" not in reply["text"]
    answer = "\n".join(m["text"] for m in await ask(server, "what foods have K2?"))
    assert "Natto" in answer

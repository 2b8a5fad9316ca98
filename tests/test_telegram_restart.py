"""Restarts: a crash or a stop never loses a question nor answers one twice, and conversations survive.

The bot runs as a real process (`run_bot.py telegram`) against the strict fake Bot API, which can hold
the bot's answers unprocessed, so the process can be killed at a known point: every fetched question
acknowledged to Telegram, none answered yet (or some answered, the rest held).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.questionlog import QuestionLog
from bot.store import STATE_DB
from bot.telegram import build_application
from bot.telegram.handlers import EXPIRED

try:
    from tests.botapi import FakeBotApi
    from tests.botapi.fixtures import running_application
    from tests.test_telegram_e2e import USER, is_page_end, make_settings, new_messages, press, say, texts_of
except ImportError:  # tests/ is not importable as a package: pytest put tests/ on sys.path
    from botapi import FakeBotApi  # type: ignore[no-redef]
    from botapi.fixtures import running_application  # type: ignore[no-redef]
    from test_telegram_e2e import USER, is_page_end, make_settings, new_messages, press, say, texts_of  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
# "and d3?" is a follow-up of the question before it, so it needs that context (questions every ranking so far answers)
QUESTIONS = ("what foods have K2?", "and d3?", "which foods contain vitamin d3?")
CHATS = tuple(range(2001, 2009))


def expected_first_lines(settings: Settings) -> dict[int, list[str]]:
    """Per chat, the first line of each answer, in order, from the engine itself (same conversation)."""
    engine = Engine(settings)
    expected: dict[int, list[str]] = {}
    for chat in CHATS:
        expected[chat] = []
        for question in QUESTIONS:
            answer = engine.answer(question, ("reference", chat))
            expected[chat].append(f"1. {answer.results[0].heading}")
    return expected


def answers_by_chat(server: FakeBotApi) -> dict[int, list[str]]:
    """Per chat, the first result line ("1. heading") of every answer the bot sent, in order."""
    found: dict[int, list[str]] = {}
    for chat in CHATS:
        found[chat], pending = [], ""
        for text in texts_of(server.sent_messages(chat)):
            pending += text + "\n"
            if is_page_end(text):
                found[chat].append(next(line for line in pending.split("\n") if line.startswith("1. ")))
                pending = ""
    return found


@contextlib.contextmanager
def bot_process(settings: Settings, server: FakeBotApi, **extra_env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`run_bot.py telegram` against the fake server; killed if still running at the end."""
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": server.token,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{server.port}",
        "BOT_CORPUS_DIR": str(settings.corpus_dir),
        "BOT_INDEX_DIR": str(settings.index_dir),
        "BOT_DATA_DIR": str(settings.data_dir),
        "BOT_SEMANTIC": "on" if settings.semantic else "off",
        "NO_PROXY": "127.0.0.1",
        **extra_env,
    }
    process = subprocess.Popen([sys.executable, str(REPO / "run_bot.py"), "telegram"], env=env, cwd=REPO)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def wait_until(condition: Any, what: str, server: FakeBotApi, timeout: float = 60) -> None:
    """Poll `condition()` until true; fail with the recent calls on timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen\n{server.describe_recent()}")
        time.sleep(0.05)


def push_questions(server: FakeBotApi) -> None:
    """Every chat asks every question, interleaved across chats."""
    for question in QUESTIONS:
        for chat in CHATS:
            server.push_message(question, user_id=chat, chat_id=chat)


@pytest.mark.parametrize("answered_before_the_crash", [0, len(CHATS)])
def test_a_crash_with_questions_in_flight_loses_none_and_answers_none_twice(
    tmp_path: Path, answered_before_the_crash: int
) -> None:
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token)
        expected = expected_first_lines(settings)
        server.hold("sendMessage", after=answered_before_the_crash)
        with bot_process(settings, server) as process:
            push_questions(server)
            total = len(QUESTIONS) * len(CHATS)
            # Telegram has been told "received" for every question, and each chat has an answer held
            wait_until(lambda: server.pending_update_count == 0 and server.held >= len(CHATS), "fetch and hold", server)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        server.release_held(process=False)  # the dead process's requests are never processed
        before = sum(len(a) for a in answers_by_chat(server).values())
        assert before == answered_before_the_crash
        with bot_process(settings, server):
            wait_until(lambda: sum(len(a) for a in answers_by_chat(server).values()) >= total, "all answers", server)
            time.sleep(0.5)  # a duplicate would arrive now
        assert answers_by_chat(server) == expected
        assert not server.rejections, server.describe_recent()


def test_sigterm_drains_quickly_and_the_rest_is_answered_after_the_restart(tmp_path: Path) -> None:
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token)
        expected = expected_first_lines(settings)
        server.hold("sendMessage")
        with bot_process(settings, server) as process:
            push_questions(server)
            wait_until(lambda: server.pending_update_count == 0 and server.held >= len(CHATS), "fetch and hold", server)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # the stop has begun: the answers in flight may finish, nothing new starts
            server.release_held(process=True)
            assert process.wait(30) == 0
        answered = sum(len(a) for a in answers_by_chat(server).values())
        assert answered == len(CHATS)  # one answer per chat was in flight; the backlog waited
        with bot_process(settings, server):
            total = len(QUESTIONS) * len(CHATS)
            wait_until(lambda: sum(len(a) for a in answers_by_chat(server).values()) >= total, "all answers", server)
            time.sleep(0.5)
        assert answers_by_chat(server) == expected


def test_a_stop_does_not_wait_past_its_grace_for_answers_telegram_never_takes(tmp_path: Path) -> None:
    """Answers stuck in flight at a SIGTERM are left for the next start once the grace runs out, not given up."""
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token)
        expected = expected_first_lines(settings)
        server.hold("sendMessage")  # Telegram takes no answer until the restart
        with bot_process(settings, server, BOT_DRAIN_SECONDS="1") as process:
            push_questions(server)
            wait_until(lambda: server.pending_update_count == 0 and server.held >= len(CHATS), "fetch and hold", server)
            process.send_signal(signal.SIGTERM)
            assert process.wait(90) == 0
        server.release_held(process=False)
        assert sum(len(a) for a in answers_by_chat(server).values()) == 0
        with bot_process(settings, server):
            total = len(QUESTIONS) * len(CHATS)
            wait_until(lambda: sum(len(a) for a in answers_by_chat(server).values()) >= total, "all answers", server)
            time.sleep(0.5)
        assert answers_by_chat(server) == expected


@contextlib.asynccontextmanager
async def started_bot(settings: Settings, server: FakeBotApi, tmp_path: Path) -> Any:
    """The bot's Application built as in production, running and initialised, in this process."""
    app = build_application(
        settings,
        Engine(settings),
        QuestionLog(tmp_path / "q.sqlite3"),
        base_url=server.base_url,
        base_file_url=server.base_file_url,
        httpx_kwargs={"trust_env": False},
    )
    async with running_application(app):
        assert app.post_init is not None
        await app.post_init(app)
        yield app


@pytest.mark.asyncio
async def test_context_and_more_pages_survive_a_restart(tmp_path: Path) -> None:
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token)

        async with started_bot(settings, server, tmp_path):
            first = await say(server, "what foods have K2?", is_page_end)
        async with started_bot(
            settings, server, tmp_path
        ):  # a new process would see the same: nothing is kept in memory across the restart
            follow = await say(server, "and d3?", is_page_end)
            assert "following on from your last question" in follow[0]["text"]
            before = len(server.sent_messages(USER))
            more = await press(server, first[-1], first[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
            assert more != EXPIRED
            page = await new_messages(server, USER, before, is_page_end)
            assert page[0]["text"].startswith("4. "), page[0]["text"][:80]
        assert not server.rejections, server.describe_recent()


@pytest.mark.asyncio
async def test_a_corrupt_state_database_costs_the_memory_not_the_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token)
        settings.data_dir.mkdir(parents=True)
        (settings.data_dir / STATE_DB).write_bytes(b"garbage, not SQLite " * 100)
        async with started_bot(settings, server, tmp_path):
            replies = await say(server, "what foods have K2?", is_page_end)
            assert "Natto" in "\n".join(texts_of(replies))
            follow = await say(server, "and d3?", is_page_end)  # the context still works, in memory
            assert "following on from your last question" in follow[0]["text"]
        assert "updates and conversations are kept in memory only" in caplog.text
        assert not server.rejections, server.describe_recent()


def big_article(size: int) -> bytes:
    """A markdown article of about `size` bytes, built from the seed article's own words (slow to encode)."""
    words = [w for w in (REPO / "corpus" / "vitamin-k2-d3-bone-density.txt").read_text().split() if w.isalpha()]
    parts, n = ["# A long article\n"], 0
    while sum(map(len, parts)) < size:
        n += 1
        body = " ".join(words[(n * 7 + i * 13) % len(words)] for i in range(120))
        parts.append(f"\n## Part {n}\n\n{body}.\n")
    return "".join(parts).encode()


def test_sigterm_while_an_upload_is_indexed_stops_within_the_grace(tmp_path: Path) -> None:
    """The upload is parsed and encoded in a worker thread; a stop must not wait for it (the upload is redone)."""
    with FakeBotApi() as server:
        settings = make_settings(tmp_path, server.token, admin_ids=frozenset({USER}))
        server.register_chat(USER)
        with bot_process(settings, server, ADMIN_IDS=str(USER), BOT_DRAIN_SECONDS="1") as process:
            wait_until(lambda: len(server.calls_of("getUpdates")) > 0, "polling", server)
            server.push_document("long.md", big_article(300_000), user_id=USER, chat_id=USER)
            wait_until(lambda: any("Adding" in t for t in texts_of(server.sent_messages(USER))), "the upload", server)
            time.sleep(1.0)  # well into the encoding of its passages
            began = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
            assert time.monotonic() - began < 5, "the stop waited for the upload's indexing"

"""Self-tests of the strict fake Telegram Bot API server (tests/botapi)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, RetryAfter
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

try:
    from tests.botapi import FakeBotApi
    from tests.botapi.fixtures import application_builder, fake_botapi, running_application
except ImportError:  # tests/ is not importable as a package: pytest put tests/ on sys.path
    from botapi import FakeBotApi  # type: ignore[no-redef]
    from botapi.fixtures import (  # type: ignore[no-redef]
        application_builder,
        fake_botapi,
        running_application,
    )

pytestmark = pytest.mark.timeout(30)

__all__ = ["fake_botapi"]  # re-exported fixture, used by name below

CHAT = 1001
KEYBOARD = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def client(fake_botapi: FakeBotApi) -> Iterator[httpx.Client]:
    """Plain HTTP client for ``/bot<token>/`` with a known private chat 1001."""
    fake_botapi.register_chat(CHAT)
    with httpx.Client(base_url=fake_botapi.base_url + fake_botapi.token, trust_env=False) as c:
        yield c


def call(client: httpx.Client, method: str, **params: Any) -> httpx.Response:
    """POST form-encoded params the way PTB does (dicts/lists become JSON strings)."""
    data = {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in params.items()}
    return client.post(f"/{method}", data=data)


def send(client: httpx.Client, text: str, **params: Any) -> httpx.Response:
    """sendMessage to CHAT."""
    return call(client, "sendMessage", chat_id=CHAT, text=text, **params)


def sent_texts(server: FakeBotApi) -> list[str]:
    return [m.get("text", "") for m in server.sent_messages()]


def assert_bad_request(resp: httpx.Response, description_start: str) -> None:
    body = resp.json()
    assert resp.status_code == 400, body
    assert body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith(description_start), body["description"]


# --------------------------------------------------------------------------- HTML strictness


def test_valid_html_is_accepted_and_parsed(client: httpx.Client, fake_botapi: FakeBotApi) -> None:
    html = (
        "<b>bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>n</ins> <s>x</s> "
        '<strike>k</strike> <del>d</del> <span class="tg-spoiler">sp</span> '
        '<tg-spoiler>t</tg-spoiler> <a href="https://example.com/?a=1&amp;b=2">link</a> '
        '<code>c</code> <pre><code class="language-python">p = 1</code></pre> '
        "<blockquote>q</blockquote> <blockquote expandable>eq</blockquote> "
        '<tg-emoji emoji-id="5368324170671202286">\N{THUMBS UP SIGN}</tg-emoji> '
        "<b>nested <i>ok</i></b> &lt;tag&gt; &amp; &quot;q&quot; &#65;&#x42;"
    )
    resp = send(client, html, parse_mode="HTML")
    body = resp.json()
    assert resp.status_code == 200 and body["ok"] is True, body
    result = body["result"]
    assert result["text"].endswith('nested ok <tag> & "q" AB')
    assert "<b>" not in result["text"]
    types = {e["type"] for e in result["entities"]}
    assert types >= {
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "text_link",
        "code",
        "pre",
        "blockquote",
        "expandable_blockquote",
        "custom_emoji",
    }
    link = next(e for e in result["entities"] if e["type"] == "text_link")
    assert link["url"] == "https://example.com/?a=1&b=2"
    pre = next(e for e in result["entities"] if e["type"] == "pre")
    assert pre["language"] == "python"
    assert result["from"]["is_bot"] is True and result["chat"]["id"] == CHAT
    assert fake_botapi.sent_messages(CHAT)[-1]["text"] == result["text"]
    assert fake_botapi.rejections == []


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<foo>unknown</foo>", 'Unsupported start tag "foo"'),
        ("<br/>line", 'Unsupported start tag "br"'),
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>misnested</b></i>", "Unmatched end tag"),
        ("stray</b>", "Unexpected end tag"),
        ("fish & chips", 'Character "&" must be escaped'),
        ("1 < 2", 'Character "<" must be escaped'),
        ("2 > 1", 'Character ">" is reserved'),
        ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;"'),
        ("<span>no class</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("<a>no href</a>", 'Tag "a" must have attribute "href"'),
    ],
)
def test_invalid_html_is_rejected(client: httpx.Client, fake_botapi: FakeBotApi, html: str, reason: str) -> None:
    resp = send(client, html, parse_mode="HTML")
    assert_bad_request(resp, f"Bad Request: can't parse entities: {reason}")
    assert fake_botapi.sent_messages() == []
    [rejection] = fake_botapi.rejections
    assert rejection.method == "sendMessage" and rejection.params["text"] == html
    assert rejection.ok is False and rejection.error == resp.json()["description"]


def test_same_text_is_fine_without_parse_mode(client: httpx.Client) -> None:
    assert send(client, "1 < 2 & <foo>").status_code == 200


# --------------------------------------------------------------------------- length / emptiness


def test_text_length_counts_utf16_units(client: httpx.Client, fake_botapi: FakeBotApi) -> None:
    emoji = "\N{GRINNING FACE}"  # outside the BMP: 2 UTF-16 units
    assert send(client, "a" * 4096).status_code == 200
    assert send(client, "a" * 4094 + emoji).status_code == 200
    assert send(client, "&amp;" * 4096, parse_mode="HTML").status_code == 200  # decoded length
    assert_bad_request(send(client, "a" * 4097), "Bad Request: message is too long")
    assert_bad_request(send(client, "a" * 4095 + emoji), "Bad Request: message is too long")
    assert_bad_request(
        send(client, "<b>" + "a" * 4097 + "</b>", parse_mode="HTML"),
        "Bad Request: message is too long",
    )
    assert len(fake_botapi.sent_messages()) == 3
    assert len(fake_botapi.rejections) == 3


@pytest.mark.parametrize(("text", "parse_mode"), [("", None), ("   \n", None), ("<b></b>", "HTML")])
def test_empty_text_is_rejected(client: httpx.Client, text: str, parse_mode: str | None) -> None:
    params = {"parse_mode": parse_mode} if parse_mode else {}
    assert_bad_request(send(client, text, **params), "Bad Request: message text is empty")


# --------------------------------------------------------------------------- keyboards


def test_callback_data_limit_is_64_bytes(client: httpx.Client) -> None:
    def keyboard(data: str) -> dict[str, Any]:
        return {"inline_keyboard": [[{"text": "b", "callback_data": data}]]}

    ok = send(client, "ok", reply_markup=keyboard("x" * 64))
    assert ok.status_code == 200
    assert ok.json()["result"]["reply_markup"] == keyboard("x" * 64)
    for bad in ("x" * 65, "\u00e9" * 33, ""):  # 65 bytes, 66 bytes (33 chars), empty
        resp = send(client, "n", reply_markup=keyboard(bad))
        assert_bad_request(resp, "Bad Request: BUTTON_DATA_INVALID")
    no_text = {"inline_keyboard": [[{"callback_data": "x"}]]}
    resp = send(client, "n", reply_markup=no_text)
    assert_bad_request(resp, "Bad Request: can't parse inline keyboard button")


# --------------------------------------------------------------------------- protocol


def test_wrong_token_unknown_method_and_case_insensitive_names(fake_botapi: FakeBotApi) -> None:
    with httpx.Client(trust_env=False) as c:
        wrong = c.post(f"{fake_botapi.base_url}999:WRONG/getMe")
        assert wrong.status_code == 401
        assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        unknown = c.post(f"{fake_botapi.base_url}{fake_botapi.token}/launchRockets")
        assert unknown.status_code == 404 and unknown.json()["description"] == "Not Found"
        me = c.post(f"{fake_botapi.base_url}{fake_botapi.token}/GETME")
        assert me.status_code == 200 and me.json()["result"]["username"] == "test_bot"
    assert [c.status for c in fake_botapi.rejections] == [401, 404]
    assert fake_botapi.calls[-1].method == "getMe"


def test_json_body_is_rejected(client: httpx.Client, fake_botapi: FakeBotApi) -> None:
    resp = client.post("/sendMessage", json={"chat_id": CHAT, "text": "hi"})
    assert resp.status_code == 400 and resp.json()["ok"] is False
    assert fake_botapi.sent_messages() == []
    assert len(fake_botapi.rejections) == 1


def test_unknown_chat_is_rejected(client: httpx.Client) -> None:
    resp = client.post("/sendMessage", data={"chat_id": "4242", "text": "hi"})
    assert_bad_request(resp, "Bad Request: chat not found")


def test_flood_control_simulation(client: httpx.Client, fake_botapi: FakeBotApi) -> None:
    fake_botapi.fail_next("sendMessage", times=2, retry_after=3)
    for _ in range(2):
        resp = send(client, "hi")
        assert resp.status_code == 429
        assert resp.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        }
    assert send(client, "hi").status_code == 200
    assert [c.ok for c in fake_botapi.calls_of("sendMessage")] == [False, False, True]
    assert fake_botapi.rejections == []  # simulated 429s are not rejections


def test_injected_faults_happen_in_order_then_calls_succeed(client: httpx.Client, fake_botapi: FakeBotApi) -> None:
    fake_botapi.inject_fault("sendMessage", "500")
    fake_botapi.inject_fault("sendMessage", "reset")
    fake_botapi.inject_fault("sendMessage", "drop_after")
    assert send(client, "one").status_code == 500
    with pytest.raises(httpx.RemoteProtocolError):
        send(client, "two")
    assert sent_texts(fake_botapi) == []  # neither was processed
    with pytest.raises(httpx.RemoteProtocolError):
        send(client, "three")
    assert sent_texts(fake_botapi) == ["three"]  # processed, but the response was lost
    assert send(client, "four").status_code == 200 and fake_botapi.pending_faults == 0
    assert [(c.ok, c.status) for c in fake_botapi.calls_of("sendMessage")] == [
        (False, 500),
        (False, 0),
        (False, 0),
        (True, 200),
    ]
    assert fake_botapi.rejections == []
    with pytest.raises(ValueError):
        fake_botapi.inject_fault("sendMessage", "teapot")


# --------------------------------------------------------------------------- edits, callbacks


def test_edit_message_text_rules(client: httpx.Client, fake_botapi: FakeBotApi) -> None:
    first = send(client, "<b>v1</b>", parse_mode="HTML", reply_markup=KEYBOARD)
    mid = first.json()["result"]["message_id"]

    def edit(text: str, **extra: Any) -> httpx.Response:
        return call(
            client,
            "editMessageText",
            chat_id=CHAT,
            message_id=mid,
            text=text,
            parse_mode="HTML",
            **extra,
        )

    not_modified = "Bad Request: message is not modified"
    assert_bad_request(edit("<b>v1</b>", reply_markup=KEYBOARD), not_modified)
    assert edit("v1", reply_markup=KEYBOARD).status_code == 200  # formatting changed
    assert edit("v1").status_code == 200  # keyboard removed
    assert_bad_request(edit("v1"), not_modified)
    missing = call(client, "editMessageText", chat_id=CHAT, message_id=999, text="x")
    assert_bad_request(missing, "Bad Request: message to edit not found")
    [msg] = fake_botapi.sent_messages(CHAT)
    assert msg["text"] == "v1" and "reply_markup" not in msg and "edit_date" in msg

    markup = {"chat_id": CHAT, "message_id": mid, "reply_markup": KEYBOARD}
    assert call(client, "editMessageReplyMarkup", **markup).status_code == 200
    assert_bad_request(call(client, "editMessageReplyMarkup", **markup), not_modified)
    assert fake_botapi.sent_messages(CHAT)[0]["reply_markup"] == KEYBOARD


def test_callback_answers_and_chat_actions(client: httpx.Client, fake_botapi: FakeBotApi) -> None:
    mid = send(client, "pick", reply_markup=KEYBOARD).json()["result"]["message_id"]
    update = fake_botapi.push_callback(mid, "go")
    query_id = update["callback_query"]["id"]
    assert update["callback_query"]["message"]["reply_markup"] == KEYBOARD
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert_bad_request(call(client, "answerCallbackQuery", callback_query_id="123"), too_old)
    answered = call(client, "answerCallbackQuery", callback_query_id=query_id, text="ok")
    assert answered.json() == {"ok": True, "result": True}
    assert_bad_request(call(client, "answerCallbackQuery", callback_query_id=query_id), too_old)
    assert call(client, "sendChatAction", chat_id=CHAT, action="typing").status_code == 200
    dancing = call(client, "sendChatAction", chat_id=CHAT, action="dancing")
    assert_bad_request(dancing, "Bad Request: wrong parameter action in request")
    with pytest.raises(ValueError):
        fake_botapi.push_callback(9999, "go")


def test_commands_roundtrip(client: httpx.Client) -> None:
    commands = [
        {"command": "start", "description": "Start"},
        {"command": "help", "description": "Help"},
    ]
    assert call(client, "setMyCommands", commands=commands).json()["result"] is True
    assert client.post("/getMyCommands").json()["result"] == commands
    bad = [{"command": "Bad-Cmd", "description": "x"}]
    resp = call(client, "setMyCommands", commands=bad)
    assert_bad_request(resp, "Bad Request: BOT_COMMAND_INVALID")
    assert client.post("/deleteMyCommands").json()["result"] is True
    assert client.post("/getMyCommands").json()["result"] == []


# --------------------------------------------------------------------------- getUpdates / files


def test_get_updates_offset_limit_and_long_poll(client: httpx.Client, fake_botapi: FakeBotApi) -> None:
    ids = [fake_botapi.push_message(f"m{i}")["update_id"] for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    first = client.post("/getUpdates", data={"limit": "2"}).json()["result"]
    assert [u["update_id"] for u in first] == ids[:2]
    again = client.post("/getUpdates", data={"offset": str(ids[1])}).json()["result"]
    assert [u["update_id"] for u in again] == ids[1:]  # ids[0] confirmed and dropped
    assert client.post("/getUpdates", data={"offset": str(ids[2] + 1)}).json()["result"] == []
    assert fake_botapi.pending_update_count == 0

    fake_botapi.max_poll_timeout = 8.0
    threading.Timer(0.3, lambda: fake_botapi.push_message("late")).start()
    started = time.monotonic()
    late = client.post("/getUpdates", data={"offset": str(ids[2] + 1), "timeout": "10"}, timeout=15)
    elapsed = time.monotonic() - started
    assert [u["message"]["text"] for u in late.json()["result"]] == ["late"]
    assert 0.2 < elapsed < 4.0  # returned on push, not after the 8 s poll timeout

    started = time.monotonic()
    empty = client.post("/getUpdates", data={"offset": str(ids[2] + 2), "timeout": "1"})
    assert empty.json()["result"] == [] and 0.8 < time.monotonic() - started < 4.0


def test_stop_wakes_long_poll_quickly() -> None:
    server = FakeBotApi().start()
    url = f"{server.base_url}{server.token}/getUpdates"
    result: dict[str, Any] = {}

    def poll() -> None:
        result["resp"] = httpx.post(url, data={"timeout": "30"}, timeout=10, trust_env=False)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    poller.join(timeout=5)
    assert not poller.is_alive()
    assert time.monotonic() - started < 2
    assert result["resp"].json() == {"ok": True, "result": []}


def test_file_download_and_unknown_path(client: httpx.Client, fake_botapi: FakeBotApi) -> None:
    content = b"\x00binary\r\n\xffdata"
    update = fake_botapi.push_document("notes.bin", content, mime_type="application/octet-stream")
    file_id = update["message"]["document"]["file_id"]
    info = client.post("/getFile", data={"file_id": file_id}).json()["result"]
    assert info["file_size"] == len(content)
    files_url = fake_botapi.base_file_url + fake_botapi.token
    with httpx.Client(base_url=files_url, trust_env=False) as files:
        assert files.get("/" + info["file_path"]).content == content
        assert files.get("/documents/nope.txt").status_code == 404
    assert_bad_request(call(client, "getFile", file_id="nope"), "Bad Request: invalid file_id")


def test_push_helpers_build_realistic_updates(fake_botapi: FakeBotApi) -> None:
    cmd = fake_botapi.push_message("/start@test_bot now")["message"]
    assert cmd["entities"] == [{"type": "bot_command", "offset": 0, "length": 15}]
    edited = fake_botapi.push_edited_message(cmd["message_id"], "changed")["edited_message"]
    assert edited["text"] == "changed" and "entities" not in edited
    assert edited["edit_date"] > cmd["date"]
    assert fake_botapi.push_sticker()["message"]["sticker"]["type"] == "regular"
    assert len(fake_botapi.push_photo(caption="pic")["message"]["photo"]) == 2
    assert fake_botapi.push_voice()["message"]["voice"]["mime_type"] == "audio/ogg"
    post = fake_botapi.push_channel_post("news")["channel_post"]
    assert post["chat"]["type"] == "channel" and "from" not in post
    group = fake_botapi.push_message("hi all", chat_type="supergroup", chat_id=-100777)["message"]
    assert group["chat"] == {"id": -100777, "type": "supergroup", "title": "Test Group"}
    for update in (Update.de_json(u, None) for u in _drain(fake_botapi)):
        assert update is not None and update.effective_chat is not None


def _drain(server: FakeBotApi) -> list[dict[str, Any]]:
    with httpx.Client(trust_env=False) as c:
        return c.post(f"{server.base_url}{server.token}/getUpdates").json()["result"]


# --------------------------------------------------------------------------- real PTB Application


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Press", callback_data="pressed")]])
    await update.effective_message.reply_html("<b>Welcome!</b> &lt;3", reply_markup=keyboard)


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("thanks")
    await query.edit_message_text(f"you pressed {query.data}")


async def _document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.document is not None
    data = await (await context.bot.get_file(message.document.file_id)).download_as_bytearray()
    context.bot_data["downloaded"] = bytes(data)
    await message.reply_text(f"got {len(data)} bytes")


@pytest.mark.asyncio
async def test_real_ptb_application_end_to_end(fake_botapi: FakeBotApi) -> None:
    server = fake_botapi
    app = ApplicationBuilder().token(server.token).base_url(server.base_url).base_file_url(server.base_file_url).build()
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CallbackQueryHandler(_button))
    app.add_handler(MessageHandler(filters.Document.ALL, _document))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    updater = app.updater
    assert updater is not None
    await app.initialize()
    try:
        await app.start()
        await updater.start_polling(poll_interval=0, timeout=1)

        server.push_message("hello there")
        await server.wait_for(lambda s: "echo: hello there" in sent_texts(s))

        server.push_message("/start")
        await server.wait_for(lambda s: "Welcome! <3" in sent_texts(s))
        welcome = next(m for m in server.sent_messages() if m["text"] == "Welcome! <3")
        assert welcome["entities"] == [{"type": "bold", "offset": 0, "length": 8}]
        assert welcome["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "pressed"

        server.push_callback(welcome["message_id"], "pressed")
        [answer] = await server.wait_for_calls("answerCallbackQuery", 1)
        assert answer.ok and answer.params["text"] == "thanks"
        await server.wait_for(lambda s: "you pressed pressed" in sent_texts(s))
        assert len(server.sent_messages()) == 2  # edited in place, not re-sent

        payload = b"PDF?\x00\xff\r\nnot really"
        server.push_document("report.bin", payload, mime_type="application/octet-stream")
        await server.wait_for(lambda s: f"got {len(payload)} bytes" in sent_texts(s))
        assert app.bot_data["downloaded"] == payload
    finally:
        await updater.stop()
        await app.stop()
        await app.shutdown()

    assert server.rejections == [], server.describe_recent()
    assert server.calls_of("getMe") and server.calls_of("deleteWebhook")
    polls = server.calls_of("getUpdates")
    assert polls[0].params["timeout"] == 1
    assert polls[-1].params["timeout"] == 0  # PTB's final "confirm" call on stop
    assert server.pending_update_count == 0


@pytest.mark.asyncio
async def test_ptb_sees_strict_errors(fake_botapi: FakeBotApi) -> None:
    server = fake_botapi
    server.push_message("hi")
    app = application_builder(server).build()
    async with running_application(app):
        await server.wait_for(lambda s: s.pending_update_count == 0)
        with pytest.raises(BadRequest, match="(?i)can't parse entities: unsupported start tag"):
            await app.bot.send_message(CHAT, "<blink>no</blink>", parse_mode="HTML")
        server.fail_next("sendMessage", times=1, retry_after=2)
        with pytest.raises(RetryAfter, match="Retry in 2 seconds"):
            await app.bot.send_message(CHAT, "flood")
        message = await app.bot.send_message(CHAT, "fine")
        assert message.text == "fine" and message.from_user is not None and message.from_user.is_bot
    assert [c.error for c in server.rejections] == [
        'Bad Request: can\'t parse entities: Unsupported start tag "blink" at byte offset 0'
    ]

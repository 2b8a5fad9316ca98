"""A strict, local fake of the Telegram Bot API for end-to-end tests.

The real python-telegram-bot ``Application`` talks to it over HTTP on 127.0.0.1::

    server = FakeBotApi().start()
    app = (ApplicationBuilder().token(server.token)
           .base_url(server.base_url).base_file_url(server.base_file_url).build())

Requests are validated where Telegram is strict (HTML entities, text length, inline
keyboards, edits, callback answers, chat actions); rejections answer 400 with Telegram's
wording and are recorded in :attr:`FakeBotApi.rejections`. Standard library only.
"""

from __future__ import annotations

import asyncio
import copy
import email.parser
import email.policy
import json
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .html_check import EntityParseError, parse_html, strip_text, utf16_len

JSONDict = dict[str, Any]
Update = dict[str, Any]
ApiMethod = Callable[[dict[str, Any]], Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
DEFAULT_USER_ID = 1001
DEFAULT_GROUP_CHAT_ID = -1001234567890
DEFAULT_CHANNEL_ID = -1009876543210

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Update types delivered when allowed_updates is not set (or set to an empty list).
DEFAULT_UPDATE_TYPES_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "commands",
        "allowed_updates",
        "scope",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "media",
        "results",
        "reaction",
    }
)
NUMBER_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "reply_to_message_id",
        "message_thread_id",
        "max_connections",
        "user_id",
        "from_chat_id",
    }
)
BOOL_FIELDS = frozenset(
    {
        "show_alert",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "allow_paid_broadcast",
        "show_caption_above_media",
        "has_spoiler",
    }
)

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_TOKEN_FORMAT_RE = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
SERVER_ERRORS = {"500": "Internal Server Error", "502": "Bad Gateway", "503": "Service Unavailable"}
FAULTS = frozenset({"429", "reset", "drop_after", *SERVER_ERRORS})
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Call:
    """One recorded Bot API request and how the fake server answered it."""

    method: str
    params: dict[str, Any]
    ok: bool
    error: str | None
    status: int = 200
    result: Any = None
    at: float = field(default_factory=time.monotonic)  # when the server answered (time.monotonic)


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (appears as a value in :attr:`Call.params`)."""

    field: str
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass(frozen=True)
class StoredFile:
    """A file the server can hand out through ``getFile`` and the file URL."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes


class BotApiError(Exception):
    """An error answer: HTTP status plus Telegram's description."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(reason: str) -> BotApiError:
    """400 with ``Bad Request: <reason>``."""
    return BotApiError(400, f"Bad Request: {reason}")


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: FakeBotApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a killed bot) is normal here; anything else is printed as usual."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end after this
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self.server.api._handle_http(self)

    do_GET = do_POST  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the default stderr access log."""


def _read_body(req: BaseHTTPRequestHandler) -> bytes:
    if req.headers.get("Transfer-Encoding", "").lower() == "chunked":
        return _read_chunked(req)
    length = int(req.headers.get("Content-Length") or 0)
    body = req.rfile.read(length) if length > 0 else b""
    if len(body) < length:  # the client went away mid-request (a killed bot): nothing to process
        raise ValueError("truncated request body")
    return body


def _read_chunked(req: BaseHTTPRequestHandler) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int(req.rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            req.rfile.readline()
            return b"".join(chunks)
        chunks.append(req.rfile.read(size))
        req.rfile.readline()


def _send(req: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    try:
        req.send_response(status)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)
        req.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        req.close_connection = True


def _send_json(req: BaseHTTPRequestHandler, status: int, payload: JSONDict) -> None:
    _send(req, status, json.dumps(payload).encode("utf-8"), "application/json")


def _error_payload(err: BotApiError) -> JSONDict:
    payload: JSONDict = {"ok": False, "error_code": err.status, "description": err.description}
    if err.parameters:
        payload["parameters"] = err.parameters
    return payload


# --------------------------------------------------------------------------- request parsing


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Raw parameters from a form-encoded or multipart body (anything else is a 400)."""
    if not body:
        return {}
    mime = content_type.split(";")[0].strip().lower()
    if mime == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise bad_request("request body is not valid UTF-8") from exc
    if mime == "multipart/form-data":
        return _parse_multipart(content_type, body)
    raise bad_request(
        f"unsupported Content-Type {mime or 'none'!r}; use application/x-www-form-urlencoded or multipart/form-data"
    )


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise bad_request("can't parse multipart/form-data body")
    params: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise bad_request("multipart part without a name")
        payload = part.get_payload(decode=True)  # None for a nested multipart part
        if not isinstance(payload, bytes):
            payload = b""
        filename = part.get_filename()
        if filename is None:
            params[name] = payload.decode("utf-8")
        else:
            params[name] = UploadedFile(name, filename, part.get_content_type(), payload)
    return params


def _decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Turn PTB's form values (strings, JSON-in-strings) into Python objects."""
    return {key: _decode_value(key, value) for key, value in raw.items()}


def _decode_value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in JSON_FIELDS:
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            if key == "reply_markup":
                raise bad_request("can't parse reply keyboard markup JSON object") from exc
            raise bad_request(f"can't parse {key} JSON object") from exc
    if key in NUMBER_FIELDS:
        return _to_number(value)
    if key in BOOL_FIELDS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _to_number(value: str) -> int | float | str:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


# --------------------------------------------------------------------------- validation helpers


def _parse_text(text: Any, parse_mode: Any, entities: Any, *, caption: bool = False) -> tuple[str, list[JSONDict]]:
    """Apply parse_mode and Telegram's emptiness/length rules; return text and entities."""
    text = "" if text is None else str(text)
    if not text and not caption:
        raise bad_request("message text is empty")
    mode = str(parse_mode or "").lower()
    if mode == "html":
        try:
            plain, ents = parse_html(text)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from exc
    elif mode in ("", "markdown", "markdownv2"):
        plain, ents = text, list(entities) if isinstance(entities, list) else []
    else:
        raise bad_request("unsupported parse_mode")
    plain, ents = strip_text(plain, ents)
    if caption:
        if utf16_len(plain) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
    elif not plain:
        raise bad_request("message text is empty")
    elif utf16_len(plain) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return plain, ents


def _check_reply_markup(markup: Any) -> JSONDict | None:
    """Validate a decoded reply_markup; returns it unchanged (None when absent)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
    elif "keyboard" in markup:
        _check_rows(markup["keyboard"], "reply keyboard")
        for row in markup["keyboard"]:
            for button in row:
                if isinstance(button, dict) and not isinstance(button.get("text"), str):
                    raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
    elif not ({"remove_keyboard", "force_reply"} & markup.keys()):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _check_rows(rows: Any, what: str) -> None:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request(f"can't parse {what}: field must be an Array of Arrays")


def _check_inline_keyboard(rows: Any) -> None:
    _check_rows(rows, "inline keyboard")
    for row in rows:
        for button in row:
            _check_inline_button(button)


def _check_inline_button(button: Any) -> None:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    if not button["text"].strip():
        raise bad_request(prefix + "button text must be non-empty")
    if "callback_data" in button:
        data = button["callback_data"]
        size = len(data.encode("utf-8")) if isinstance(data, str) else 0
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    elif "url" in button:
        if not re.match(r"(https?|tg)://\S+$", str(button["url"])):
            raise bad_request("BUTTON_URL_INVALID")
    elif not (button.keys() - {"text"}):
        raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")


def _inline_only(markup: JSONDict | None) -> JSONDict | None:
    """Telegram echoes reply_markup in a Message only for inline keyboards."""
    return markup if markup and "inline_keyboard" in markup else None


def _canonical_scope(scope: Any) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


# --------------------------------------------------------------------------- the fake server


class FakeBotApi:
    """Local, strict Telegram Bot API: records calls and lets tests push updates."""

    def __init__(self, token: str = "123456:TEST-TOKEN", bot_username: str = "test_bot"):
        self.token = token
        self.bot_username = bot_username
        self.max_poll_timeout: float = 2.0
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._calls: list[Call] = []
        self._updates: list[Update] = []
        self._poll_generation = 0
        self._allowed_updates: list[str] | None = None
        self._webhook_url = ""
        self._counters: dict[str, int] = {"update": 0, "message": 0, "callback": 0, "file": 0}
        self._last_date = 0
        self._chats: dict[int, JSONDict] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._bot_message_keys: list[tuple[int, int]] = []
        self._callbacks: dict[str, bool] = {}  # id -> answered
        self._files: dict[str, StoredFile] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._failures: dict[str, list[tuple[str, int]]] = {}  # method -> queued (fault, retry_after)
        self._fault_rates: dict[str, list[tuple[str, float]]] = {}  # method -> (fault, probability)
        self._random = random.Random(0)
        self._retry_after = 1
        self._holds: dict[str, int] = {}  # method -> calls still let through before holding starts
        self._held = 0
        self._hold_generation = 0
        self._release_mode = ""
        self._methods: dict[str, tuple[str, ApiMethod]] = {
            name.lower(): (name, getattr(self, f"_api_{name}")) for name in self.METHODS
        }

    METHODS: tuple[str, ...] = (
        "getMe",
        "logOut",
        "close",
        "deleteWebhook",
        "setWebhook",
        "getWebhookInfo",
        "getUpdates",
        "setMyCommands",
        "getMyCommands",
        "deleteMyCommands",
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
        "answerCallbackQuery",
        "sendChatAction",
        "getFile",
        "sendDocument",
    )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeBotApi:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("FakeBotApi already started")
        self._stopping = False
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.api = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="FakeBotApi",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake long polls, stop serving and close the socket."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeBotApi is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder().base_url(...)``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``ApplicationBuilder().base_file_url(...)``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_id(self) -> int:
        head = self.token.split(":", 1)[0]
        return int(head) if head.isdigit() else 123456

    @property
    def bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Test Bot",
            "username": self.bot_username,
        }

    # ------------------------------------------------------------------ recording / inspection

    @property
    def calls(self) -> list[Call]:
        """Snapshot of every recorded API call, oldest first."""
        with self._lock:
            return list(self._calls)

    @property
    def rejections(self) -> list[Call]:
        """Calls answered with a 4xx error (simulated 429 flood errors excluded)."""
        return [c for c in self.calls if 400 <= c.status < 500 and c.status != 429]

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of one method (name case-insensitive)."""
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def sent_messages(self, chat_id: int | None = None) -> list[JSONDict]:
        """Bot messages as they are now (after edits/deletions), in sending order."""
        with self._lock:
            keys = [k for k in self._bot_message_keys if chat_id is None or k[0] == chat_id]
            return [copy.deepcopy(self._messages[k]) for k in keys if k in self._messages]

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """Current state of any stored message (bot's or user's)."""
        with self._lock:
            msg = self._messages.get((chat_id, message_id))
            return copy.deepcopy(msg) if msg else None

    @property
    def pending_update_count(self) -> int:
        """Updates pushed but not yet confirmed by a getUpdates offset."""
        with self._lock:
            return len(self._updates)

    @property
    def webhook_url(self) -> str:
        return self._webhook_url

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """Commands currently set via setMyCommands for a scope/language."""
        with self._lock:
            return copy.deepcopy(self._commands.get((_canonical_scope(scope), language_code), []))

    def fail_next(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 flood control."""
        self.inject_fault(method, "429", times, retry_after)

    def inject_fault(self, method: str, fault: str, times: int = 1, retry_after: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` fail; faults queue up in the order injected.

        ``fault`` is one of :data:`FAULTS`:

        * ``"429"``: flood control with ``retry_after`` seconds (the request is not processed);
        * ``"500"``, ``"502"``, ``"503"``: a server error (not processed);
        * ``"reset"``: the connection closes before any response (not processed);
        * ``"drop_after"``: the request **is processed** (a message is sent), then the connection
          closes without a response, as when a response is lost on the way back.

        Faulted calls are recorded with ``ok=False``; ``status`` is 0 for the two connection faults.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; use one of {sorted(FAULTS)}")
        with self._lock:
            self._failures.setdefault(method.lower(), []).extend([(fault, retry_after)] * times)

    def set_fault_rates(self, method: str, rates: dict[str, float], seed: int = 0, retry_after: int = 1) -> None:
        """Fail each call of ``method`` at random: ``{"429": 0.05, "500": 0.05, "reset": 0.02}``.

        Queued faults (:meth:`inject_fault`) come first. ``{}`` switches random faults off.
        """
        unknown = set(rates) - FAULTS
        if unknown or sum(rates.values()) > 1:
            raise ValueError(f"bad fault rates {rates!r}; faults are {sorted(FAULTS)}, summing to at most 1")
        with self._lock:
            self._fault_rates[method.lower()] = list(rates.items())
            self._random = random.Random(seed)
            self._retry_after = retry_after

    def hold(self, method: str, after: int = 0) -> None:
        """Let ``after`` more calls of ``method`` through, then hold each later one unanswered and unprocessed.

        A held call waits until :meth:`release_held`: as if Telegram were slow to answer. Use it to
        stop a bot at a known point (for example, kill it while its answers are held).
        """
        with self._cond:
            self._holds[method.lower()] = after

    @property
    def held(self) -> int:
        """Calls waiting in :meth:`hold` right now."""
        with self._lock:
            return self._held

    def release_held(self, process: bool = False) -> None:
        """Stop holding. Held calls are processed (``process=True``) or dropped unprocessed, connection closed."""
        with self._cond:
            self._holds.clear()
            self._hold_generation += 1
            self._release_mode = "process" if process else "drop"
            self._cond.notify_all()

    def _wait_if_held(self, method: str) -> bool:
        """Hold a call when asked to; False when the held call is to be dropped unprocessed."""
        with self._cond:
            remaining = self._holds.get(method.lower())
            if remaining is None:
                return True
            if remaining > 0:
                self._holds[method.lower()] = remaining - 1
                return True
            generation = self._hold_generation
            self._held += 1
            try:
                self._cond.wait_for(lambda: self._hold_generation != generation or self._stopping)
            finally:
                self._held -= 1
            return self._release_mode == "process" and not self._stopping

    @property
    def pending_faults(self) -> int:
        """Injected faults not yet used."""
        with self._lock:
            return sum(len(queue) for queue in self._failures.values())

    # ------------------------------------------------------------------ async waiting

    async def wait_for(self, predicate: Callable[[FakeBotApi], bool], timeout: float = 10.0) -> None:
        """Poll ``predicate(self)`` until true; AssertionError with a call dump on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() >= deadline:
                raise AssertionError(f"condition not met within {timeout:.1f}s\n{self.describe_recent()}")
            await asyncio.sleep(0.02)

    async def wait_for_calls(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until ``method`` was called at least ``count`` times; return those calls."""
        await self.wait_for(lambda s: len(s.calls_of(method)) >= count, timeout)
        return self.calls_of(method)

    def describe_recent(self, limit: int = 25) -> str:
        """Human readable dump of recent calls (getUpdates polls collapsed)."""
        interesting = [c for c in self.calls if c.method != "getUpdates" or not c.ok or c.result]
        lines = [f"recent calls ({len(interesting)} total, getUpdates polls omitted):"]
        for c in interesting[-limit:]:
            status = "ok" if c.ok else f"{c.status} {c.error}"
            lines.append(f"  {c.method} {_short(c.params)} -> {status}")
        lines.append(f"pending updates: {self.pending_update_count}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ pushing updates

    def register_chat(self, chat_id: int, chat_type: str = "private", **fields: Any) -> JSONDict:
        """Make a chat known so the bot may write to it (Telegram: 'chat not found' otherwise)."""
        with self._lock:
            chat = self._chats.setdefault(chat_id, {"id": chat_id, "type": chat_type})
            chat.update(fields)
            if chat_type == "private":
                chat.setdefault("first_name", "Tess")
            else:
                title = "Test Channel" if chat_type == "channel" else "Test Group"
                chat.setdefault("title", title)
            return copy.deepcopy(chat)

    def push_update(self, body: JSONDict) -> Update:
        """Queue a raw update body such as ``{"message": {...}}``; assigns the update_id."""
        with self._cond:
            self._counters["update"] += 1
            update = {"update_id": self._counters["update"], **copy.deepcopy(body)}
            self._updates.append(update)
            self._cond.notify_all()
            return copy.deepcopy(update)

    def push_message(
        self,
        text: str,
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
        first_name: str = "Tess",
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
    ) -> Update:
        """A user writes ``text`` (``/cmd`` gets a bot_command entity at offset 0)."""
        with self._lock:
            msg = self._new_user_message(user_id, chat_id, first_name, chat_type)
            msg["text"] = text
            entities = _command_entities(text)
            if entities:
                msg["entities"] = entities
            if reply_to_message_id is not None:
                msg["reply_to_message"] = self._reply_copy(msg["chat"]["id"], reply_to_message_id)
            self._store_message(msg)
            return self.push_update({"message": msg})

    def push_edited_message(
        self,
        message_id: int,
        text: str,
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
    ) -> Update:
        """The user edits one of their earlier text messages."""
        chat_id = user_id if chat_id is None else chat_id
        with self._lock:
            msg = self._messages.get((chat_id, message_id))
            if msg is None or msg.get("from", {}).get("id") != user_id:
                raise ValueError(f"no message {message_id} from user {user_id} in chat {chat_id}")
            msg["text"] = text
            msg.pop("entities", None)
            if entities := _command_entities(text):
                msg["entities"] = entities
            msg["edit_date"] = self._next_date()
            return self.push_update({"edited_message": msg})

    def push_callback(
        self,
        message_id: int,
        data: str,
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
        first_name: str = "Tess",
    ) -> Update:
        """The user presses an inline button of bot message ``message_id``."""
        chat_id = user_id if chat_id is None else chat_id
        with self._lock:
            key = (chat_id, message_id)
            if key not in self._messages or key not in self._bot_message_keys:
                raise ValueError(f"no bot message {message_id} in chat {chat_id}")
            self._counters["callback"] += 1
            query_id = str(4_000_000_000_000 + self._counters["callback"])
            self._callbacks[query_id] = False
            query = {
                "id": query_id,
                "from": _user(user_id, first_name),
                "message": copy.deepcopy(self._messages[key]),
                "chat_instance": str(abs(chat_id) * 31 + 7),
                "data": data,
            }
            return self.push_update({"callback_query": query})

    def push_document(
        self,
        file_name: str,
        content: bytes,
        mime_type: str = "text/plain",
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
        caption: str | None = None,
        first_name: str = "Tess",
        chat_type: str = "private",
    ) -> Update:
        """The user sends a file; ``getFile`` + the file URL will serve ``content``."""
        with self._lock:
            msg = self._new_user_message(user_id, chat_id, first_name, chat_type)
            stored = self._store_file(content, "documents", file_name)
            msg["document"] = {
                **_file_ids(stored),
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": len(content),
            }
            if caption is not None:
                msg["caption"] = caption
            self._store_message(msg)
            return self.push_update({"message": msg})

    def push_photo(
        self,
        content: bytes = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9",
        caption: str | None = None,
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
        width: int = 640,
        height: int = 480,
    ) -> Update:
        """The user sends a photo (a thumbnail and a full size, both served by getFile)."""
        with self._lock:
            msg = self._new_user_message(user_id, chat_id, "Tess", "private")
            sizes = []
            for scale in (8, 1):
                stored = self._store_file(content, "photos", "photo.jpg")
                sizes.append(
                    {
                        **_file_ids(stored),
                        "width": max(width // scale, 1),
                        "height": max(height // scale, 1),
                        "file_size": len(content),
                    }
                )
            msg["photo"] = sizes
            if caption is not None:
                msg["caption"] = caption
            self._store_message(msg)
            return self.push_update({"message": msg})

    def push_voice(
        self,
        content: bytes = b"OggS\x00fake-voice",
        duration: int = 2,
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
        mime_type: str = "audio/ogg",
    ) -> Update:
        """The user sends a voice note."""
        with self._lock:
            msg = self._new_user_message(user_id, chat_id, "Tess", "private")
            stored = self._store_file(content, "voice", "voice.oga")
            msg["voice"] = {
                **_file_ids(stored),
                "duration": duration,
                "mime_type": mime_type,
                "file_size": len(content),
            }
            self._store_message(msg)
            return self.push_update({"message": msg})

    def push_sticker(
        self,
        emoji: str = "\N{THUMBS UP SIGN}",
        user_id: int = DEFAULT_USER_ID,
        chat_id: int | None = None,
        set_name: str | None = "TestStickers",
    ) -> Update:
        """The user sends a (static) sticker."""
        with self._lock:
            msg = self._new_user_message(user_id, chat_id, "Tess", "private")
            stored = self._store_file(b"RIFF\x00\x00\x00\x00WEBPfake", "stickers", "sticker.webp")
            sticker: JSONDict = {
                **_file_ids(stored),
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "file_size": len(stored.content),
            }
            if set_name:
                sticker["set_name"] = set_name
            msg["sticker"] = sticker
            self._store_message(msg)
            return self.push_update({"message": msg})

    def push_channel_post(self, text: str, chat_id: int = DEFAULT_CHANNEL_ID, title: str = "Test Channel") -> Update:
        """A post in a channel where the bot is an admin (no ``from``, has ``sender_chat``)."""
        with self._lock:
            chat = self.register_chat(chat_id, "channel", title=title)
            msg: JSONDict = {
                "message_id": self._next_message_id(),
                "date": self._next_date(),
                "chat": chat,
                "sender_chat": chat,
                "text": text,
            }
            self._store_message(msg)
            return self.push_update({"channel_post": msg})

    # ------------------------------------------------------------------ internal state helpers

    def _next_message_id(self) -> int:
        self._counters["message"] += 1
        return self._counters["message"]

    def _next_date(self) -> int:
        """Strictly increasing Unix timestamps (never behind the wall clock)."""
        self._last_date = max(int(time.time()), self._last_date + 1)
        return self._last_date

    def _new_user_message(self, user_id: int, chat_id: int | None, first_name: str, chat_type: str) -> JSONDict:
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else DEFAULT_GROUP_CHAT_ID
        fields = {"first_name": first_name} if chat_type == "private" else {}
        chat = self.register_chat(chat_id, chat_type, **fields)
        return {
            "message_id": self._next_message_id(),
            "date": self._next_date(),
            "chat": chat,
            "from": _user(user_id, first_name),
        }

    def _store_message(self, msg: JSONDict, from_bot: bool = False) -> None:
        key = (msg["chat"]["id"], msg["message_id"])
        self._messages[key] = msg
        if from_bot:
            self._bot_message_keys.append(key)

    def _store_file(self, content: bytes, folder: str, name: str) -> StoredFile:
        self._counters["file"] += 1
        n = self._counters["file"]
        suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
        stored = StoredFile(
            file_id=f"FILEID{n:06d}{folder[:3].upper()}",
            file_unique_id=f"UNIQ{n:06d}",
            file_path=f"{folder}/file_{n}.{suffix}",
            content=content,
        )
        self._files[stored.file_id] = stored
        return stored

    def _reply_copy(self, chat_id: int, message_id: int) -> JSONDict:
        msg = self._messages.get((chat_id, message_id))
        if msg is None:
            raise ValueError(f"no message {message_id} in chat {chat_id}")
        reply = copy.deepcopy(msg)
        reply.pop("reply_to_message", None)
        return reply

    # ------------------------------------------------------------------ HTTP dispatch

    def _handle_http(self, req: BaseHTTPRequestHandler) -> None:
        path = urlsplit(req.path)
        try:
            body = _read_body(req)
        except (OSError, ValueError):
            req.close_connection = True
            return
        if path.path.startswith("/file/bot"):
            self._serve_file(req, path.path[len("/file/bot") :])
        elif path.path.startswith("/bot"):
            self._serve_api(req, path.path[len("/bot") :], path.query, body)
        else:
            _send_json(req, 404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def _serve_file(self, req: BaseHTTPRequestHandler, rest: str) -> None:
        token, _, file_path = rest.partition("/")
        if unquote(token) != self.token:  # PTB percent-encodes the whole path (":" -> %3A)
            _send_json(req, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        file_path = unquote(file_path)
        with self._lock:
            stored = next((f for f in self._files.values() if f.file_path == file_path), None)
        if stored is None:
            _send_json(req, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        _send(req, 200, stored.content, "application/octet-stream")

    def _serve_api(self, req: BaseHTTPRequestHandler, rest: str, query: str, body: bytes) -> None:
        token, _, method_name = unquote(rest).partition("/")
        params: dict[str, Any] = {}
        method = method_name
        try:
            method, handler = self._resolve(token, method_name)
            raw = dict(parse_qsl(query, keep_blank_values=True))
            raw.update(_parse_body(req.headers.get("Content-Type", ""), body))
            params = _decode_params(raw)
            if not self._wait_if_held(method):
                self._record(Call(method, params, False, "held, then dropped unprocessed", 0))
                req.close_connection = True
                return
            fault = self._take_fault(method)
            if fault == "reset":
                self._record(Call(method, params, False, "connection reset before a response", 0))
                req.close_connection = True
                return
            result = handler(params)
        except BotApiError as err:
            self._record(Call(method, params, False, err.description, err.status))
            _send_json(req, err.status, _error_payload(err))
            return
        if fault == "drop_after":
            self._record(
                Call(method, params, False, "processed, then the connection dropped", 0, copy.deepcopy(result))
            )
            req.close_connection = True
            return
        self._record(Call(method, params, True, None, 200, copy.deepcopy(result)))
        _send_json(req, 200, {"ok": True, "result": result})

    def _resolve(self, token: str, method_name: str) -> tuple[str, ApiMethod]:
        """Canonical method name and implementation, or 404/401 like Telegram."""
        if not _TOKEN_FORMAT_RE.fullmatch(token) or "/" in method_name:
            raise BotApiError(404, "Not Found")
        if token != self.token:
            raise BotApiError(401, "Unauthorized")
        found = self._methods.get(method_name.lower())
        if found is None:
            raise BotApiError(404, "Not Found")
        return found

    def _take_fault(self, method: str) -> str | None:
        """The next injected fault for ``method``: raised here when it is an error answer, else returned."""
        with self._lock:
            queue = self._failures.get(method.lower())
            fault: str | None
            if queue:
                fault, retry_after = queue.pop(0)
            else:
                fault, retry_after = self._random_fault(method), self._retry_after
            if fault is None:
                return None
        if fault == "429":
            raise BotApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        if fault.isdigit():
            raise BotApiError(int(fault), SERVER_ERRORS[fault])
        return fault

    def _random_fault(self, method: str) -> str | None:
        """A fault drawn from the method's fault rates, or None."""
        roll = self._random.random()
        for fault, rate in self._fault_rates.get(method.lower(), ()):
            if roll < rate:
                return fault
            roll -= rate
        return None

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    # ------------------------------------------------------------------ param helpers

    def _chat_id(self, params: dict[str, Any]) -> int:
        """The target chat, which must be known (pushed or registered)."""
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int) or chat_id not in self._chats:
            raise bad_request("chat not found")
        return chat_id

    def _target_message(self, params: dict[str, Any], what: str) -> JSONDict:
        """Resolve chat_id/message_id (or inline_message_id) to a stored message."""
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        if message_id in (None, ""):
            raise bad_request("message identifier is not specified")
        key = (chat_id, message_id)
        if not isinstance(message_id, int) or key not in self._messages:
            raise bad_request(f"message to {what} not found")
        return self._messages[key]

    def _editable_message(self, params: dict[str, Any]) -> JSONDict:
        """A stored message the bot may edit (only its own)."""
        msg = self._target_message(params, "edit")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise bad_request("message can't be edited")
        return msg

    def _reply_to(self, chat_id: int, params: dict[str, Any]) -> JSONDict | None:
        reply = params.get("reply_parameters")
        if not isinstance(reply, dict) and "reply_to_message_id" in params:
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply"),
            }
        if not isinstance(reply, dict):
            return None
        target_chat = reply.get("chat_id", chat_id)
        if (target_chat, reply.get("message_id")) in self._messages:
            return self._reply_copy(target_chat, reply["message_id"])
        if reply.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")

    def _new_bot_message(self, chat_id: int, params: dict[str, Any]) -> JSONDict:
        msg: JSONDict = {
            "message_id": self._next_message_id(),
            "from": self.bot_user,
            "chat": copy.deepcopy(self._chats[chat_id]),
            "date": self._next_date(),
        }
        if (reply := self._reply_to(chat_id, params)) is not None:
            msg["reply_to_message"] = reply
        return msg

    # ------------------------------------------------------------------ API methods

    def _api_getMe(self, params: dict[str, Any]) -> JSONDict:  # noqa: N802
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_logOut(self, params: dict[str, Any]) -> bool:  # noqa: N802
        return True

    def _api_close(self, params: dict[str, Any]) -> bool:
        return True

    def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:  # noqa: N802
        with self._cond:
            self._webhook_url = ""
            if params.get("drop_pending_updates") is True:
                self._updates.clear()
        return True

    def _api_setWebhook(self, params: dict[str, Any]) -> bool:  # noqa: N802
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        with self._cond:
            self._webhook_url = url
            if params.get("drop_pending_updates") is True:
                self._updates.clear()
            self._cond.notify_all()
        return True

    def _api_getWebhookInfo(self, params: dict[str, Any]) -> JSONDict:  # noqa: N802
        with self._lock:
            return {
                "url": self._webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def _api_getUpdates(self, params: dict[str, Any]) -> list[Update]:  # noqa: N802
        limit = params.get("limit", 100)
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        timeout = params.get("timeout", 0)
        if not isinstance(timeout, (int, float)):
            timeout = 0
        timeout = min(max(float(timeout), 0.0), self.max_poll_timeout)
        with self._cond:
            if self._webhook_url:
                raise BotApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self._set_allowed_updates(params.get("allowed_updates"))
            self._confirm(params.get("offset"))
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.wait_for(
                lambda: bool(self._deliverable()) or self._stopping or self._poll_generation != generation,
                timeout=timeout,
            )
            return copy.deepcopy(self._deliverable()[:limit])

    def _set_allowed_updates(self, allowed: Any) -> None:
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None

    def _confirm(self, offset: Any) -> None:
        """Drop updates confirmed by ``offset`` (negative: keep only the last -offset)."""
        if not isinstance(offset, int) or offset == 0:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _deliverable(self) -> list[Update]:
        """Pending updates allowed by allowed_updates (disallowed ones are discarded)."""
        self._updates = [u for u in self._updates if self._is_allowed(u)]
        return self._updates

    def _is_allowed(self, update: Update) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed_updates is None:
            return kind not in DEFAULT_UPDATE_TYPES_EXCLUDED
        return kind in self._allowed_updates

    def _api_setMyCommands(self, params: dict[str, Any]) -> bool:  # noqa: N802
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for cmd in commands:
            _check_bot_command(cmd)
        key = (_canonical_scope(params.get("scope")), str(params.get("language_code") or ""))
        with self._lock:
            self._commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    def _api_getMyCommands(self, params: dict[str, Any]) -> list[JSONDict]:  # noqa: N802
        return self.commands(params.get("scope"), str(params.get("language_code") or ""))

    def _api_deleteMyCommands(self, params: dict[str, Any]) -> bool:  # noqa: N802
        key = (_canonical_scope(params.get("scope")), str(params.get("language_code") or ""))
        with self._lock:
            self._commands.pop(key, None)
        return True

    def _api_sendMessage(self, params: dict[str, Any]) -> JSONDict:  # noqa: N802
        with self._lock:
            chat_id = self._chat_id(params)
            text, entities = _parse_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
            markup = _check_reply_markup(params.get("reply_markup"))
            msg = self._new_bot_message(chat_id, params)
            msg["text"] = text
            _set_optional(msg, "entities", entities)
            _set_optional(msg, "reply_markup", _inline_only(markup))
            self._store_message(msg, from_bot=True)
            return copy.deepcopy(msg)

    def _api_editMessageText(self, params: dict[str, Any]) -> JSONDict:  # noqa: N802
        with self._lock:
            msg = self._editable_message(params)
            if "text" not in msg:
                raise bad_request("there is no text in the message to edit")
            text, entities = _parse_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
            markup = _inline_only(_check_reply_markup(params.get("reply_markup")))
            if (text, entities, markup) == (msg["text"], msg.get("entities", []), msg.get("reply_markup")):
                raise bad_request(NOT_MODIFIED[len("Bad Request: ") :])
            msg["text"] = text
            _set_optional(msg, "entities", entities)
            _set_optional(msg, "reply_markup", markup)
            msg["edit_date"] = self._next_date()
            return copy.deepcopy(msg)

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> JSONDict:  # noqa: N802
        with self._lock:
            msg = self._editable_message(params)
            markup = _inline_only(_check_reply_markup(params.get("reply_markup")))
            if markup == msg.get("reply_markup"):
                raise bad_request(NOT_MODIFIED[len("Bad Request: ") :])
            _set_optional(msg, "reply_markup", markup)
            msg["edit_date"] = self._next_date()
            return copy.deepcopy(msg)

    def _api_deleteMessage(self, params: dict[str, Any]) -> bool:  # noqa: N802
        with self._lock:
            msg = self._target_message(params, "delete")
            del self._messages[(msg["chat"]["id"], msg["message_id"])]
        return True

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:  # noqa: N802
        query_id = str(params.get("callback_query_id") or "")
        with self._lock:
            if self._callbacks.get(query_id, True):
                raise bad_request(QUERY_INVALID[len("Bad Request: ") :])
            if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
                raise bad_request("MESSAGE_TOO_LONG")
            self._callbacks[query_id] = True
        return True

    def _api_sendChatAction(self, params: dict[str, Any]) -> bool:  # noqa: N802
        with self._lock:
            self._chat_id(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _api_getFile(self, params: dict[str, Any]) -> JSONDict:  # noqa: N802
        with self._lock:
            stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.content) > MAX_DOWNLOAD_SIZE:
            raise bad_request("file is too big")
        size = len(stored.content)
        return {**_file_ids(stored), "file_size": size, "file_path": stored.file_path}

    def _api_sendDocument(self, params: dict[str, Any]) -> JSONDict:  # noqa: N802
        with self._lock:
            chat_id = self._chat_id(params)
            document = self._document_from(params.get("document"))
            caption, caption_entities = _parse_text(
                params.get("caption"),
                params.get("parse_mode"),
                params.get("caption_entities"),
                caption=True,
            )
            markup = _check_reply_markup(params.get("reply_markup"))
            msg = self._new_bot_message(chat_id, params)
            msg["document"] = document
            _set_optional(msg, "caption", caption)
            _set_optional(msg, "caption_entities", caption_entities)
            _set_optional(msg, "reply_markup", _inline_only(markup))
            self._store_message(msg, from_bot=True)
            return copy.deepcopy(msg)

    def _document_from(self, value: Any) -> JSONDict:
        """Document dict for an uploaded file, a known file_id or a URL."""
        if isinstance(value, UploadedFile):
            if not value.content:
                raise bad_request("file must be non-empty")
            name = value.filename or "document"
            stored = self._store_file(value.content, "documents", name)
            return {
                **_file_ids(stored),
                "file_name": name,
                "mime_type": value.content_type or "application/octet-stream",
                "file_size": len(value.content),
            }
        if isinstance(value, str) and value in self._files:
            stored = self._files[value]
            return {**_file_ids(stored), "file_size": len(stored.content)}
        if isinstance(value, str) and re.match(r"https?://", value):
            stored = self._store_file(b"", "documents", value.rsplit("/", 1)[-1] or "document")
            return {**_file_ids(stored), "file_name": value.rsplit("/", 1)[-1]}
        if value in (None, ""):
            raise bad_request("there is no document in the request")
        raise bad_request("wrong remote file identifier specified: Wrong string length")


# --------------------------------------------------------------------------- small helpers


def _user(user_id: int, first_name: str) -> JSONDict:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


def _file_ids(stored: StoredFile) -> JSONDict:
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}


def _command_entities(text: str) -> list[JSONDict]:
    """Telegram marks a leading ``/command[@bot]`` with a bot_command entity."""
    m = _COMMAND_RE.match(text)
    if m is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))}]


def _check_bot_command(cmd: Any) -> None:
    if not isinstance(cmd, dict) or not isinstance(cmd.get("command"), str):
        raise bad_request("BOT_COMMAND_INVALID")
    if not _BOT_COMMAND_NAME_RE.fullmatch(cmd["command"]):
        raise bad_request("BOT_COMMAND_INVALID")
    description = cmd.get("description")
    if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")


def _set_optional(msg: JSONDict, key: str, value: Any) -> None:
    """Set ``msg[key]`` when value is truthy, otherwise remove the key."""
    if value:
        msg[key] = value
    else:
        msg.pop(key, None)


def _short(params: dict[str, Any], width: int = 160) -> str:
    shown = {k: f"<file {v.filename}>" if isinstance(v, UploadedFile) else v for k, v in params.items()}
    text = repr(shown)
    return text if len(text) <= width else text[: width - 3] + "..."

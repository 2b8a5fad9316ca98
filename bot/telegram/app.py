"""The one place that builds the Telegram Application, and the runner for long polling or a webhook.

Self-hosted Bot API server: set TELEGRAM_API_URL to its root, e.g. ``http://localhost:8081``; requests
then go to ``<root>/bot<token>/`` and files to ``<root>/file/bot<token>/``. A URL that already ends in
``/bot`` is accepted too (the file URL is derived from it). The server must not run in ``--local``
mode (uploads are downloaded over HTTP, like from api.telegram.org).

Command menus: the user commands are set for everyone; each admin additionally gets a per-chat
scope (``BotCommandScopeChat``) listing the admin commands. An admin who has never written to the
bot cannot get one yet (Telegram answers "chat not found"); that is logged and skipped.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
import threading
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, BotCommandScopeChat
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ExtBot,
    JobQueue,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.builder import index_is_current
from bot.config import Settings
from bot.engine import Engine
from bot.errors import BotError
from bot.index_store import read_manifest
from bot.questionlog import QuestionLog
from bot.store import SharedState, open_shared_state
from bot.telegram import admin, handlers
from bot.telegram.context import CONTEXT_TYPES, BotData, Context
from bot.telegram.delivery import DeliveryLimiter, describe, is_transient
from bot.telegram.inbox import DurableUpdateQueue, bot_id_of
from bot.telegram.jobs import exit_now_if_running
from bot.telegram.ordering import MAX_UPDATES_IN_FLIGHT, PerChatUpdateProcessor
from bot.telegram.state import ChatState
from bot.telegram.typing import Typing

log = logging.getLogger(__name__)

MISSING_TOKEN = "error: no Telegram bot token; set TELEGRAM_BOT_TOKEN (get one from @BotFather)"
BAD_TOKEN = "error: Telegram rejected the bot token (check TELEGRAM_BOT_TOKEN)"
NO_WEBHOOKS = "error: webhook mode needs the webhooks extra: pip install 'python-telegram-bot[webhooks]'"
REDACTED = "<bot-token>"
ALLOWED_UPDATES = ["message", "edited_message", "channel_post", "edited_channel_post", "callback_query"]
# 30 messages/s (the rate limiter) at a few hundred ms each need about ten connections. More cost CPU:
# httpcore polls every idle connection of the pool on each request.
CONNECTIONS = 16
POOL_TIMEOUT = 5.0  # seconds a request waits for a free connection (the rate limiter keeps the queue short)


class BotApplication(Application[ExtBot[None], Context, dict[Any, Any], dict[Any, Any], BotData, JobQueue[Context]]):
    """The Application, stopping quickly: on stop (SIGTERM, Ctrl-C) updates not yet started stay in the inbox for the
    next run."""

    state: SharedState | None = None
    sweeper: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        """Let the updates being handled finish, start no new one, then stop as PTB does."""
        if self.sweeper is not None:
            self.sweeper.cancel()
        if isinstance(self.update_processor, PerChatUpdateProcessor):
            self.update_processor.drain()
        await super().stop()


def api_urls(api_url: str) -> tuple[str | None, str | None]:
    """(base_url, base_file_url) for a self-hosted Bot API server root (or a '.../bot' URL); Nones for the default."""
    root = api_url.strip().rstrip("/")
    if not root:
        return None, None
    if root.endswith("/bot"):
        root = root[: -len("/bot")]
    return f"{root}/bot", f"{root}/file/bot"


def build_application(
    settings: Settings,
    engine: Engine,
    question_log: QuestionLog,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    httpx_kwargs: dict[str, Any] | None = None,
    connection_pool_size: int = CONNECTIONS,
    max_updates_in_flight: int = MAX_UPDATES_IN_FLIGHT,
) -> BotApplication:
    """The fully wired Application (handlers, rate limiter, inbox, conversation store, command menu); used by the
    CLI, webhook mode and tests."""
    if not settings.telegram_token:
        raise BotError(MISSING_TOKEN.removeprefix("error: "))
    default_base, default_files = api_urls(settings.telegram_api_url)
    state = open_shared_state(settings, bot_id_of(settings.telegram_token))
    inbox = state.inbox
    if state.conversations is not None:
        engine.conversations.use(state.conversations)
    if state.votes is not None:
        question_log.share(state.votes)
    builder = (
        ApplicationBuilder()
        .application_class(BotApplication)
        .context_types(CONTEXT_TYPES)
        .token(settings.telegram_token)
        .concurrent_updates(
            PerChatUpdateProcessor(
                max_updates_in_flight, inbox=inbox, turns=state.turns, drain_seconds=settings.drain_seconds
            )
        )
        .rate_limiter(DeliveryLimiter(shared=state.rate))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .request(
            HTTPXRequest(
                connection_pool_size=connection_pool_size, pool_timeout=POOL_TIMEOUT, httpx_kwargs=httpx_kwargs
            )
        )
        .get_updates_request(HTTPXRequest(connection_pool_size=1, httpx_kwargs=httpx_kwargs))
    )
    if base_url or default_base:
        builder = builder.base_url(base_url or default_base or "")
    if base_file_url or default_files:
        builder = builder.base_file_url(base_file_url or default_files or "")
    if inbox is not None:
        builder = builder.update_queue(DurableUpdateQueue(inbox))
    application = builder.build()
    if not isinstance(application, BotApplication):  # narrows the type; application_class above makes it so
        raise TypeError(f"expected a BotApplication, got {type(application).__name__}")
    if isinstance(application.update_processor, PerChatUpdateProcessor):
        application.update_processor.reprocess = application.process_update
    data = application.bot_data
    data.engine, data.question_log, data.settings = engine, question_log, settings
    data.chats = ChatState(engine.conversations)
    data.typing = Typing.for_bot(application.bot, httpx_kwargs)
    application.state = state
    if hasattr(state.turns, "bot"):
        state.turns.bot = application.bot  # orphans taken over from dead replicas are read with it
    add_handlers(application)
    return application


def add_handlers(application: BotApplication) -> None:
    """Register every handler; the first matching handler wins, so the order matters."""
    application.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POSTS, handlers.ignore))
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, handlers.edited))
    application.add_handler(CommandHandler("start", handlers.start))
    application.add_handler(CommandHandler("help", handlers.help_command))
    application.add_handler(CommandHandler("sources", handlers.sources))
    application.add_handler(CommandHandler("reset", handlers.reset))
    application.add_handler(CommandHandler("ask", handlers.ask))
    application.add_handler(CommandHandler("reindex", admin.reindex))
    application.add_handler(CommandHandler("articles", admin.articles))
    application.add_handler(CommandHandler("remove", admin.remove))
    application.add_handler(CommandHandler("stats", admin.stats))
    application.add_handler(MessageHandler(filters.COMMAND, handlers.unknown))
    application.add_handler(MessageHandler(filters.Document.ALL, admin.document))
    application.add_handler(MessageHandler(filters.TEXT, handlers.text_message))
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE, handlers.not_text))
    application.add_handler(CallbackQueryHandler(handlers.more, pattern=r"^more:[\w-]{1,16}$"))
    application.add_handler(CallbackQueryHandler(handlers.feedback, pattern=r"^fb:\d{1,18}:[+-]$"))
    application.add_handler(CallbackQueryHandler(admin.confirm_remove, pattern=r"^rm:[\w-]{1,16}:[yn]$"))
    application.add_handler(CallbackQueryHandler(handlers.stale_button))
    application.add_error_handler(handlers.on_error)


def bot_commands(commands: tuple[tuple[str, str], ...]) -> list[BotCommand]:
    """BotCommand objects for (name, description) pairs."""
    return [BotCommand(name, description) for name, description in commands]


async def post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Serve the index (a stale one is rebuilt in the background), queue what an earlier run left unfinished, publish
    the command menus."""
    if not isinstance(application, BotApplication):  # narrows the type; build_application's application_class does it
        raise TypeError(f"expected a BotApplication, got {type(application).__name__}")
    await asyncio.to_thread(serve_now_rebuild_later, application.bot_data.engine)
    replay_unfinished(application)
    if application.state is not None and hasattr(application.state.inbox, "orphans"):
        application.sweeper = asyncio.get_running_loop().create_task(sweep_orphans(application))
    try:
        await application.bot.set_my_commands(bot_commands(handlers.USER_COMMANDS))
    except TelegramError as exc:  # the menu is a convenience: the bot works without it
        log.warning("could not publish the command menu: %s", describe(exc))
        return
    everything = bot_commands(handlers.USER_COMMANDS + handlers.ADMIN_COMMANDS)
    for admin_id in sorted(application.bot_data.settings.admin_ids):
        try:
            await application.bot.set_my_commands(everything, scope=BotCommandScopeChat(admin_id))
        except TelegramError as exc:
            log.warning("could not set the admin command menu for user %s: %s", admin_id, exc)


async def post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Close the "typing…" connections and the shared state (a replica's heartbeat stops: the others take over)."""
    if not isinstance(application, BotApplication):
        raise TypeError(f"expected a BotApplication, got {type(application).__name__}")
    await application.bot_data.typing.close()
    if application.state is not None and application.state.inbox is not None:
        application.state.inbox.close()


SWEEP_EVERY = 1.0  # seconds between looks for updates left unfinished by a dead replica


async def sweep_orphans(application: BotApplication) -> None:
    """With Redis: now and then, take over the unfinished updates of replicas that died, and queue them."""
    inbox = application.state.inbox if application.state is not None else None
    queue = application.update_queue
    if inbox is None or not isinstance(queue, DurableUpdateQueue):
        return
    while True:
        await asyncio.sleep(SWEEP_EVERY)
        try:
            orphans = await asyncio.to_thread(inbox.orphans, application.bot)  # type: ignore[attr-defined]
        except Exception as exc:  # Redis down: try again at the next sweep
            log.warning("could not look for unfinished updates of stopped replicas: %s", exc)
            continue
        if orphans:
            log.info("handling %d update(s) left unfinished by a stopped replica", len(orphans))
            queue.replay(orphans)


def serve_now_rebuild_later(engine: Engine) -> threading.Thread | None:
    """Serve the last good build at once; when it is stale (e.g. a kill during /reindex), rebuild in the background.

    Only a missing or unreadable index is built before answering: there is nothing to serve then.
    Returns the rebuilding thread, if one was started.
    """
    settings = engine.settings
    try:
        read_manifest(settings.index_dir)
        engine.live.reload()
    except BotError:
        engine.snapshot()  # builds (or falls back to the previous build) as the CLI does; raises if it cannot
        return None
    if index_is_current(settings):
        return None
    log.warning("the index is older than the articles or settings: answering from it while it is rebuilt")
    thread = threading.Thread(target=rebuild_in_background, args=(engine,), name="rebuild", daemon=True)
    thread.start()
    return thread


def rebuild_in_background(engine: Engine) -> None:
    """Rebuild a stale index and serve the new build (the old one keeps serving if that fails)."""
    try:
        if engine.live.rebuild_if_needed() is not None:
            engine.live.reload()
    except BotError as exc:
        log.error("the background rebuild failed (%s); still answering from the previous build", exc)


def replay_unfinished(application: BotApplication) -> None:
    """Queue what the inbox holds from an earlier run (handled before anything polled now, in the original order)."""
    queue = application.update_queue
    if not isinstance(queue, DurableUpdateQueue):
        return
    updates = queue.inbox.pending(application.bot)
    if updates:
        log.info("handling %d update(s) received before the last stop", len(updates))
        queue.replay(updates)


# ----- running -----------------------------------------------------------------------------
class RedactToken(logging.Filter):
    """Replace the bot token in every log record (message, arguments and traceback)."""

    def __init__(self, token: str) -> None:
        """Redact `token`."""
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        if not self.token:
            return True
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, REDACTED), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, REDACTED)
        return True


class OneLineNetworkErrors(logging.Filter):
    """PTB logs a failed start-up step with a full traceback; for a network fault one line says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Fold a transient Bot API error into the message and drop its traceback; never drop the record."""
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and (is_transient(error) or isinstance(error, RetryAfter)):
            record.msg, record.args = f"{record.getMessage()} ({describe(error)})", None
            record.exc_info, record.exc_text = None, None
        return True


PTB_LOGGERS = (
    "telegram.ext",
    "telegram.ext.Application",
    "telegram.ext.Updater",
    "telegram.ext.ExtBot",
    "telegram.Bot",
)


def protect_logs(token: str) -> RedactToken:
    """Quiet httpx (it logs URLs, which contain the token), redact the token on every root handler, one-line PTB's
    network errors."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in PTB_LOGGERS:
        ptb = logging.getLogger(name)
        if not any(isinstance(f, OneLineNetworkErrors) for f in ptb.filters):
            ptb.addFilter(OneLineNetworkErrors())
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redactor = RedactToken(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    return redactor


def run_telegram(
    settings: Settings, *, webhook_url: str | None, listen: str, port: int, secret_token: str | None
) -> int:
    """Run the bot until stopped: long polling, or a webhook server when webhook_url is given. Returns an exit code."""
    if not settings.telegram_token:
        print(MISSING_TOKEN, file=sys.stderr)
        return 2
    if webhook_url and importlib.util.find_spec("tornado") is None:
        print(NO_WEBHOOKS, file=sys.stderr)
        return 2
    protect_logs(settings.telegram_token)
    engine = Engine(settings)
    application = build_application(settings, engine, QuestionLog.default(settings))
    asyncio.set_event_loop(asyncio.new_event_loop())  # PTB runs (and closes) the current loop
    try:
        run_application(application, webhook_url, listen, port, secret_token)
    except InvalidToken:
        print(BAD_TOKEN, file=sys.stderr)
        return 2
    except (NetworkError, RetryAfter) as exc:
        if not is_transient(exc) and not isinstance(exc, RetryAfter):
            print(f"error: Telegram refused to start the bot: {describe(exc)}", file=sys.stderr)
            return 1
        where = urlsplit(settings.telegram_api_url).netloc or "api.telegram.org"
        print(
            f"error: cannot reach the Telegram Bot API at {where} (gave up after retries): {describe(exc)}",
            file=sys.stderr,
        )
        return 1
    except TelegramError as exc:
        print(f"error: Telegram refused to start the bot: {describe(exc)}", file=sys.stderr)
        return 1
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        asyncio.set_event_loop(None)
    exit_now_if_running(0)
    return 0


def run_application(
    application: BotApplication, webhook_url: str | None, listen: str, port: int, secret_token: str | None
) -> None:
    """Block in long polling, or in a webhook server whose path is the path of webhook_url."""
    if not webhook_url:
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
        return
    application.run_webhook(
        listen=listen,
        port=port,
        url_path=urlsplit(webhook_url).path.lstrip("/"),
        webhook_url=webhook_url,
        secret_token=secret_token,
        allowed_updates=ALLOWED_UPDATES,
    )

"""Admin handlers: /reindex, /articles, /remove with confirmation, /stats and article uploads.

Only user ids in settings.admin_ids may use them. Anyone else gets exactly the unknown-command reply
(so the commands are not advertised), and the attempt is logged with the user id. Documents from
non-admins in private chats get a polite "only admins can add articles"; in groups documents are ignored.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot.errors import BotError
from bot.library import add_article, list_articles, remove_article, upload_problem
from bot.questionlog import QuestionLogError
from bot.telegram import render
from bot.telegram.context import Context
from bot.telegram.handlers import answer_callback, unknown
from bot.telegram.incoming import command_argument, is_admin, is_group
from bot.telegram.jobs import in_daemon_thread
from bot.telegram.sending import edit_html, reply_html

log = logging.getLogger(__name__)

Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]
ONLY_ADMINS = "Only admins can add articles. I answer text questions: just type one."
STATS_USAGE = "Usage: /stats [days|all], for example /stats 30"
STATS_DAYS = re.compile(r"[0-9]{1,5}")  # ASCII digits only: "²".isdigit() is True, but int("²") fails
REMOVE_USAGE = "Usage: /remove NAME (the file name as shown by /articles)"


def admin_only(handler: Handler) -> Handler:
    """Run `handler` for admins; answer anyone else like an unknown command and log the attempt."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        """The admin check in front of the handler."""
        if is_admin(update, context):
            await handler(update, context)
            return
        user = update.effective_user
        log.warning("user %s is not an admin and tried %s", user.id if user else "?", handler.__name__)
        await unknown(update, context)

    return guarded


@admin_only
async def reindex(update: Update, context: Context) -> None:
    """Rebuild the index in a thread and report what changed (or why it failed)."""
    status = await reply_html(update, context.bot, render.plain("⏳ Re-indexing…"))
    try:
        report = await in_daemon_thread(context.bot_data.engine.rebuild, "reindex")
        result = render.plain("✅ " + report.summary())
    except BotError as exc:
        result = render.plain(f"❌ Re-indexing failed: {exc}\nThe previous index is still in use.")
    await finish(update, context, status, result)


@admin_only
async def articles(update: Update, context: Context) -> None:
    """List the indexed articles with their passage counts, and how far the passage vectors' encoding got."""
    engine = context.bot_data.engine
    rows = await asyncio.to_thread(list_articles, engine)
    status = await asyncio.to_thread(engine.live.vector_status)
    await reply_html(update, context.bot, render.article_list(rows, status.describe() if status else ""))


@admin_only
async def stats(update: Update, context: Context) -> None:
    """Question statistics for the last N days (default 7; 'all' for all time)."""
    argument = command_argument(update.effective_message.text if update.effective_message else None).lower()
    if argument and argument != "all" and not STATS_DAYS.fullmatch(argument):
        await reply_html(update, context.bot, render.plain(STATS_USAGE))
        return
    days = int(argument) if argument and argument != "all" else (None if argument else 7)
    try:
        report = await asyncio.to_thread(context.bot_data.question_log.stats, days or None)
    except QuestionLogError as exc:
        await reply_html(update, context.bot, render.plain(f"❌ No statistics: {exc}"))
        return
    await reply_html(update, context.bot, render.preformatted(report.format()))


@admin_only
async def remove(update: Update, context: Context) -> None:
    """Ask for confirmation (Yes/No buttons) before removing an article."""
    name = command_argument(update.effective_message.text if update.effective_message else None)
    if not name:
        await reply_html(update, context.bot, render.plain(REMOVE_USAGE))
        return
    rows = await asyncio.to_thread(list_articles, context.bot_data.engine)
    match = next((row for row in rows if row[0] == name), None)
    if match is None:
        await reply_html(
            update, context.bot, render.plain(f"There is no article named {name!r}. Send /articles for the list.")
        )
        return
    if update.effective_chat is None:
        return
    token = context.bot_data.chats.keep_removal(update.effective_chat.id, name)
    buttons = [
        InlineKeyboardButton("Yes, remove it", callback_data=render.callback_data("rm", token, "y")),
        InlineKeyboardButton("No, keep it", callback_data=render.callback_data("rm", token, "n")),
    ]
    question = (
        render.plain("Remove ") + render.bold(name) + render.plain(f" ({match[1]}, {match[2]} passages) and re-index?")
    )
    await reply_html(update, context.bot, question, InlineKeyboardMarkup([buttons]))


async def confirm_remove(update: Update, context: Context) -> None:
    """The Yes/No answer to a /remove confirmation (`rm:<token>:<y|n>`)."""
    query = update.callback_query
    if query is None or query.data is None or update.effective_chat is None:
        return
    if not is_admin(update, context):
        log.warning(
            "user %s is not an admin and pressed a remove button",
            update.effective_user.id if update.effective_user else "?",
        )
        await answer_callback(query, "Only admins can do that.")
        return
    _, token, choice = query.data.split(":")
    name = context.bot_data.chats.take_removal(update.effective_chat.id, token)
    if name is None:
        await answer_callback(query, "This confirmation has expired. Send /remove again.")
        return
    await answer_callback(query, "Removing…" if choice == "y" else "Kept.")
    message = query.message if isinstance(query.message, Message) else None
    if choice != "y":
        await finish(update, context, message, render.plain("Kept ") + render.bold(name) + ".")
        return
    try:
        report = await in_daemon_thread(lambda: remove_article(context.bot_data.engine, name), "remove")
        result = render.plain("🗑 Removed ") + render.bold(name) + render.plain(".\n" + report.summary())
    except BotError as exc:
        result = render.plain(f"❌ Could not remove {name}: {exc}")
    await finish(update, context, message, result)


async def document(update: Update, context: Context) -> None:
    """An uploaded .txt/.md/.html file becomes (or replaces) an article; admins only, private chats only."""
    message = update.effective_message
    if message is None or message.document is None or is_group(update):
        return
    if not is_admin(update, context):
        log.warning(
            "user %s is not an admin and sent a document", update.effective_user.id if update.effective_user else "?"
        )
        await reply_html(update, context.bot, render.plain(ONLY_ADMINS))
        return
    file_name = message.document.file_name or "upload.txt"
    problem = upload_problem(file_name, message.document.file_size, context.bot_data.settings.max_article_bytes)
    if problem:
        await reply_html(update, context.bot, render.plain(f"❌ Not added: {problem}"))
        return
    status = await reply_html(update, context.bot, render.plain(f"⏳ Adding {file_name}…"))
    try:
        data = bytes(await (await message.document.get_file()).download_as_bytearray())
    except TelegramError as exc:
        log.warning("could not download %s: %s", file_name, exc)
        await finish(
            update, context, status, render.plain(f"❌ Not added: could not download {file_name} ({exc.message}).")
        )
        return
    await finish(update, context, status, await added(context, file_name, data))


async def added(context: Context, file_name: str, data: bytes) -> render.Rich:
    """Add the article in a thread; describe the result or exactly why it was rejected."""
    try:
        result = await in_daemon_thread(lambda: add_article(context.bot_data.engine, file_name, data), "upload")
    except BotError as exc:
        return render.plain(f"❌ Not added: {exc}\nThe previous articles are still being served.")
    verb = "Replaced" if result.replaced else "Added"
    return (
        render.plain(f"✅ {verb} ")
        + render.bold(result.name)
        + render.plain(f": {result.passages} passages.\n" + result.report.summary())
    )


async def finish(update: Update, context: Context, status: Message | None, result: render.Rich) -> None:
    """Show the outcome in place of a status message (or as a new message when there is none)."""
    if status is None:
        await reply_html(update, context.bot, result)
    else:
        await edit_html(status, context.bot, result)

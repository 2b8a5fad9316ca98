"""What every handler shares: typed access to bot_data, the admin check, sending split HTML, short-lived state."""

from __future__ import annotations

import logging
from typing import TypeVar, cast

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from bot.config import Settings
from bot.engine import Engine
from bot.questionlog import QuestionLog
from bot.telegram.render import Rich, to_messages
from bot.telegram.state import ChatState

log = logging.getLogger(__name__)

ENGINE = "engine"
QUESTION_LOG = "question_log"
SETTINGS = "settings"
CHAT_STATE = "chat_state"
UNKNOWN_COMMAND = "Sorry, I don't know that command. Send /help to see what I can do."
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

Context = ContextTypes.DEFAULT_TYPE
T = TypeVar("T")


def engine_of(context: Context) -> Engine:
    """The answering engine."""
    return cast(Engine, context.bot_data[ENGINE])


def question_log_of(context: Context) -> QuestionLog:
    """The question and feedback log."""
    return cast(QuestionLog, context.bot_data[QUESTION_LOG])


def settings_of(context: Context) -> Settings:
    """The bot's settings."""
    return cast(Settings, context.bot_data[SETTINGS])


def is_admin(update: Update, context: Context) -> bool:
    """True when the user behind the update is listed in settings.admin_ids."""
    user = update.effective_user
    return user is not None and user.id in settings_of(context).admin_ids


def is_group(update: Update) -> bool:
    """True for group and supergroup chats."""
    chat = update.effective_chat
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def command_argument(text: str | None) -> str:
    """Everything after '/command[@bot]', as typed (line breaks kept)."""
    parts = (text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def first_word(text: str | None) -> str:
    """The first whitespace-separated word ('' for empty text)."""
    words = (text or "").split(maxsplit=1)
    return words[0] if words else ""


def addressed_to_other_bot(text: str | None, bot: Bot) -> bool:
    """True for '/cmd@some_other_bot'."""
    _, at, name = first_word(text).partition("@")
    return bool(at) and name.lower() != (bot.username or "").lower()


async def send_html(
    bot: Bot,
    chat_id: int,
    rich: Rich,
    *,
    markup: InlineKeyboardMarkup | None = None,
    reply_to: int | None = None,
) -> Message | None:
    """Send `rich` as one or more HTML messages; the keyboard goes on the last one."""
    chunks = to_messages(rich)
    sent: Message | None = None
    for n, chunk in enumerate(chunks):
        last = n == len(chunks) - 1
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to and n == 0 else None
        sent = await bot.send_message(
            chat_id,
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if last else None,
            reply_parameters=reply,
            link_preview_options=NO_PREVIEW,
        )
    return sent


async def reply_html(update: Update, context: Context, rich: Rich, markup: InlineKeyboardMarkup | None = None) -> Message | None:
    """Answer the update's chat; in groups as a reply to the triggering message."""
    chat = update.effective_chat
    if chat is None:
        return None
    message = update.effective_message
    reply_to = message.message_id if message is not None and is_group(update) else None
    return await send_html(context.bot, chat.id, rich, markup=markup, reply_to=reply_to)


async def edit_html(message: Message, context: Context, rich: Rich) -> None:
    """Replace a status message's text with `rich` (extra chunks follow as new messages)."""
    chunks = to_messages(rich)
    await message.edit_text(chunks[0], parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)
    for chunk in chunks[1:]:
        await context.bot.send_message(message.chat_id, chunk, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)


def chat_state(context: Context) -> ChatState:
    """The bounded per-chat state (More pages, pending confirmations), created on first use."""
    state = context.bot_data.get(CHAT_STATE)
    if not isinstance(state, ChatState):
        state = context.bot_data[CHAT_STATE] = ChatState(settings_of(context).context_ttl_seconds)
    return state


def remember(update: Update, context: Context, kind: str, value: object) -> str | None:
    """Store `value` for the update's chat under a new short token (None when there is no chat)."""
    chat = update.effective_chat
    return chat_state(context).put(chat.id, kind, value) if chat is not None else None


def recall(update: Update, context: Context, kind: str, token: str, cls: type[T]) -> T | None:
    """The value stored for the update's chat under `token`, or None when it is unknown (expired, capped out, or lost in a restart)."""
    chat = update.effective_chat
    value = chat_state(context).get(chat.id, kind, token) if chat is not None else None
    return value if isinstance(value, cls) else None


def forget(update: Update, context: Context, kind: str, token: str) -> None:
    """Drop a stored value."""
    if update.effective_chat is not None:
        chat_state(context).drop(update.effective_chat.id, kind, token)


def forget_chat(update: Update, context: Context) -> None:
    """Drop everything stored for the update's chat."""
    if update.effective_chat is not None:
        chat_state(context).clear(update.effective_chat.id)

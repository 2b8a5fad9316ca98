"""Reading an incoming update: who sent it, where, and what the command's argument is."""

from __future__ import annotations

from telegram import Bot, Update
from telegram.constants import ChatType

from bot.telegram.context import Context


def is_admin(update: Update, context: Context) -> bool:
    """True when the user behind the update is listed in settings.admin_ids."""
    user = update.effective_user
    return user is not None and user.id in context.bot_data.settings.admin_ids


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

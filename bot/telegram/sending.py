"""Sending rendered text: split into messages of at most 4096 characters, HTML, no link previews."""

from __future__ import annotations

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ParseMode

from bot.telegram.incoming import is_group
from bot.telegram.render import Rich, to_messages

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


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


async def reply_html(
    update: Update, bot: Bot, rich: Rich, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Answer the update's chat; in groups as a reply to the triggering message."""
    chat = update.effective_chat
    if chat is None:
        return None
    message = update.effective_message
    reply_to = message.message_id if message is not None and is_group(update) else None
    return await send_html(bot, chat.id, rich, markup=markup, reply_to=reply_to)


async def edit_html(message: Message, bot: Bot, rich: Rich) -> None:
    """Replace a status message's text with `rich` (extra chunks follow as new messages)."""
    chunks = to_messages(rich)
    await message.edit_text(chunks[0], parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)
    for chunk in chunks[1:]:
        await bot.send_message(message.chat_id, chunk, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)

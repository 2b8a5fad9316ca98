"""User-facing handlers: commands, questions, paging with More, feedback, other kinds of messages, errors."""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import RetryAfter, TelegramError

from bot.answers import Answer
from bot.questionlog import QuestionLogError
from bot.telegram import render
from bot.telegram.context import BotData, Context
from bot.telegram.delivery import describe, is_transient
from bot.telegram.incoming import addressed_to_other_bot, command_argument, first_word, is_admin, is_group
from bot.telegram.ordering import PerChatUpdateProcessor
from bot.telegram.sending import reply_html, send_html
from bot.telegram.state import Pages

log = logging.getLogger(__name__)

UNKNOWN_COMMAND = "Sorry, I don't know that command. Send /help to see what I can do."
USER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Welcome and example questions"),
    ("help", "How to ask, and all commands"),
    ("ask", "Ask a question (handy in groups): /ask <question>"),
    ("sources", "The articles and sections I answer from"),
    ("reset", "Forget our conversation so far"),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("reindex", "Rebuild the search index from the articles"),
    ("articles", "List the articles with passage counts"),
    ("remove", "Remove an article: /remove NAME"),
    ("stats", "Question statistics: /stats [days|all]"),
)
ASK_USAGE = "Usage: /ask <question>, for example:\n/ask {example}"
EXPIRED = "Sorry, that answer is no longer available. Please ask again."
NOTHING_MORE = "That's everything I found."
STALE_BUTTON = "This button no longer works. Please ask again."
TEXT_ONLY = "I answer text questions. Please type your question in words."
EDITED = "I only read new messages. Please send the corrected question again."
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
FEEDBACK_FAILED = "Sorry, I couldn't save that just now."
FORGOTTEN = (
    "Okay, I've forgotten our conversation: your next question starts fresh, and older More buttons stop working. "
    "Ask me anything."
)


# ----- commands ----------------------------------------------------------------------------
async def start(update: Update, context: Context) -> None:
    """Greet and suggest three example questions built from the indexed sections."""
    examples = await asyncio.to_thread(context.bot_data.engine.examples, 3)
    name = update.effective_user.first_name if update.effective_user else ""
    await reply_html(update, context.bot, render.welcome(name, examples))


async def help_command(update: Update, context: Context) -> None:
    """Explain how to ask and list the commands (admin commands only to admins)."""
    admin = ADMIN_COMMANDS if is_admin(update, context) else ()
    await reply_html(update, context.bot, render.help_text(USER_COMMANDS, admin))


async def sources(update: Update, context: Context) -> None:
    """List the articles and their sections."""
    sections = await asyncio.to_thread(context.bot_data.engine.sections)
    await reply_html(update, context.bot, render.sources(sections))


async def reset(update: Update, context: Context) -> None:
    """Forget the chat's conversation context."""
    if update.effective_chat is not None:
        context.bot_data.chats.forget(update.effective_chat.id)  # the context too: it lives in the same store
    await reply_html(update, context.bot, render.plain(FORGOTTEN))


async def ask(update: Update, context: Context) -> None:
    """/ask <question>; without a question, explain the usage."""
    message = update.effective_message
    question = command_argument(message.text if message else None)
    if question:
        await answer_question(update, context, question)
        return
    examples = await asyncio.to_thread(context.bot_data.engine.examples, 1)
    example = examples[0] if examples else "What is this about?"
    await reply_html(update, context.bot, render.plain(ASK_USAGE.format(example=example)))


async def unknown(update: Update, context: Context) -> None:
    """Any command the bot does not know (in groups only when it is addressed to this bot)."""
    message = update.effective_message
    text = message.text if message else None
    if addressed_to_other_bot(text, context.bot):
        return
    if is_group(update) and "@" not in first_word(text):
        return  # a bare /command in a group may be meant for another bot
    await reply_html(update, context.bot, render.plain(UNKNOWN_COMMAND))


# ----- questions ---------------------------------------------------------------------------
async def text_message(update: Update, context: Context) -> None:
    """Plain text is a question in private chats; in groups only when it replies to or mentions the bot."""
    message = update.effective_message
    if message is None or not message.text:
        return
    question = message.text
    if is_group(update):
        addressed = addressed_question(message, context.bot)
        if addressed is None:
            return
        question = addressed
    await answer_question(update, context, question)


def addressed_question(message: Message, bot: Bot) -> str | None:
    """The question in a group message meant for the bot (mention removed), or None."""
    text = message.text or ""
    mention = f"@{bot.username}".lower() if bot.username else ""
    if mention and mention in text.lower():
        start = text.lower().index(mention)
        return (text[:start] + text[start + len(mention) :]).strip()
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return text
    return None


async def answer_question(update: Update, context: Context, question: str) -> None:
    """Answer in one worker thread (search, log, keep the pages, render), then reply with the first page."""
    chat = update.effective_chat
    if chat is None:
        return
    context.bot_data.typing.show(chat.id)
    rich, markup = await asyncio.to_thread(compose_answer, context.bot_data, chat.id, turn_of(update), question)
    await reply_html(update, context.bot, rich, markup)


def compose_answer(
    data: BotData, chat_id: int, turn: str, question: str
) -> tuple[render.Rich, InlineKeyboardMarkup | None]:
    """The first page of the answer and its buttons. Blocking: runs in a worker thread, off the event loop."""
    data.engine.conversations.checkpoint(chat_id, turn)  # a replay or a retry reads the same context
    answer = data.engine.answer(question, chat_id)
    question_id = record_question(data, chat_id, answer)
    if not answer.results:
        topics = data.engine.topics(3) if answer.query else []
        return render.no_answer(answer, topics), None
    size = data.settings.top_k
    pages = Pages(answer, min(size, len(answer.results)), question_id)
    token = data.chats.keep_pages(chat_id, pages) if pages.shown < len(answer.results) else None
    return render.answer_page(answer, 0, size), answer_keyboard(token, question_id)


def turn_of(update: Update) -> str:
    """The update as a conversation turn: its id and its message's (Telegram may restart update ids)."""
    message = update.effective_message
    return f"{update.update_id}:{message.message_id if message is not None else ''}"


def record_question(data: BotData, chat_id: int, answer: Answer) -> int:
    """Log a real question (not an empty one); return its id, or 0 when not logged."""
    if not answer.query:
        return 0
    top = answer.results[0].heading if answer.results else ""
    try:
        return data.question_log.record_question(chat_id, answer.question, bool(answer.results), top)
    except QuestionLogError as exc:  # the answer matters more than the log: send it without feedback buttons
        log.warning("question not logged: %s", exc)
        return 0


def answer_keyboard(more_token: str | None, question_id: int) -> InlineKeyboardMarkup | None:
    """[More ▸] [👍] [👎] as far as they apply."""
    row: list[InlineKeyboardButton] = []
    if more_token:
        row.append(InlineKeyboardButton("More ▸", callback_data=render.callback_data("more", more_token)))
    if question_id:
        row.append(InlineKeyboardButton("👍", callback_data=render.callback_data("fb", question_id, "+")))
        row.append(InlineKeyboardButton("👎", callback_data=render.callback_data("fb", question_id, "-")))
    return InlineKeyboardMarkup([row]) if row else None


# ----- buttons -----------------------------------------------------------------------------
async def more(update: Update, context: Context) -> None:
    """Send the next page of an answer as a new message; the pressed message loses its More button."""
    query = update.callback_query
    if query is None or query.data is None or update.effective_chat is None:
        return
    chat_id = update.effective_chat.id
    chats = context.bot_data.chats
    token = query.data.split(":", 1)[1]
    pages = chats.pages(chat_id, token)
    if pages is None or pages.shown >= len(pages.answer.results):
        await answer_callback(query, EXPIRED if pages is None else NOTHING_MORE)
        return
    start = pages.shown
    size = context.bot_data.settings.top_k
    end = min(start + size, len(pages.answer.results))
    await answer_callback(query)
    more_token = token if end < len(pages.answer.results) else None
    markup = answer_keyboard(more_token, pages.question_id)
    await send_html(context.bot, chat_id, render.answer_page(pages.answer, start, size), markup=markup)
    pages.shown = end  # only once the page is out, so a failed send leaves More working
    if more_token is None:
        chats.drop_pages(chat_id, token)
    else:
        chats.update_pages(chat_id, token, pages)
    await drop_more_button(query.message, pages.question_id)


async def answer_callback(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a pressed button (stops its spinner); a failure is only logged, as the reply matters more."""
    try:
        await query.answer(text)
    except TelegramError as exc:
        log.info("could not answer button press %s: %s", query.id, describe(exc))


async def drop_more_button(message: object, question_id: int) -> None:
    """Leave only the feedback buttons on a message whose More was used."""
    if not isinstance(message, Message):
        return
    try:
        await message.edit_reply_markup(answer_keyboard(None, question_id))
    except TelegramError as exc:  # e.g. the message was deleted, or Telegram kept failing: the page was sent anyway
        log.info("could not update the buttons of message %s: %s", message.message_id, describe(exc))


async def feedback(update: Update, context: Context) -> None:
    """Record 👍 / 👎 for the answer to question `fb:<id>:<+|->`."""
    query = update.callback_query
    if query is None or query.data is None or update.effective_chat is None:
        return
    _, question_id, sign = query.data.split(":")
    value = 1 if sign == "+" else -1
    try:
        known = await asyncio.to_thread(
            context.bot_data.question_log.record_feedback, int(question_id), update.effective_chat.id, value
        )
    except QuestionLogError as exc:
        log.warning("feedback not logged: %s", exc)
        await answer_callback(query, FEEDBACK_FAILED)
        return
    await answer_callback(query, "Thanks for the feedback!" if known else EXPIRED)


async def stale_button(update: Update, context: Context) -> None:
    """A button whose data this version does not understand."""
    if update.callback_query is not None:
        await answer_callback(update.callback_query, STALE_BUTTON)


# ----- everything else ---------------------------------------------------------------------
async def not_text(update: Update, context: Context) -> None:
    """Stickers, photos, voice notes...: in private chats say what the bot can do; in groups stay quiet."""
    if not is_group(update):
        await reply_html(update, context.bot, render.plain(TEXT_ONLY))


async def edited(update: Update, context: Context) -> None:
    """An edited message is not answered again; in private chats say so."""
    if not is_group(update):
        await reply_html(update, context.bot, render.plain(EDITED))


async def ignore(update: Update, context: Context) -> None:
    """Channel posts and the like: nothing to do."""
    log.debug("ignoring update %s", update.update_id)


async def on_error(update: object, context: Context) -> None:
    """Log the exception; tell the user something went wrong (never a traceback).

    A Bot API fault that outlasted the retries (network, 5xx, flood control) gets no apology: the
    apology would meet the same fault, or follow an answer that did arrive but whose response was lost.
    """
    if context.error is not None and (is_transient(context.error) or isinstance(context.error, RetryAfter)):
        if not isinstance(update, Update):
            log.error("Telegram kept failing while polling for updates: %s", describe(context.error))
            return
        processor = context.application.update_processor
        if isinstance(processor, PerChatUpdateProcessor):
            processor.retry_later(update.update_id)  # handled again shortly: the question is not lost
        log.warning("Telegram kept failing while handling update %s: %s", update.update_id, describe(context.error))
        return
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None or update.channel_post is not None:
        return
    if update.callback_query is not None and await apologise_in_callback(update.callback_query):
        return
    try:
        await context.bot.send_message(update.effective_chat.id, SORRY)
    except TelegramError as exc:
        log.warning("could not tell the user about the error: %s", exc)


async def apologise_in_callback(query: CallbackQuery) -> bool:
    """Answer a pressed button with the apology; False when it was already answered."""
    try:
        await query.answer(SORRY)
    except TelegramError:
        return False
    return True

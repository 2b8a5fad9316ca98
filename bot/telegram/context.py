"""Typed access to what every handler shares: PTB's `ContextTypes` with a `BotData` class instead of string keys."""

from __future__ import annotations

from typing import Any

from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.config import Settings
from bot.engine import Engine
from bot.questionlog import QuestionLog
from bot.telegram.state import ChatState
from bot.telegram.typing import Typing


class BotData:
    """`context.bot_data`: the engine, the question log, the settings, the chats' state and "typing…".

    Set once by `build_application`.
    """

    engine: Engine
    question_log: QuestionLog
    settings: Settings
    chats: ChatState
    typing: Typing


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES: ContextTypes[Context, dict[Any, Any], dict[Any, Any], BotData] = ContextTypes(bot_data=BotData)

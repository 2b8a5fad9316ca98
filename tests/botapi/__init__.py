"""Strict local fake of the Telegram Bot API for end-to-end tests of the bot."""

from .html_check import EntityParseError, parse_html, utf16_len
from .server import BotApiError, Call, FakeBotApi, StoredFile, UploadedFile

__all__ = [
    "BotApiError",
    "Call",
    "EntityParseError",
    "FakeBotApi",
    "StoredFile",
    "UploadedFile",
    "parse_html",
    "utf16_len",
]

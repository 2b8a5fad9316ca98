"""The Telegram interface: one Application factory, handlers for users and admins, pure rendering."""

from bot.telegram.app import build_application, run_telegram

__all__ = ["build_application", "run_telegram"]

"""The Telegram interface: one Application factory, handlers for users and admins, pure rendering.

`build_application` and `run_telegram` are imported on first use, so importing a data-only module
such as `bot.telegram.render` does not load the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.telegram.app import build_application, run_telegram

__all__ = ["build_application", "run_telegram"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bot.telegram import app

        return getattr(app, name)
    raise AttributeError(f"module 'bot.telegram' has no attribute {name!r}")

"""Pytest fixture and python-telegram-bot helpers for tests driving a bot via FakeBotApi.

Usage in a test module::

    from tests.botapi.fixtures import fake_botapi  # noqa: F401  (pytest fixture)
    from tests.botapi.fixtures import application_builder, running_application
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from .server import FakeBotApi


@pytest.fixture
def fake_botapi() -> Iterator[FakeBotApi]:
    """A started FakeBotApi, stopped after the test."""
    with FakeBotApi() as server:
        yield server


def application_builder(server: FakeBotApi) -> Any:
    """``ApplicationBuilder`` wired to ``server`` (proxy env vars ignored for 127.0.0.1)."""
    no_env = {"trust_env": False}
    return (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .request(HTTPXRequest(httpx_kwargs=no_env))
        .get_updates_request(HTTPXRequest(httpx_kwargs=no_env))
    )


@contextlib.asynccontextmanager
async def running_application(
    app: Application[Any, Any, Any, Any, Any, Any], poll_timeout: int = 1
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Initialize, start and long-poll ``app``; always stop and shut it down afterwards."""
    updater = app.updater
    if updater is None:
        raise ValueError("the application needs an Updater to poll the fake server")
    await app.initialize()
    try:
        await app.start()
        await updater.start_polling(poll_interval=0, timeout=poll_timeout)
        yield app
    finally:
        if updater.running:
            await updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

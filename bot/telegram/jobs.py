"""Long admin jobs (an upload's parsing and indexing, /reindex, /remove) in daemon threads.

`asyncio.to_thread` runs in the loop's default executor, whose threads the interpreter joins at exit:
a SIGTERM during an upload then waited for the whole parse and encode (over 20 s), past a platform's
10 s grace, and ended in SIGKILL. A daemon thread is not waited for; and since a native library (the
sentence model) may abort when the interpreter is finalised under it, a stop that leaves a job
running ends the process at once (`exit_now_if_running`) once the bot has stopped cleanly. Stopping
mid-job is safe: a build is written beside the current one and swapped in whole, the update is not
crossed off, so it is handled again at the next start, and a stale index is rebuilt in the
background then.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)
_running: set[str] = set()
_lock = threading.Lock()


async def in_daemon_thread(job: Callable[[], T], name: str = "admin-job") -> T:
    """Run `job` in a new daemon thread and await its result (or exception)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def run() -> None:
        with _lock:
            _running.add(threading.current_thread().name)
        try:
            result = job()
        except BaseException as exc:  # handed to the awaiting coroutine, which decides
            error = exc
            deliver(lambda: settle(lambda: future.set_exception(error)))
        else:
            deliver(lambda: settle(lambda: future.set_result(result)))
        finally:
            with _lock:
                _running.discard(threading.current_thread().name)

    def deliver(callback: Callable[[], None]) -> None:
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop is closed: the bot stopped while the job ran
            pass

    threading.Thread(target=run, name=f"{name}-{id(future):x}", daemon=True).start()
    return await future


def exit_now_if_running(code: int) -> None:
    """After a clean stop: if an admin job still runs, end the process now with `code` (it is redone next start)."""
    with _lock:
        running = sorted(_running)
    if not running:
        return
    log.warning("stopping with %s unfinished; it is handled again at the next start", ", ".join(running))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

"""Start a piece of work on a thread now and take its result where it is needed.

Why: an export's start is a chain of waits that do not depend on each other — building the S3
client (pure Python, ~0.15 s), S3 round trips, MySQL planning. Run side by side, the first rows
stream while S3 is still being reached. The result (or the error) comes back through a Future,
so an error raised on the thread surfaces, unchanged, in the caller that needs the result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


def in_background(work: Callable[[], T], name: str) -> Future[T]:
    """Run ``work`` on a daemon thread named ``name``; its Future holds the result or the error.

    Daemon: a caller that fails first and exits must not wait for work nobody needs any more.
    """
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(work())
        except BaseException as exc:  # handed to whoever calls result()
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future

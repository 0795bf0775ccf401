"""Start a piece of work on a thread now and take its result where it is needed.

Why: an export's start is a chain of waits that do not depend on each other — building the S3
client (pure Python, ~0.15 s), S3 round trips, MySQL planning. Run side by side, the first rows
stream while S3 is still being reached. The result (or the error) comes back through a Future,
so an error raised on the thread surfaces, unchanged, in the caller that needs the result.

The threads are daemon threads, so a process never hangs on work nobody waits for. But a
daemon thread still running when the interpreter exits is killed where it stands, and one
standing in native code (pyarrow reading a Parquet part) aborts the whole process
("terminate called without an active exception", exit 134) after its work was reported done.
So no thread outlives its scope: :meth:`Background.result` returns only once the thread has
ended, and leaving a ``with`` block cancels the work and joins the thread. Cancelling is
cooperative: long loops call :func:`check_cancelled` once per block or row group.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")
_local = threading.local()  # .cancel: the Event of the background work running on this thread


class Cancelled(Exception):
    """The scope that started this work ended first; the work stops at its next check."""


def check_cancelled() -> None:
    """Raise Cancelled if the background work on this thread was cancelled (a no-op on any
    other thread; cheap enough to call once per block or chunk)."""
    event: threading.Event | None = getattr(_local, "cancel", None)
    if event is not None and event.is_set():
        raise Cancelled("cancelled: the caller no longer needs this work")


def run_cancellable(work: Callable[[], T], cancel: threading.Event) -> T:
    """Run ``work`` on this thread with ``cancel`` as the event :func:`check_cancelled` sees."""
    _local.cancel = cancel
    try:
        return work()
    finally:
        _local.cancel = None


class Background(Future[T]):
    """A Future for work on a thread of its own; also a context manager for that thread's scope.

    ``result()`` waits for the work *and* its thread; ``stop()`` (and leaving ``with``) cancels
    the work if it is still running and joins the thread, so nothing runs on after the scope.
    """

    def __init__(self, work: Callable[[], T], name: str, on_enter: bool = False) -> None:
        super().__init__()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        if not on_enter:
            self._thread.start()

    def _run(self, work: Callable[[], T]) -> None:
        if not self.set_running_or_notify_cancel():
            return
        try:
            value = run_cancellable(work, self._cancel)
        except BaseException as exc:  # handed to whoever calls result()
            self.set_exception(exc)
        else:
            self.set_result(value)

    def result(self, timeout: float | None = None) -> T:
        """The work's result (or its error), once its thread has ended."""
        try:
            return super().result(timeout)
        finally:
            if self.done():
                self._thread.join()

    def stop(self) -> None:
        """Cancel the work if it still runs, and wait for its thread to end."""
        self._cancel.set()
        if self._thread.ident is not None:  # started
            self._thread.join()

    def __enter__(self) -> Background[T]:
        """Start the thread here if it waited for the scope (``on_enter``): a Ctrl-C between a
        start in ``__init__`` and the ``with`` would leave it unjoined (CI caught a verify's
        files thread alive after its interrupted caller had gone)."""
        if self._thread.ident is None:
            try:
                self._thread.start()
            except BaseException:
                self.stop()
                raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def in_background(work: Callable[[], T], name: str, on_enter: bool = False) -> Background[T]:
    """Run ``work`` on a daemon thread named ``name`` (``on_enter``: from the ``with`` that
    scopes it); the returned Background holds the result or the error (see the module docstring
    for why its thread never outlives its scope)."""
    return Background(work, name, on_enter)

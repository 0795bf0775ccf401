"""Extract: read the next chunk while the current one is being written.

The MySQL driver releases the GIL while it waits for the server, so one reader thread can fetch
chunk N+1 while the main thread encodes, compresses and uploads chunk N. A queue of ``depth``
chunks bounds memory (at most depth + 2 chunks exist at once). The reader owns the source
connection for the whole export, so nothing else may use it meanwhile.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

from dbarchive.runtime.background import run_cancellable

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(source: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``source`` on a background thread, ``depth`` items ahead of the consumer.

    Errors in the reader are raised in the consumer; if the consumer stops early (an error or
    ``close()``), the reader is cancelled and joined: no reader outlives the iteration.
    """
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))

    # Stopping also cancels what the reader is doing (``check_cancelled`` in long loops, e.g.
    # a Parquet part being read), so the join below does not wait for a whole file.
    reader = threading.Thread(
        target=run_cancellable, args=(read, stop), name="dbarchive-extract", daemon=True
    )
    reader.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()

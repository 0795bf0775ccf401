"""The latency probe's own process (``python -m dbarchive.sources.probe_worker``).

Reads one JSON line on stdin — ``settings`` (``SourceSettings``), ``password`` (given by code, or
null), ``query``, ``interval`` — then runs the query every ``interval`` seconds on a session of
its own and writes, on the monotonic clock the parent shares, ``b <start>`` as a probe begins and
``e <start> <seconds>`` as it ends; ``x <message>`` on an error it cannot retry (the message names
no secret), then exits 1. It exits 0 when stdin closes: the parent is done, or gone.

A probe's seconds are the server's and the network's, not this process's wait for a CPU: the
time the thread spent runnable but not running meanwhile (Linux ``schedstat``) is taken out. The
probe shares its host with the work it paces — an export's encoding and compression, on a
worker of one or two cores, and a CLI at ``nice`` 10 whose priority the probe inherits — and its
wait for a core is no load on the server.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from dbarchive.config import SourceSettings
from dbarchive.errors import DbArchiveError
from dbarchive.sources.mysql_session import MySqlSession


def _exit_when_stdin_closes() -> None:
    sys.stdin.read()  # returns at end of file: the parent closed the pipe or died
    os._exit(0)  # at once, even in the middle of a probe


def _say(line: str) -> None:
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        os._exit(0)  # nobody listens any more


def runqueue_wait() -> Callable[[], float]:
    """A clock of the seconds this thread has waited for a CPU while runnable (the second field
    of Linux's ``/proc/self/task/<tid>/schedstat``, in nanoseconds); 0 where there is none."""
    path = f"/proc/self/task/{threading.get_native_id()}/schedstat"

    def waited() -> float:
        try:
            with open(path, "rb") as f:
                return int(f.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    return waited


def timed(
    query: Callable[[], object], clock: Callable[[], float], waited: Callable[[], float]
) -> float:
    """Seconds ``query`` took on ``clock``, less the time ``waited`` says we queued for a CPU."""
    start, queued = clock(), waited()
    query()
    return max(0.0, clock() - start - (waited() - queued))


def run(order: dict[str, Any]) -> int:
    """Probe until stdin closes; 1 after an error the session could not retry."""
    settings = SourceSettings.model_validate(
        {**order["settings"], "password": order.get("password")}
    )
    session = MySqlSession(settings)
    query, interval = str(order["query"]), float(order["interval"])
    waited = runqueue_wait()

    def probe() -> None:
        session.query(query, what="running the latency probe (probe_query)")

    while True:
        start = time.monotonic()
        _say(f"b {start!r}")
        try:
            seconds = timed(probe, time.monotonic, waited)
        except DbArchiveError as exc:
            _say(f"x {' '.join(str(exc).split())}")
            return 1
        _say(f"e {start!r} {seconds!r}")
        time.sleep(max(0.0, start + interval - time.monotonic()))  # a steady rate of starts


def main() -> int:
    order = json.loads(sys.stdin.readline())
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    return run(order)


if __name__ == "__main__":
    sys.exit(main())

"""The latency probe's own process (``python -m dbarchive.sources.probe_worker``).

Reads one JSON line on stdin — ``settings`` (``SourceSettings``), ``password`` (given by code, or
null), ``query``, ``interval`` — then runs the query every ``interval`` seconds on a session of
its own and writes, on the monotonic clock the parent shares, ``b <start>`` as a probe begins and
``e <start> <seconds>`` as it ends; ``x <message>`` on an error it cannot retry (the message names
no secret), then exits 1. It exits 0 when stdin closes: the parent is done, or gone.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
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


def run(order: dict[str, Any]) -> int:
    """Probe until stdin closes; 1 after an error the session could not retry."""
    settings = SourceSettings.model_validate(
        {**order["settings"], "password": order.get("password")}
    )
    session = MySqlSession(settings)
    query, interval = str(order["query"]), float(order["interval"])
    while True:
        start = time.monotonic()
        _say(f"b {start!r}")
        try:
            session.query(query, what="running the latency probe (probe_query)")
        except DbArchiveError as exc:
            _say(f"x {' '.join(str(exc).split())}")
            return 1
        seconds = time.monotonic() - start
        _say(f"e {start!r} {seconds!r}")
        time.sleep(max(0.0, start + interval - time.monotonic()))  # a steady rate of starts


def main() -> int:
    order = json.loads(sys.stdin.readline())
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    return run(order)


if __name__ == "__main__":
    sys.exit(main())

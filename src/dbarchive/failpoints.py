"""Named crash points, so tests can kill the process at an exact step (``DBARCHIVE_FAILPOINT``).

``DBARCHIVE_FAILPOINT=export.before-manifest`` kills the process with SIGKILL the first time that
point is reached; ``name:3`` on the third time. Nothing happens when the variable is unset, and
checking it costs one dict lookup, so the points stay in production code.
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def hit(name: str) -> None:
    """Die by SIGKILL here if the environment asks for this point (and this occurrence)."""
    wanted = os.environ.get("DBARCHIVE_FAILPOINT")
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)

"""Suite-wide setup: Ctrl-C as a terminal gives it, however the suite was started.

A shell that starts a command in the background without job control (``cmd &`` in a script,
``nohup``) starts it with SIGINT ignored, and Python then leaves it ignored: every test that
interrupts dbarchive with SIGINT (itself or a ``dbarchive`` it runs, which inherits the
disposition) would see the command run to its end. Python's own handler, set here, makes those
tests mean the same wherever CI starts them.
"""

from __future__ import annotations

import signal


def pytest_configure() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)

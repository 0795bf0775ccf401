"""The ``dbarchive`` command: a thin shell over the library (parse → build → call → render).

This module only sets up the process; the commands live in ``dbarchive.cli.app`` and load after
that set-up (``cli`` is still importable from here).
"""

from __future__ import annotations

import ctypes
import gc
import sys
from typing import Any

_M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter number
_MMAP_THRESHOLD = 1024 * 1024


def _return_big_buffers_to_the_os() -> None:
    """Allocate buffers of 1 MiB and more with mmap, so freeing them gives the memory back.

    glibc raises its mmap threshold after the first big block is freed, and from then on serves
    the export's multi-MB chunk and part buffers from the heap, where freed space stays in the
    process: peak RSS of a big-day export went from ~110 MB to ~85 MB with the threshold fixed.
    A process-wide setting, so the CLI (the process owner) makes it, not the library.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt): keep its default
        return


def _load_commands() -> Any:
    """Import every command with the cyclic garbage collector paused, then freeze what was built.

    The imports create ~10^5 objects that live as long as the process (pydantic's validators,
    click's and rich's objects) and none is garbage; collecting while they are created walked them
    again and again: 0.1 s of every run's start-up, measured. ``gc.freeze`` then moves them out of
    the collector's sight for the rest of the run, and the collector runs as usual from here.
    """
    gc.disable()
    try:
        from dbarchive.cli.app import cli

        return cli
    finally:
        gc.freeze()
        gc.enable()


def main() -> None:
    """Console-script entry point."""
    _return_big_buffers_to_the_os()
    try:
        _load_commands()(prog_name="dbarchive")
    finally:
        gc.freeze()  # what is left is freed by the exit: skip the interpreter's last collection


def __getattr__(name: str) -> Any:
    """``from dbarchive.cli import cli`` (tests, embedding) without importing it at start-up."""
    if name == "cli":
        from dbarchive.cli.app import cli

        return cli
    raise AttributeError(f"module 'dbarchive.cli' has no attribute {name!r}")

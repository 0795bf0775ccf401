"""The probe's timing: the server's seconds, without the probe's own wait for a CPU."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbarchive.sources.probe_worker import runqueue_wait, timed


class FakeClocks:
    """A wall clock and a run-queue clock that a fake query advances."""

    def __init__(self) -> None:
        self.now = 100.0
        self.queued = 7.0

    def query(self, took: float, queued: float) -> None:
        self.now += took
        self.queued += queued


def test_the_time_spent_waiting_for_a_cpu_is_taken_out() -> None:
    c = FakeClocks()
    seconds = timed(lambda: c.query(0.005, 0.004), lambda: c.now, lambda: c.queued)
    assert seconds == pytest.approx(0.001)


def test_without_a_wait_the_whole_time_counts_and_never_below_zero() -> None:
    c = FakeClocks()
    assert timed(lambda: c.query(0.003, 0.0), lambda: c.now, lambda: c.queued) == pytest.approx(
        0.003
    )
    # a clock read a moment apart must not make a probe negative
    assert timed(lambda: c.query(0.001, 0.002), lambda: c.now, lambda: c.queued) == 0.0


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not Path("/proc/self/schedstat").exists(),
    reason="Linux schedstat only",
)
def test_the_run_queue_clock_grows_while_another_process_holds_our_cpu() -> None:
    original = os.sched_getaffinity(0)
    cpu = min(original)
    waited = runqueue_wait()
    before = waited()
    spin = "import time\nend = time.monotonic() + 5\nwhile time.monotonic() < end: pass"
    hog = subprocess.Popen([sys.executable, "-c", spin])
    try:
        os.sched_setaffinity(hog.pid, {cpu})
        os.sched_setaffinity(0, {cpu})
        deadline = time.monotonic() + 5.0  # a bound on the test, not a measure of speed
        while waited() == before and time.monotonic() < deadline:
            _spin(0.01)
        assert waited() > before  # both runnable on one CPU: we queued behind the hog
    finally:
        os.sched_setaffinity(0, original)
        hog.kill()
        hog.wait()

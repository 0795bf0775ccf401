"""Throttle decisions with a manual clock and canned probe values: no sleeping, no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbarchive.config import ThrottleSettings
from dbarchive.errors import StopRequested
from dbarchive.steps.purge import ChunkSizer
from dbarchive.throttle import CriticalLoad, Throttle


class ManualClock:
    """A clock that only moves when sleep is called."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class CannedProbe:
    """Returns the given load and lag values in turn (the last one repeats)."""

    def __init__(self, loads: list[int], lags: list[float | None] | None = None) -> None:
        self.loads, self.lags = loads, lags or [0.0]

    def threads_running(self) -> int:
        return self.loads.pop(0) if len(self.loads) > 1 else self.loads[0]

    def replica_lag(self) -> float | None:
        return self.lags.pop(0) if len(self.lags) > 1 else self.lags[0]


def _throttle(probe: CannedProbe, **settings: object) -> tuple[Throttle, ManualClock]:
    clock = ManualClock()
    return Throttle(ThrottleSettings(**settings), probe, clock=clock, sleep=clock.sleep), clock  # type: ignore[arg-type]


def test_pauses_while_load_is_high_then_goes_on() -> None:
    """Threads_running above max_load pauses, checking every check_interval, until it drops."""
    throttle, clock = _throttle(CannedProbe([50, 40, 30, 5]), max_load=20, check_interval=0.5)
    throttle.between_chunks(0.1)
    assert clock.sleeps == [0.5, 0.5, 0.5]
    assert throttle.stats.pauses == 1
    assert throttle.stats.reasons == {"load": 1}


def test_critical_load_aborts() -> None:
    """Threads_running above critical_load raises at once."""
    throttle, _ = _throttle(CannedProbe([99]), max_load=20, critical_load=50)
    with pytest.raises(CriticalLoad, match="critical_load=50"):
        throttle.between_chunks(0.1)


def test_unknown_replica_lag_means_wait() -> None:
    """A replica that stopped replicating (lag None) pauses the purge, like a lagging one."""
    throttle, clock = _throttle(
        CannedProbe([1], [None, None, 12.0, 0.5]), max_lag=1.0, check_interval=1
    )
    throttle.between_chunks(0.0)
    assert len(clock.sleeps) == 3
    assert throttle.stats.reasons == {"lag": 1}


def test_gives_up_after_max_pause() -> None:
    """A pause longer than max_pause stops cleanly instead of waiting forever."""
    throttle, _ = _throttle(CannedProbe([1], [30.0]), max_lag=1.0, check_interval=1, max_pause=5)
    with pytest.raises(StopRequested, match="giving up"):
        throttle.between_chunks(0.0)


def test_fixed_sleep_and_coefficient() -> None:
    """sleep + sleep_coefficient x chunk time is slept between chunks."""
    throttle, clock = _throttle(CannedProbe([1]), sleep=0.25, sleep_coefficient=2.0)
    throttle.between_chunks(0.5)
    assert clock.sleeps == [1.25]


def test_max_runtime_stop_file_and_signal_flag(tmp_path: Path) -> None:
    """The run-time limit, a stop file and a stop request all stop after the chunk."""
    throttle, clock = _throttle(CannedProbe([1]), max_runtime=10)
    throttle.between_chunks(0.0)
    clock.now = 10.5
    with pytest.raises(StopRequested, match="max_runtime"):
        throttle.between_chunks(0.0)
    stop = tmp_path / "stop"
    throttle, _ = _throttle(CannedProbe([1]), stop_file=str(stop))
    throttle.between_chunks(0.0)
    stop.touch()
    with pytest.raises(StopRequested, match="stop file"):
        throttle.check_stop()
    throttle, _ = _throttle(CannedProbe([1]))
    throttle.stop.request("received SIGTERM")
    with pytest.raises(StopRequested, match="SIGTERM"):
        throttle.between_chunks(0.0)


def test_chunk_size_follows_the_target_time() -> None:
    """Fast chunks grow (at most 2x), slow ones shrink (at most /2), within bounds."""
    sizer = ChunkSizer(ThrottleSettings(chunk_time=0.5, min_chunk_rows=100, max_chunk_rows=5000))
    assert sizer.rows == 1000
    sizer.adapt(0.05, 1000)
    assert sizer.rows == 2000
    sizer.adapt(2.0, 2000)
    assert sizer.rows == 1000
    sizer.adapt(0.5, 10)  # a short last chunk says nothing
    assert sizer.rows == 1000
    for _ in range(10):
        sizer.adapt(0.001, sizer.rows)
    assert sizer.rows == 5000
    for _ in range(10):
        sizer.shrink()
    assert sizer.rows == 100


def test_throttled_reads_pause_before_the_first_and_between_chunks() -> None:
    """An export read stream waits for headroom first, then sleeps after every chunk it yields."""
    from dbarchive.throttle import throttled

    throttle, clock = _throttle(CannedProbe([50, 5]), max_load=20, check_interval=0.5, sleep=0.25)
    out = []
    for chunk in throttled(iter(["a", "b", "c"]), throttle):
        out.append((chunk, list(clock.sleeps)))
    assert [c for c, _ in out] == ["a", "b", "c"]
    assert out[0][1] == [0.5]  # load 50 > 20 before the first chunk: one check interval
    assert clock.sleeps == [0.5, 0.25, 0.25, 0.25]  # then the fixed sleep after each chunk
    assert throttle.stats.pauses == 1

"""Run one command and measure what the report needs: wall time, peak RSS, client and server CPU.

Why sampling with psutil: a method is often a pipeline (`mysql | zstd | wc`) or a process that
starts helpers, and the memory that matters is the whole tree's at one instant; ru_maxrss only
gives the largest single process. Server CPU comes from /proc/<mariadbd>/stat (utime + stime), the
only way to see what a method costs the database itself — it includes whatever else the server
did meanwhile (the production load, another user), which is why the runner also measures an idle
window and reports the difference.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

_TICK = os.sysconf("SC_CLK_TCK")
_SAMPLE_SECONDS = 0.02

# Set by a runner that pins the client side to its own core(s) (bench/frontier.py): every measured
# command then starts under `taskset -c <cores>`; empty = wherever the scheduler puts it.
CLIENT_PREFIX: list[str] = []
# The server whose CPU a measurement bills; None = the first mariadbd found (a runner that starts
# private servers beside the shared one sets it, so the CPU is the shared server's).
SERVER_PID: int | None = None


def mariadbd_pid() -> int | None:
    """The local server's pid (mariadbd, or mysqld on a MySQL box), if it runs on this machine."""
    if SERVER_PID is not None:
        return SERVER_PID
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("mariadbd", "mysqld"):
            return int(proc.pid)
    return None


def server_cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of the server process so far (all its threads), from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # fields 14 and 15 of stat(5)


def cpu_times() -> tuple[int, int]:
    """This machine's (steal, total) CPU jiffies so far (/proc/stat's first line): the time
    the hypervisor gave other guests is the noise no pinning removes."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The share of CPU time stolen between two ``cpu_times()``, in percent."""
    total = after[1] - before[1]
    return None if total <= 0 else round(100 * (after[0] - before[0]) / total, 1)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


@dataclass
class _Sampler:
    """Polls a process tree's summed RSS until stopped; keeps the peak."""

    pid: int
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(root))
            self._stop.wait(_SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Measured:
    """One command's run: what every method reports, before method-specific additions."""

    seconds: float
    exit: int
    peak_rss_mb: float
    client_cpu_s: float
    server_cpu_s: float | None
    stdout: str
    stderr: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 4),
            "exit": self.exit,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "client_cpu_s": round(self.client_cpu_s, 3),
            "server_cpu_s": None if self.server_cpu_s is None else round(self.server_cpu_s, 3),
            "stderr_tail": self.stderr[-600:] if self.exit else "",
        }


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the whole pipeline we started (its own session), not just the shell."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def run(cmd: list[str] | str, env: dict[str, str] | None = None, timeout: float = 3600) -> Measured:
    """Run ``cmd`` (a string runs under `bash -o pipefail -c`) and measure it.

    Peak RSS comes from sampling only: the child's ru_maxrss would count the pages it inherited
    from this (large) Python process between fork and exec.
    """
    argv = [
        *CLIENT_PREFIX,
        *(["bash", "-o", "pipefail", "-c", cmd] if isinstance(cmd, str) else cmd),
    ]
    server = mariadbd_pid()
    cpu0, srv0 = _children_cpu(), server_cpu_seconds(server)
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})}, start_new_session=True,
    )  # fmt: skip
    sampler = _Sampler(proc.pid)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        err += f"\n(killed after {timeout} s)"
    seconds = time.monotonic() - started
    srv1 = server_cpu_seconds(server)
    sampler.stop()
    thread.join()
    return Measured(
        seconds=seconds,
        exit=proc.returncode,
        peak_rss_mb=sampler.peak / 2**20,
        client_cpu_s=_children_cpu() - cpu0,
        server_cpu_s=None if srv0 is None or srv1 is None else srv1 - srv0,
        stdout=out,
        stderr=err,
    )

"""Running the real CLI through faults: config, subprocess runs, random kills, the report line.

Every scenario runs ``python -m dbarchive`` in a subprocess (a SIGKILL must kill a real process),
against the real MariaDB and the suite's SeaweedFS, and ends with the oracle (``oracle.py``). Each
verdict is printed as one table line and appended as JSON to ``RESULTS`` (``make reliability``
turns the latest full run into RELIABILITY.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.reliability.oracle import Verdict

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(
    os.environ.get("DBARCHIVE_RELIABILITY_RESULTS", ROOT / ".reliability" / "latest.jsonl")
)
# The soak tier (make soak): every count of injected faults x10.
SCALE = 10 if os.environ.get("DBARCHIVE_SOAK") == "1" else 1
# Random kills need work left to interrupt, and a seeded table holds only so much export and purge
# work: the soak repeats those scenarios SCALE times on a fresh table instead of asking one table
# for SCALE times the kills.
ROUNDS = tuple(range(SCALE))


def in_round(name: str, round_: int) -> str:
    """A scenario's name, with its round when the soak repeats it (one report line per round)."""
    return name if SCALE == 1 else f"{name} (round {round_ + 1} of {SCALE})"


TODAY = dt.date(2026, 12, 15)
DAYS = tuple(TODAY - dt.timedelta(days=n) for n in range(8, 0, -1))  # 12-07 .. 12-14
# The wall clock of every run (the DBARCHIVE_NOW testing hook): the morning of TODAY, so every
# seeded day has ended and settled, whatever the machine's date. `--today TODAY` only moves the
# retention cutoff; a day not over by this clock is never exported.
NOW = dt.datetime.combine(TODAY, dt.time(6), tzinfo=dt.UTC)
RETENTION_DAYS = 5
CUTOFF = TODAY - dt.timedelta(days=RETENTION_DAYS)  # 12-10: the first kept day
EXPIRED = tuple(d for d in DAYS if d < CUTOFF)


@dataclass
class Job:
    """One scenario's config file and the environment its CLI runs get."""

    path: Path
    env: dict[str, str]
    dest_url: str
    runs: list[dict[str, Any]] = field(default_factory=list)  # what every finished run printed

    def cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dbarchive", *args, "-c", str(self.path)]

    def run(
        self, *args: str, failpoint: str | None = None, timeout: float = 300, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """One CLI run to its end (or its failpoint); its --json summary is kept in ``runs``."""
        proc = subprocess.run(
            self.cmd(*args),
            env=self.environment(failpoint, **env),
            timeout=timeout,
            capture_output=True,
            text=True,
            check=False,
        )
        self._keep(proc.stdout)
        return proc

    def popen(self, *args: str, failpoint: str | None = None, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.cmd(*args),
            env=self.environment(failpoint, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def environment(self, failpoint: str | None = None, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DBARCHIVE_FAILPOINT"}
        env["DBARCHIVE_NOW"] = NOW.isoformat()
        env.update(self.env)
        env.update(extra)
        if failpoint:
            env["DBARCHIVE_FAILPOINT"] = failpoint
        return env

    def _keep(self, stdout: str) -> None:
        try:
            data = json.loads(stdout)
        except ValueError:
            return
        if isinstance(data, dict):  # run/purge: {"tables": [...], ...}
            data = data.get("tables", [])
        if isinstance(data, list):
            self.runs += [d for d in data if isinstance(d, dict)]

    def with_source_extra(self, lines: str) -> Job:
        """Add settings to the [source] section (e.g. password_env)."""
        text = self.path.read_text().replace("[source]\n", "[source]\n" + lines, 1)
        self.path.write_text(text)
        return self

    @property
    def retries(self) -> int:
        """Chunk retries the tool reported (lock waits, deadlocks, lost connections)."""
        return sum(int(p.get("retries", 0)) for r in self.runs for p in r.get("purged", []))


def write_job(
    path: Path,
    source_url: str,
    dest_url: str,
    env: dict[str, str] | None = None,
    destination: str = "",
    defaults: str = "",
    throttle: str = "",
    table: str = "",
) -> Job:
    """A config for the seeded ``events`` table (retention 5 days, small chunks, multipart)."""
    path.write_text(
        f'[source]\nurl = "{source_url}"\n\n'
        f'[destination]\nurl = "{dest_url}"\n{destination}\n'
        f'[defaults]\nretention = "{RETENTION_DAYS} days"\ncompression = "none"\n'
        f"chunk_rows = 500\nmax_file_mib = 8\n{defaults}\n"
        f"[throttle]\nmax_chunk_rows = 500\nmin_chunk_rows = 50\n{throttle}\n"
        f'[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n{table}'
    )
    return Job(path, env or {}, dest_url)


def run_args(*extra: str) -> tuple[str, ...]:
    return ("run", "--today", TODAY.isoformat(), "--json", *extra)


def purge_args(*extra: str) -> tuple[str, ...]:
    return ("purge", "--today", TODAY.isoformat(), "--json", *extra)


def export_args(*extra: str) -> tuple[str, ...]:
    return ("export", "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(), "--json", *extra)


def kill_at_random(
    job: Job,
    args: tuple[str, ...],
    kills: int,
    rng: random.Random,
    window: tuple[float, float],
    sig: int = signal.SIGKILL,
    max_rounds: int | None = None,
    stop_when_done: bool = False,
) -> tuple[int, list[int]]:
    """Start the command and kill it after a random delay, again and again, ``kills`` times.

    A run that finishes before its kill counts as no kill (it also proves progress). Returns the
    kills that landed and every exit code seen.
    """
    landed, codes = 0, []
    for _ in range(max_rounds or kills * 4):
        if landed >= kills:
            break
        proc = job.popen(*args)
        try:
            stdout, _ = proc.communicate(timeout=rng.uniform(*window))
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
            landed += 1
            stdout, _ = proc.communicate(timeout=120)
        job._keep(stdout)
        codes.append(proc.returncode)
        if proc.returncode == 0 and stop_when_done:
            break
    return landed, codes


def record(verdict: Verdict) -> Verdict:
    """Print the scenario's table line and append its JSON to RESULTS."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(json.dumps({**verdict.to_json(), "scale": SCALE}) + "\n")
    print(verdict.line())
    return verdict

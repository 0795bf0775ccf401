"""Memory and gentleness under load (issue 7, matrix 13). Figures go to RELIABILITY.md; the tests
assert behaviour only (a bound on memory growth, that chunks and writes happened), never time.

- peak RSS of the export of a day of 100k rows vs 1M rows (same table, same settings);
- purge chunk times (p50/p99/max) against the configured ``chunk_time``;
- latency of a concurrent application writer (inserts + updates of recent rows) during the purge,
  against the same writer on an idle server: what the purge's locks cost it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any

import pytest

from tests.integration.mysql_fixtures import MySqlSchema, _connect
from tests.reliability import scenario
from tests.reliability.oracle import DDL, S3View, Seed, Verdict, check
from tests.reliability.scenario import SCALE, Job, record

MiB = 1024 * 1024


def _peak_rss(job: Job, *args: str) -> int:
    """Peak resident memory (bytes) of one CLI run, from the kernel's accounting of the child."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            job.cmd(*args), env=job.environment(), stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        assert proc.returncode == 0, err.read()[-2000:]
    return int(usage.ru_maxrss) * 1024


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@pytest.mark.parametrize("rows", [(100_000, 1_000_000) if SCALE > 1 else (50_000, 500_000)])
def test_export_memory_does_not_grow_with_the_day(
    rows: tuple[int, int], s3_job: Job, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """A day 10x bigger costs at most 32 MiB more peak RSS (the chunks and parts are bounded).

    The quick tier compares 50k with 500k rows; the soak tier 100k with 1M."""
    small, big = rows
    seed = Seed((scenario.DAYS[0], scenario.DAYS[1]), 0, 0)
    mysql_schema.execute(DDL)
    seed.insert_day(mysql_schema, scenario.DAYS[0], small)
    seed.insert_day(mysql_schema, scenario.DAYS[1], big)
    s3_job.path.write_text(
        s3_job.path.read_text()
        .replace('compression = "none"', 'compression = "zstd"')
        .replace("chunk_rows = 500", "chunk_rows = 20000")
    )
    peaks = {
        n: _peak_rss(s3_job, "export", "--date", day.isoformat(), "-q")
        for n, day in ((small, scenario.DAYS[0]), (big, scenario.DAYS[1]))
    }
    growth = peaks[big] - peaks[small]
    record(
        scenario_verdict := check_figures(
            f"export peak RSS, {small:,} vs {big:,} rows a day",
            {
                f"peak RSS at {small:,} rows": f"{peaks[small] / MiB:.1f} MiB",
                f"peak RSS at {big:,} rows": f"{peaks[big] / MiB:.1f} MiB",
                "growth": f"{growth / MiB:.1f} MiB (bound: 32 MiB)",
            },
        )
    )
    assert scenario_verdict.clean
    assert growth <= 32 * MiB, peaks


def check_figures(name: str, figures: dict[str, Any]) -> Verdict:
    """A line for a measurement (no oracle: nothing is faulted or deleted)."""
    return Verdict(name, exit="0", extra={"figures": figures})


def test_purge_chunk_times_and_the_lock_waits_it_causes_a_writer(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """While the purge deletes, an application inserts today's rows and updates recent ones: it
    never fails, the purge finishes, and the chunk and writer latencies are reported."""
    assert s3_job.run(*scenario.export_args()).returncode == 0
    recent = [int(r[0]) for r in mysql_schema.execute(
        "SELECT id FROM events WHERE created_at >= %s ORDER BY id LIMIT 200", (scenario.CUTOFF,)
    )]  # fmt: skip
    idle = _writer_latencies(mysql_schema, recent, seconds=2.0)
    latencies: list[float] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            latencies.extend(_writer_latencies(mysql_schema, recent, stop=done))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    proc = s3_job.run("-v", *scenario.purge_args()[:-1])
    done.set()
    thread.join(30)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not errors, errors
    chunks = [
        float(line.rsplit(", ", 1)[1].rstrip("s"))
        for line in proc.stderr.splitlines()
        if " purge events " in line and ": chunk," in line and line.endswith("s")
    ]
    assert len(chunks) >= len(scenario.EXPIRED) * 5 and latencies
    light.snapshot(mysql_schema)  # the application's own rows are legitimate versions too
    # Each writer statement during the purge, and while idle (ms).
    target = 0.5  # the default chunk_time the config keeps
    figures = {
        "purge chunks": len(chunks),
        "chunk time p50 / p99 / max": f"{_percentile(chunks, 50) * 1000:.1f} / "
        f"{_percentile(chunks, 99) * 1000:.1f} / {max(chunks) * 1000:.1f} ms "
        f"(target chunk_time {target * 1000:.0f} ms: p99 {'within' if _percentile(chunks, 99) <= target else 'ABOVE'})",
        "writer statements during the purge": len(latencies),
        "writer latency p50 / p99 / max during the purge": f"{statistics.median(latencies) * 1000:.1f} / "
        f"{_percentile(latencies, 99) * 1000:.1f} / {max(latencies) * 1000:.1f} ms (bound 50 ms p99)",
        "writer latency p99 idle": f"{_percentile(idle, 99) * 1000:.1f} ms",
    }
    verdict = check(
        "purge under a concurrent writer (chunk times, writer lock waits)",
        light,
        mysql_schema,
        view,
        injections=len(latencies),
        exit="0",
        extra={"figures": figures},
    )
    record(verdict)
    assert verdict.clean, verdict.details


def _writer_latencies(
    db: MySqlSchema,
    recent: list[int],
    seconds: float | None = None,
    stop: threading.Event | None = None,
) -> list[float]:
    """An application: insert a today's row, update a recent row, every ~5 ms; seconds each."""
    conn = _connect(db.name)
    out = []
    end = time.monotonic() + (seconds or 600)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION innodb_lock_wait_timeout = 5")
            i = 0
            while time.monotonic() < end and not (stop and stop.is_set()):
                started = time.perf_counter()
                if i % 2:
                    cur.execute(
                        "UPDATE events SET account_id = account_id WHERE id = %s",
                        (recent[i % len(recent)],),
                    )
                else:
                    cur.execute(
                        "INSERT INTO events (created_at, account_id, note) VALUES (%s, 1, 'live')",
                        (scenario.TODAY,),
                    )
                out.append(time.perf_counter() - started)
                i += 1
                time.sleep(0.005)
    finally:
        conn.close()
    return out

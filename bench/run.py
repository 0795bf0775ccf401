"""The benchmark suite of issue 5: dbarchive against the tools users would pick instead.

Usage: .venv/bin/python bench/run.py [--rows 3000000] [--runs 3] [--big-factor 10]
       (or `make bench BENCH_ARGS="--rows 300000 --runs 1"`)

It starts a private SeaweedFS on 127.0.0.1, generates (or reuses) the data, then for every run
executes every method once, in the same order (A B A B…): exports of the big day, the 10x day's
export (memory), and purges of the expired rows (restored before each). Each step runs under the
fixed-rate production load, after an idle window of the same load. It writes BENCHMARKS.md at the
repository root and bench/results/latest.json (every raw number). Everything talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import data
import measure
import peers
import report
import s3server
from prodload import ProdLoad

from dbarchive.sources import redo_log

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Method:
    """One compared method: untimed preparation, then the measured run."""

    info: report.MethodInfo
    run: Callable[[peers.Ctx, Any], dict[str, Any]]
    expected_rows: int
    prepare: Callable[[peers.Ctx], Any] = field(default=lambda ctx: None)


def _export(key: str, label: str, fn: Callable[[peers.Ctx], dict[str, Any]], rows: int) -> Method:
    return Method(report.MethodInfo(key, label, "export"), lambda ctx, _: fn(ctx), rows)


def methods(ctx: peers.Ctx, plan: data.Plan, x10: tuple[str, int] | None) -> list[Method]:
    """Every method, in the order each run executes them."""
    rows = ctx.day_rows
    out = [
        _export("mysql_time", "`mysql` client, created_at index → /dev/null (reference)",
                peers.mysql_time_index, rows),
        _export("mysql_pk", "`mysql` client, primary-key range → /dev/null", peers.mysql_pk_range, rows),
        _export("mysql_zstd", "`mysql … | zstd -1`", lambda c: peers.mysql_compressed(c, "zstd"), rows),
        _export("mysql_gzip", "`mysql … | gzip -1`", lambda c: peers.mysql_compressed(c, "gzip"), rows),
        _export("pt_export", "pt-archiver --no-delete --file (csv, --limit 10000 --commit-each)",
                peers.pt_archiver_export, rows),
        _export("pandas", "pandas read_sql → to_csv gzip → S3 (SqlToS3Operator)", peers.pandas_s3, rows),
        _export("dba_gzip", "**dbarchive export, CSV gzip → S3**",
                lambda c: peers.dbarchive_export(c, "gzip"), rows),
        _export("dba_zstd", "**dbarchive export, CSV zstd → S3**",
                lambda c: peers.dbarchive_export(c, "zstd"), rows),
        _export("dba_zstd_nice0", "**dbarchive export, CSV zstd → S3, at normal CPU priority (nice 0)**",
                lambda c: peers.dbarchive_export(c, "zstd", extra="[throttle]\nnice = 0\n\n"), rows),
        _export("dba_parquet", "**dbarchive export, Parquet zstd → S3**",
                lambda c: peers.dbarchive_export(c, "zstd", fmt="parquet"), rows),
    ]  # fmt: skip
    if x10:
        schema, x10_rows = x10
        out.append(Method(
            report.MethodInfo("dba_zstd_x10", "**dbarchive export, CSV zstd → S3, 10× day**", "memory"),
            lambda c, _: peers.dbarchive_export(c, "zstd", schema=schema), x10_rows,
        ))  # fmt: skip
    return out + purge_methods(plan)


def purge_methods(plan: data.Plan) -> list[Method]:
    """Purges of the same expired rows; each restores them first (untimed)."""

    def restore(ctx: peers.Ctx) -> None:
        if data.restore_expired(ctx.schema, plan):
            log("  restored the expired rows")

    def restore_and_archive(fast: bool) -> Callable[[peers.Ctx], Path]:
        def prepare(ctx: peers.Ctx) -> Path:
            restore(ctx)
            log("  archiving the expired days first (untimed)")
            return peers.prepare_dbarchive_purge(ctx, fast)

        return prepare

    def purge(key: str, label: str) -> report.MethodInfo:
        return report.MethodInfo(key, label, "purge")

    n = plan.expired_rows
    return [
        Method(purge("naive_delete", "one `DELETE … WHERE created_at < cutoff`"),
               lambda c, _: peers.naive_delete(c), n, restore),
        Method(purge("pt_purge_row", "pt-archiver --purge --limit 1000 --commit-each (row by row)"),
               lambda c, _: peers.pt_archiver_purge(c, bulk=False), n, restore),
        Method(purge("pt_purge_bulk", "pt-archiver --purge --bulk-delete --limit 1000 --commit-each"),
               lambda c, _: peers.pt_archiver_purge(c, bulk=True), n, restore),
        Method(purge("dba_purge_default", "**dbarchive purge, default settings**"),
               peers.dbarchive_purge, n, restore_and_archive(fast=False)),
        Method(purge("dba_purge_fast", "**dbarchive purge, fast (chunk_time 2 s, max_chunk_rows 50000)**"),
               peers.dbarchive_purge, n, restore_and_archive(fast=True)),
    ]  # fmt: skip


# --- one step under production load --------------------------------------------------------------


def server_cores(seconds: float = 1.0) -> float | None:
    """How many cores mariadbd used over the next ``seconds``."""
    pid = measure.mariadbd_pid()
    before = measure.server_cpu_seconds(pid)
    time.sleep(seconds)
    after = measure.server_cpu_seconds(pid)
    return None if before is None or after is None else (after - before) / seconds


def settle(limit: float, baseline: float) -> float:
    """Wait (bounded) until the server is back to its quiet level: InnoDB purges a mass delete's
    rows in the background, and that clean-up must not bill the next method. Quiet = within 0.3
    core of what the server used idle before the run (something else may keep it busy: then the
    baseline is high, and this does not wait for what will not end). Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        cores = server_cores()
        if cores is None or cores < baseline + 0.3:
            break
    return round(time.monotonic() - started, 1)


def redo_capacity(cur: Any) -> int | None:
    """The redo log's capacity in bytes, read as the throttle reads it (``sources.redo_log``)."""
    cur.execute(redo_log.CAPACITY_SQL)
    return redo_log.capacity_from_variables(list(cur.fetchall()))


def redo_fill(cur: Any, capacity: int | None = None) -> float | None:
    """InnoDB's redo log fill, checkpoint age over ``capacity`` (read when not given), as the
    throttle's ``max_redo_fill`` sees it; None where the server does not tell (Aurora)."""
    capacity = capacity or redo_capacity(cur)
    cur.execute(redo_log.AGE_SQL)
    age = redo_log.age_from_status(list(cur.fetchall()))
    return None if age is None or not capacity else age / capacity


# Where checkpoint() keeps the server's innodb_max_dirty_pages_pct while it holds it at 0: a bench
# killed then (SIGKILL skips its finally) would leave every later write flushing at once.
_DIRTY_PCT_SAVED = ROOT / "bench" / "results" / ".max_dirty_pages_pct"


def restore_dirty_pages_pct(cur: Any) -> None:
    """Put back an ``innodb_max_dirty_pages_pct`` that a killed checkpoint() left at 0."""
    if _DIRTY_PCT_SAVED.exists():
        saved = float(_DIRTY_PCT_SAVED.read_text())
        cur.execute(f"SET GLOBAL innodb_max_dirty_pages_pct = {saved}")
        _DIRTY_PCT_SAVED.unlink()


def checkpoint(limit: float, target: float = 0.05) -> dict[str, float | int | None]:
    """Flush InnoDB's dirty pages until the redo log is under ``target`` full (at most ``limit``
    s), as on a server at rest. A purge step's restore rewrites 330,000 rows just before it and
    leaves the log 57-79 % full; the page cleaner at io_capacity 200 takes minutes to catch up.
    A purge that watches the fill (``max_redo_fill``) would pay for the bench's own restore,
    pt-archiver would not. Every purge method gets the same flushed start. Returns the fill
    before, the seconds flushed and the log's capacity (bytes; None where the server does not
    tell)."""
    conn = data.connect()
    cur = conn.cursor()
    try:
        restore_dirty_pages_pct(cur)
        capacity = redo_capacity(cur)
        before = redo_fill(cur, capacity)
        if before is None or before <= target:
            return {"redo_fill_before": before, "checkpoint_s": 0.0, "redo_capacity": capacity}
        cur.execute("SELECT @@innodb_max_dirty_pages_pct")
        _DIRTY_PCT_SAVED.write_text(str(float(cur.fetchone()[0])))
        started = time.monotonic()
        cur.execute("SET GLOBAL innodb_max_dirty_pages_pct = 0")
        try:
            while time.monotonic() - started < limit and (redo_fill(cur, capacity) or 0.0) > target:
                time.sleep(0.5)
        finally:
            restore_dirty_pages_pct(cur)
        return {"redo_fill_before": round(before, 3),
                "checkpoint_s": round(time.monotonic() - started, 1),
                "redo_capacity": capacity}  # fmt: skip
    finally:
        conn.close()


def history_length(cur: Any) -> int | None:
    """InnoDB's history list length: undo logs of committed transactions not yet purged."""
    cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_history_list_length'")  # MariaDB
    row = cur.fetchone()
    if row is not None:
        return int(row[1])
    cur.execute(  # MySQL 8 keeps it in INNODB_METRICS
        "SELECT `count` FROM information_schema.INNODB_METRICS WHERE name = 'trx_rseg_history_len'"
    )
    row = cur.fetchone()
    return None if row is None else int(row[0])


def clean_up_after(limit: float, baseline: float) -> dict[str, float | None]:
    """Wait (bounded) until InnoDB has finished the clean-up a purge method left behind, and
    measure it. A DELETE only marks rows; InnoDB's purge threads remove them from every index
    afterwards. One big DELETE leaves all of that for after its statement, a chunked purge does
    most of it while it runs: comparing their statement times alone favours the big DELETE.
    Done = the history list has drained (< 50 undo logs, the production load is stopped) and the
    server is within 0.3 core of its quiet level. Sampled every 0.25 s, so 0.25 s is the floor.
    Returns the seconds waited and the server CPU above baseline spent meanwhile."""
    pid = measure.mariadbd_pid()
    conn = data.connect()
    try:
        cur = conn.cursor()
        started, cpu0 = time.monotonic(), measure.server_cpu_seconds(pid)
        history_at_end = history_length(cur)
        while time.monotonic() - started < limit:
            cores = server_cores(0.25)
            history = history_length(cur)
            if (cores is None or cores < baseline + 0.3) and (history is None or history < 50):
                break
        seconds = time.monotonic() - started
    finally:
        conn.close()
    cpu1 = measure.server_cpu_seconds(pid)
    cpu = None if cpu0 is None or cpu1 is None else round(cpu1 - cpu0 - baseline * seconds, 2)
    return {
        "cleanup_seconds": round(seconds, 2),
        "cleanup_server_cpu_s": cpu,
        "history_at_end": history_at_end,
    }


@dataclass
class Stepper:
    """Runs methods under the production load; remembers each method's duration for its idle window."""

    ctx: peers.Ctx
    args: argparse.Namespace
    last_seconds: dict[str, float] = field(default_factory=dict)
    baseline_cores: float = 0.0  # the server's CPU use with nothing of ours running

    def idle_seconds(self, key: str) -> float:
        wanted = self.last_seconds.get(key, self.args.idle_seconds)
        return min(max(wanted, 3.0), self.args.idle_max)

    def step(self, method: Method) -> dict[str, Any]:
        """One measured run of ``method``; a crash is recorded as a failed run, not fatal."""
        try:
            return self._step(method)
        except Exception as exc:  # one broken method must not lose the others
            log(f"  {method.info.key} raised {exc!r}")
            return {"seconds": 0.0, "rows": None, "exit": -1, "peak_rss_mb": 0.0,
                    "error": repr(exc), "expected_rows": method.expected_rows}  # fmt: skip

    def _step(self, method: Method) -> dict[str, Any]:
        state = method.prepare(self.ctx)
        waited = (
            settle(self.args.settle_max, self.baseline_cores)
            if method.info.kind == "purge"
            else 0.0
        )
        loadavg = os.getloadavg()
        if self.args.no_load:
            result = method.run(self.ctx, state)
        else:
            result = self._under_load(method, state)
        self.last_seconds[method.info.key] = result["seconds"]
        if method.info.kind == "purge":
            result.update(clean_up_after(self.args.cleanup_max, self.baseline_cores))
        result["expected_rows"] = method.expected_rows
        result["settle_seconds"] = waited
        result["loadavg_before"] = [round(x, 2) for x in loadavg]
        return result

    def _under_load(self, method: Method, state: Any) -> dict[str, Any]:
        load = ProdLoad(self.ctx.schema, self.args.rate, self.args.connections)
        server = measure.mariadbd_pid()
        load.start()
        try:
            time.sleep(1.0)  # connections open, first transactions done: not part of idle
            idle_start, cpu0 = time.monotonic(), measure.server_cpu_seconds(server)
            time.sleep(self.idle_seconds(method.info.key))
            step_start, cpu1 = time.monotonic(), measure.server_cpu_seconds(server)
            result = method.run(self.ctx, state)
            step_end = time.monotonic()
        finally:
            load.stop()
        idle, busy = load.stats(idle_start, step_start), load.stats(step_start, step_end)
        result.update(idle=idle, step=busy, p99_inflation=_inflation(idle, busy))
        if cpu0 is not None and cpu1 is not None and result.get("server_cpu_s") is not None:
            rate = (cpu1 - cpu0) / (step_start - idle_start)
            result["idle_server_cpu_per_s"] = round(rate, 4)
            result["server_cpu_net_s"] = round(
                result["server_cpu_s"] - rate * (step_end - step_start), 3
            )
        return result


def _inflation(idle: dict[str, Any], busy: dict[str, Any]) -> float | None:
    if not idle.get("p99_ms") or busy.get("p99_ms") is None:
        return None
    return round(busy["p99_ms"] / idle["p99_ms"], 2)


def wait_for_quiet(threshold: float, limit: float) -> dict[str, Any]:
    """Before a run: wait (bounded) for the 1-min load average to drop; then record it and what
    the server uses with nothing of ours running (a busy idle server distorts every number)."""
    deadline = time.monotonic() + limit
    while os.getloadavg()[0] > threshold and time.monotonic() < deadline:
        time.sleep(5)
    cores = server_cores(2.0)
    return {
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "server_idle_cores": None if cores is None else round(cores, 2),
    }


def warm_up(ctx: peers.Ctx) -> None:
    """Read the big day once, untimed, through the time index (its index and row pages).

    The previous run's purges restore a third of the table and the 10x day's export reads another
    schema, and the first run may follow a server restart (4.3 s cold against ~1.2 s warm): the
    run's first method, the reference, must not be the one that warms the pages for the others.
    """
    m = peers.mysql_time_index(ctx)
    log(f"  warm-up read of the big day: {m['seconds']:.2f} s")


def run_all(stepper: Stepper, todo: list[Method], runs: int) -> tuple[list[dict], list[dict]]:
    """Every method once per run, in the same order every run (A B A B…)."""
    results: list[dict[str, Any]] = []
    before_runs = []
    for i in range(runs):
        before_runs.append(wait_for_quiet(stepper.args.quiet_load, stepper.args.quiet_wait))
        stepper.baseline_cores = before_runs[-1]["server_idle_cores"] or 0.0
        log(f"run {i + 1}/{runs}: {before_runs[-1]}")
        warm_up(stepper.ctx)
        one: dict[str, Any] = {}
        for method in todo:
            log(f"  {method.info.key} …")
            one[method.info.key] = r = stepper.step(method)
            p99 = r.get("p99_inflation")
            log(f"  {method.info.key}: {r['seconds']:.2f} s, rows {r['rows']}, exit {r['exit']}, "
                f"RSS {r['peak_rss_mb']:.0f} MB, p99 ×{p99}")  # fmt: skip
            if r["exit"]:
                log(f"  {method.info.key} FAILED: {r.get('error') or r.get('stderr_tail')}")
        results.append(one)
    return results, before_runs


# --- environment ---------------------------------------------------------------------------------


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "?"


def _server_vars() -> dict[str, Any]:
    conn = data.connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT VERSION(), @@innodb_buffer_pool_size")
        version, pool = cur.fetchone()
        return {"version": version, "buffer_pool_mib": int(pool) // 2**20}
    finally:
        conn.close()


def machine_info() -> dict[str, Any]:
    mem = next(
        line
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "?",
    )
    server = _server_vars()
    import pandas

    speedups = subprocess.run(
        [str(BIN / "python"), "-c", "import dbarchive._speedups"], capture_output=True
    )
    return {
        "cores (nproc)": os.cpu_count(),
        "cpu": cpu,
        "RAM": f"{int(mem.split()[1]) / 2**20:.1f} GiB",
        "kernel": platform.release(),
        "MariaDB": f"{server['version']} (innodb_buffer_pool_size {server['buffer_pool_mib']} MiB)",
        "Python": platform.python_version(),
        "dbarchive": _version([str(BIN / "dbarchive"), "--version"])
        + (" (C speedups loaded)" if speedups.returncode == 0 else " (pure Python encoder)"),
        "git commit": _version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        + " (working tree may hold uncommitted changes)",
        "pt-archiver": _version(["pt-archiver", "--version"]),
        "mysql client": _version(["mysql", "--version"]),
        "zstd": _version(["zstd", "-V"]),
        "gzip": _version(["gzip", "--version"]),
        "SeaweedFS": _version([str(s3server.WEED), "version"]),
        "pandas": pandas.__version__,
    }


@contextlib.contextmanager
def buffer_pool(mib: int) -> Iterator[None]:
    """Grow the InnoDB buffer pool so the table is cached (as in PERFORMANCE.md); put it back after.
    First puts back an innodb_max_dirty_pages_pct that a killed checkpoint() left at 0."""
    conn = data.connect()
    with contextlib.closing(conn):  # a bench killed in checkpoint() left the server flushing at 0
        restore_dirty_pages_pct(conn.cursor())
    before = _server_vars()["buffer_pool_mib"]
    if not mib or before >= mib:
        yield
        return
    conn = data.connect()
    try:
        conn.cursor().execute(f"SET GLOBAL innodb_buffer_pool_size = {mib * 2**20}")
        log(f"innodb_buffer_pool_size {before} → {mib} MiB for the run")
        yield
    finally:
        conn.cursor().execute(f"SET GLOBAL innodb_buffer_pool_size = {before * 2**20}")
        conn.close()


def table_size(schema: str) -> tuple[float, float]:
    """(MB with indexes, data bytes per row) from information_schema (estimates, after ANALYZE)."""
    conn = data.connect()
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT data_length, index_length, table_rows FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = 'events'",
            (schema,),
        )
        data_len, index_len, rows = cur.fetchone()
        return (data_len + index_len) / 1e6, data_len / max(rows, 1)
    finally:
        conn.close()


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=3_000_000, help="rows in the main table")
    p.add_argument("--runs", type=int, default=3, help="runs (every method once per run)")
    p.add_argument(
        "--big-factor",
        type=int,
        default=10,
        help="size of the memory-check day vs the big day (0: skip)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--schema", default="dbarchive_bench")
    p.add_argument("--rate", type=float, default=200.0, help="production transactions/s")
    p.add_argument("--connections", type=int, default=4, help="production connections")
    p.add_argument("--no-load", action="store_true", help="no production load (no latency numbers)")
    p.add_argument(
        "--idle-seconds", type=float, default=10.0, help="idle window before a method's first run"
    )
    p.add_argument("--idle-max", type=float, default=60.0, help="longest idle window")
    p.add_argument(
        "--quiet-load", type=float, default=1.5, help="wait before a run while loadavg is above"
    )
    p.add_argument("--quiet-wait", type=float, default=60.0, help="…for at most this many seconds")
    p.add_argument(
        "--settle-max", type=float, default=30.0, help="longest wait for a quiet server (purges)"
    )
    p.add_argument(
        "--cleanup-max",
        type=float,
        default=120.0,
        help="longest wait, after a purge, for InnoDB's clean-up of its deletes (measured)",
    )
    p.add_argument(
        "--buffer-pool-mib", type=int, default=2048, help="grow the buffer pool to this (0: leave)"
    )
    p.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the schemas (a rerun with the same plan reuses them)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    return p.parse_args(argv)


def x10_schema(args: argparse.Namespace) -> str:
    return f"{args.schema}_x{args.big_factor}"


def prepare_data(args: argparse.Namespace, plan: data.Plan) -> tuple[str, int] | None:
    """Generate (or reuse) the main schema and the 10x day's schema; snapshot the expired rows."""
    data.ensure(args.schema, plan, log)
    data.snapshot_expired(args.schema, plan)
    if not args.big_factor or plan.big_day is None:
        return None
    schema, rows = x10_schema(args), plan.rows_on(plan.big_day) * args.big_factor
    data.ensure(schema, data.single_day_plan(plan.big_day, rows, args.seed), log)
    return schema, rows


def add_purge_data_args(p: argparse.ArgumentParser) -> None:
    """The data options of the purge diagnostics (write_stalls.py, server_cost.py)."""
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--schema", default="dbarchive_frontier")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--buffer-pool-mib", type=int, default=2048)
    p.add_argument(
        "--variant", action="append", default=[], help="NAME=BASE:VAR=VALUE (variants.py)"
    )


@contextlib.contextmanager
def purge_bench(
    args: argparse.Namespace, prefix: str
) -> Iterator[tuple[peers.Ctx, data.Plan, int]]:
    """The data (generated once, its expired rows snapshotted for each step's restore), a grown
    buffer pool and a SeaweedFS server, for one diagnostic run: (context, plan, mariadbd's pid)."""
    plan = data.standard_plan(args.rows, seed=args.seed)
    server = measure.mariadbd_pid()
    assert server is not None, "no local mariadbd"
    measure.SERVER_PID = server
    with (
        buffer_pool(args.buffer_pool_mib),
        s3server.seaweedfs() as s3,
        tempfile.TemporaryDirectory(prefix=prefix) as work,
    ):
        data.ensure(args.schema, plan, log)
        data.snapshot_expired(args.schema, plan)
        yield make_ctx(args, plan, s3, Path(work)), plan, server


def result_head(script: str, argv: list[str] | None) -> dict[str, Any]:
    """When, how (the command line) and at which commit a diagnostic ran."""
    head = ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]
    return {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": f"bench/{script} " + " ".join(argv or sys.argv[1:]),
            "commit": _version(head)}  # fmt: skip


def write_result(out: Path, result: dict[str, Any], markdown: Callable[[dict], str]) -> None:
    """``out`` (.md) and the same name in .json."""
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    out.write_text(markdown(result))
    log(f"wrote {out}")


def make_ctx(
    args: argparse.Namespace, plan: data.Plan, s3: s3server.S3Server, work: Path
) -> peers.Ctx:
    bucket = "dbarchive-bench"
    s3.client().create_bucket(Bucket=bucket)
    assert plan.big_day is not None
    return peers.Ctx(
        schema=args.schema, day=plan.big_day, day_rows=plan.rows_on(plan.big_day),
        today=plan.today, cutoff=plan.cutoff, expired_rows=plan.expired_rows,
        expired_first=plan.expired_days[0], s3_url=s3.url, s3_env=s3.env(), bucket=bucket,
        work=work,
    )  # fmt: skip


def plan_info(
    plan: data.Plan, args: argparse.Namespace, day_bytes: int, x10: Any
) -> dict[str, Any]:
    table_mb, per_row = table_size(args.schema)
    return {
        "rows": plan.rows, "first_day": plan.days[0][0], "last_day": plan.days[-1][0],
        "big_day": plan.big_day, "big_day_rows": plan.rows_on(plan.big_day or plan.today),
        "big_day_text_mb": day_bytes / 1e6, "cutoff": plan.cutoff,
        "expired_rows": plan.expired_rows, "x10_rows": x10[1] if x10 else 0,
        "table_mb": table_mb, "bytes_per_row": per_row,
    }  # fmt: skip


def command(argv: list[str]) -> str:
    if not argv:
        return "make bench"
    return f"make bench BENCH_ARGS={shlex.quote(' '.join(argv))}"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    plan = data.standard_plan(args.rows, seed=args.seed)
    log(f"plan: {plan.rows:,} rows, big day {plan.big_day}, cutoff {plan.cutoff}")
    try:
        with (
            buffer_pool(args.buffer_pool_mib),
            s3server.seaweedfs() as s3,
            tempfile.TemporaryDirectory(prefix="dbarchive-bench-work-") as work,
        ):
            log(f"SeaweedFS at {s3.url}")
            x10 = prepare_data(args, plan)
            ctx = make_ctx(args, plan, s3, Path(work))
            day_bytes = peers.day_text_bytes(ctx)
            data_info = plan_info(plan, args, day_bytes, x10)
            machine = machine_info()
            todo = methods(ctx, plan, x10)
            runs, before_runs = run_all(Stepper(ctx, args), todo, args.runs)
    finally:
        if not args.keep_data:
            data.drop(args.schema)
            data.drop(x10_schema(args))
    summary = {m.info.key: report.summarize_method(m.info, runs, day_bytes) for m in todo}
    result = {
        "finished_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command(argv),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine,
        "plan": data_info,
        "before_runs": before_runs,
        "summary": summary,
        "targets": report.targets(runs, summary),
        "runs": runs,
        "total_seconds": round(time.monotonic() - _T0, 1),
    }
    report.write(result, args.out, args.json)
    log(f"wrote {args.out} and {args.json} in {result['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()

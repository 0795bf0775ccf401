"""The impact frontier (issue 20, section 3): how fast each purge goes at a given gentleness.

Usage: .venv/bin/python bench/frontier.py [--rows 450000] [--runs 3] [--modes pinned,unpinned]
       (or `make bench-frontier`)

Every purge setting below deletes the same expired rows (restored, untimed, before each) under the
fixed-rate production load of bench/prodload.py; each point of the frontier is (production p99
inflation, rows/s). The purges compared: pt-archiver row by row, `--bulk-delete`, and
`--bulk-delete --limit 5000 --sleep 1` (its whole-second sleep: at 1000 rows a chunk that is
~1,000 rows/s, off the chart); dbarchive with no budget and with
`latency_budget` 3, 2 and 1.5. Every purge stops after `--cap` seconds (pt-archiver `--run-time`,
dbarchive `max_runtime`), so rows/s is rows deleted / seconds whether or not it finished.
The exports: the days inside retention with and without `latency_budget = 2.0`; and one day
(`--replica-day-rows`) from a private primary/replica pair, read from the primary and from the replica (`read_url`): the
primary's CPU for each is measured on a run without the production load (with it, the load's own
CPU would drown the difference), then the p99 on a run under the load.

**pinned** (the figure for "what does the database host feel"): mariadbd and the production load on
core 0, every client (dbarchive and its probe, pt-archiver, the S3 server) on core 1, as in
production where the worker runs on another host. **unpinned**: the scheduler places everything
on both cores (as `make bench`). Both modes alternate within each run.

Every p99 is over the same number of production transactions (`--p99-transactions`, thinned evenly
over the step when it had more), against an idle window of that many transactions just before.
Writes bench/results/frontier.{md,json,png} (or --out's name with those suffixes) and, for the
default --out, its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import data
import measure
import peers
import run as bench
import s3server
from prodload import ProdLoad
from server_signals import ServerSignals

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SERVER_CORE, CLIENT_CORE = "0", "1"
log = bench.log


@dataclass(frozen=True)
class Setting:
    """One point to measure: untimed preparation, then the measured command."""

    key: str
    label: str
    kind: str  # purge | export | replica
    tool: str  # dbarchive | pt-archiver
    run: Callable[[peers.Ctx, Any], dict[str, Any]]
    prepare: Callable[[peers.Ctx], Any] = lambda ctx: None


# --- the purge settings ---------------------------------------------------------------------------

# Settings of A/Bs whose question is answered (BENCHMARKS.md says how): kept so those A/Bs can be
# run again by name (``--only``, write_stalls.py, variants.py), left out of the complete run.
SETTLED = frozenset({
    "dba_b2_write", "dba_b2_noredo", "dba_none_redo", "dba_b2_redo75", "dba_b2_floor2",
    "dba_b2_ct01", "dba_b2_ct003", "dba_r6k_ct003", "dba_r6k_s50", "dba_b2_whole", "dba_r6k_s1",
    "dba_export_b2_write",
})  # fmt: skip


def chosen(settings: list[Setting], only: set[str]) -> list[Setting]:
    """The settings named in ``only``; with none named, the complete run's (all but SETTLED)."""
    if only:
        return [s for s in settings if s.key in only]
    return [s for s in settings if s.key not in SETTLED]


def _pt_purge(ctx: peers.Ctx, cap: float, *extra: str) -> dict[str, Any]:
    cmd = [
        "pt-archiver", "--source", peers._pt_dsn(ctx.schema),
        "--where", f"created_at < '{ctx.cutoff}'", "--purge", "--commit-each",
        "--no-version-check", "--run-time", f"{int(cap)}s", *extra,
    ]  # fmt: skip
    return peers._purge_result(ctx, measure.run(cmd))


# A probe that commits a one-row write to a table of its own, as the application's transactions
# do, instead of the default primary-key read: it also feels the redo log and the flushes a purge
# loads (`probe_query` is a documented setting; the table is dbarchive's, not the application's).
WRITE_PROBE_TABLE = "dbarchive_probe"
WRITE_PROBE = f"UPDATE {WRITE_PROBE_TABLE} SET n = n + 1 WHERE id = 1"


def _budget_throttle(
    budget: float | None, cap: float, probe: str | None = None, **more: float
) -> str:
    """The ``[throttle]`` section of one setting; ``more``: other throttle settings by name."""
    lines = [f"max_runtime = {cap:g}"]
    if budget is not None:
        lines.append(f"latency_budget = {budget:g}")
    if probe is not None:
        lines.append(f'probe_query = "{probe}"')
    lines += [f"{name} = {value:g}" for name, value in more.items()]
    return "[throttle]\n" + "\n".join(lines) + "\n\n"


def _write_probe_table(schema: str) -> None:
    conn = data.connect(schema)
    try:
        cur = conn.cursor()
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {WRITE_PROBE_TABLE} (id INT PRIMARY KEY, n BIGINT)"
        )
        cur.execute(f"INSERT IGNORE INTO {WRITE_PROBE_TABLE} VALUES (1, 0)")
    finally:
        conn.close()


def purge_settings(plan: data.Plan, cap: float) -> list[Setting]:
    def restore(ctx: peers.Ctx) -> None:
        data.restore_expired(ctx.schema, plan)

    def archived(
        key: str, budget: float | None, probe: str | None, **more: float
    ) -> Callable[[peers.Ctx], Path]:
        """Archive the expired days into a fresh prefix without the budget (an export with one
        would be paced, and this part is untimed), then the purge's config for that prefix."""

        def prepare(ctx: peers.Ctx) -> Path:
            restore(ctx)
            if probe is not None:
                _write_probe_table(ctx.schema)
            prefix = f"frontier-{key}-{time.time_ns()}"
            plain = peers.dbarchive_config(ctx, f"{key}-archive", ctx.schema, prefix)
            last = ctx.cutoff - dt.timedelta(days=1)
            m = measure.run(
                [str(peers.BIN / "dbarchive"), "export", "-c", str(plain),
                 "--from", str(ctx.expired_first), "--to", str(last), "-q"],
                env=ctx.s3_env,
            )  # fmt: skip
            if m.exit:
                raise RuntimeError(f"archiving the expired days failed: {m.stderr[-800:]}")
            return peers.dbarchive_config(
                ctx, key, ctx.schema, prefix, extra=_budget_throttle(budget, cap, probe, **more)
            )

        return prepare

    def pt(key: str, label: str, *extra: str) -> Setting:
        return Setting(key, label, "purge", "pt-archiver",
                       lambda c, _: _pt_purge(c, cap, *extra), restore)  # fmt: skip

    def dba(
        key: str, label: str, budget: float | None, probe: str | None = None, **more: float
    ) -> Setting:
        return Setting(
            key, label, "purge", "dbarchive", peers.dbarchive_purge,
            archived(key, budget, probe, **more),
        )  # fmt: skip

    return [
        pt("pt_row", "pt-archiver row by row (--limit 1000)", "--limit", "1000"),
        pt("pt_bulk", "pt-archiver --bulk-delete (--limit 1000)", "--limit", "1000", "--bulk-delete"),
        pt("pt_bulk5000_sleep1", "pt-archiver --bulk-delete --limit 5000 --sleep 1",
           "--limit", "5000", "--bulk-delete", "--sleep", "1"),
        dba("dba_none", "dbarchive, no budget (defaults)", None),
        dba("dba_b3", "dbarchive, latency_budget = 3", 3.0),
        dba("dba_b2", "dbarchive, latency_budget = 2", 2.0),
        dba("dba_b1_5", "dbarchive, latency_budget = 1.5", 1.5),
        dba("dba_b2_write", "dbarchive, latency_budget = 2, write probe", 2.0, WRITE_PROBE),
        # The budget keeps the redo log under 65 % full by default; without that ceiling (a fill
        # of 1 is never reached) it is the probe alone. And the ceiling alone, without a budget.
        dba("dba_b2_noredo", "dbarchive, latency_budget = 2, no redo ceiling", 2.0, max_redo_fill=1),
        dba("dba_none_redo", "dbarchive, max_redo_fill = 0.65, no budget", None, max_redo_fill=0.65),
        # Where the budget's rate is lost: a ceiling between MariaDB's asynchronous (70 %) and
        # synchronous (80 %) flushing points, where the server flushes hard instead of lazily;
        # and a probe floor above a sub-millisecond probe's scheduler noise.
        dba("dba_b2_redo75", "dbarchive, latency_budget = 2, max_redo_fill = 0.75", 2.0,
            max_redo_fill=0.75),
        dba("dba_b2_floor2", "dbarchive, latency_budget = 2, probe_floor_ms = 2", 2.0,
            probe_floor_ms=2),
        # The same rate in shorter bursts: the cap bounds a chunk to cap x chunk_time rows.
        dba("dba_b2_ct01", "dbarchive, latency_budget = 2, chunk_time = 0.1", 2.0, chunk_time=0.1),
        dba("dba_b2_ct003", "dbarchive, latency_budget = 2, chunk_time = 0.03", 2.0,
            chunk_time=0.03),
        # A fixed rate, no budget (chunks of max_rate x chunk_time rows): what the server feels
        # at pt-archiver row-by-row's rate, the point the budget's law should approach.
        dba("dba_r8k", "dbarchive, max_rate = 8000", None, max_rate=8000),
        # At pt-archiver row by row's rate here (5,700-7,900 rows/s): equal rate, who is gentler.
        dba("dba_r6k", "dbarchive, max_rate = 6000", None, max_rate=6000),
        dba("dba_r6k_ct003", "dbarchive, max_rate = 6000, chunk_time = 0.03", None,
            max_rate=6000, chunk_time=0.03),
        # A chunk's read and DELETE in statements of 50 rows (the budget's default since 7c525c8),
        # at the same fixed rate; and the budget with one statement per chunk, as before it.
        dba("dba_r6k_s50", "dbarchive, max_rate = 6000, statement_rows = 50", None,
            max_rate=6000, statement_rows=50),
        dba("dba_b2_whole", "dbarchive, latency_budget = 2, one statement per chunk", 2.0,
            statement_rows=100_000),
        # pt-archiver's one-row statements at the same rate: is that what makes it gentle?
        dba("dba_r6k_s1", "dbarchive, max_rate = 6000, statement_rows = 1", None,
            max_rate=6000, statement_rows=1),
    ]  # fmt: skip


# --- the export settings --------------------------------------------------------------------------


def _export_range(
    ctx: peers.Ctx, name: str, schema: str, first: dt.date, last: dt.date, extra: str = ""
) -> dict[str, Any]:
    """`dbarchive export --from first --to last` of ``schema`` into a fresh prefix."""
    prefix = f"{name}-{time.time_ns()}"
    cfg = peers.dbarchive_config(ctx, name, schema, prefix, "zstd", extra)
    # Plain output, not --json: its last line is the throttle's, and stderr has each decision
    # (INFO). Not -v: its DEBUG flood, decoded by this process, starves the load's threads here.
    m = measure.run(
        [str(peers.BIN / "dbarchive"), "export", "-c", str(cfg), "--from", str(first),
         "--to", str(last)],
        env={**ctx.s3_env, "DBARCHIVE_PROGRESS_SECONDS": "3600"},
    )  # fmt: skip
    records = plain_records(m.stdout)
    days = [r for r in records if r.get("result") in ("published", "unchanged")]
    rows = sum(int(r["rows"]) for r in days) if m.exit == 0 else None
    result = peers._result(m, rows, sum(int(r["bytes"]) for r in days))
    if throttle := [r for r in records if r.get("result") == "throttle"]:
        result["throttle"] = throttle[-1]
        result["throttle_decisions"] = throttle_decisions(m.stderr)
    return result


_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def plain_records(text: str) -> list[dict[str, str]]:
    """The ``key=value`` lines a command prints when stdout is not a terminal."""
    records = []
    for line in text.splitlines():
        pairs = {k: json.loads(v) if v.startswith('"') else v for k, v in _PAIR.findall(line)}
        if "result" in pairs:
            records.append(pairs)
    return records


_DECISION = re.compile(r"^(\S+ \S+) \w+ throttle (\w+) \((\w+)\): (.*)$")


def throttle_decisions(log_text: str, keep: int = 40) -> dict[str, Any]:
    """The throttle's decisions in a log (its INFO lines): how many of each (action/reason), the
    first ``keep`` of them with their time, so a slow budgeted export says why."""
    counts: dict[str, int] = {}
    first: list[str] = []
    for line in log_text.splitlines():
        found = _DECISION.match(line)
        if found is None:
            continue
        stamp, action, reason, message = found.groups()
        key = f"{action}/{reason}"
        counts[key] = counts.get(key, 0) + 1
        if len(first) < keep:
            first.append(f"{stamp[-12:]} {key}: {message}")
    return {"counts": counts, "first": first}


def shm_export_settings(plan: data.Plan, shm: peers.Ctx) -> list[Setting]:
    """The two exports again into a second SeaweedFS whose files are on a tmpfs (``--shm-ab``):
    in production the object store is on other hosts, here it shares the database's disk."""
    first, last = plan.cutoff, plan.today - dt.timedelta(days=1)

    def export(key: str, label: str, extra: str) -> Setting:
        return Setting(key, label, "export", "dbarchive",
                       lambda c, _: _export_range(shm, key, c.schema, first, last, extra))  # fmt: skip

    return [
        export("dba_export_shm", "dbarchive export, no budget, S3 files on tmpfs", ""),
        export("dba_export_b2_shm", "dbarchive export, latency_budget = 2, S3 files on tmpfs",
               _budget_throttle(2.0, 3600)),
    ]  # fmt: skip


def export_settings(plan: data.Plan) -> list[Setting]:
    first, last = plan.cutoff, plan.today - dt.timedelta(days=1)

    def export(key: str, label: str, extra: str, probe_table: bool = False) -> Setting:
        return Setting(key, label, "export", "dbarchive",
                       lambda c, _: _export_range(c, key, c.schema, first, last, extra),
                       (lambda c: _write_probe_table(c.schema)) if probe_table else lambda c: None)  # fmt: skip

    return [
        export("dba_export", "dbarchive export, no budget", ""),
        export("dba_export_b2", "dbarchive export, latency_budget = 2", _budget_throttle(2.0, 3600)),
        export("dba_export_b2_write", "dbarchive export, latency_budget = 2, write probe",
               _budget_throttle(2.0, 3600, WRITE_PROBE), probe_table=True),
    ]  # fmt: skip


# --- the replica pair -----------------------------------------------------------------------------


@dataclass
class Pair:
    """A private primary/replica (tests/integration/replication.py's servers) holding one day."""

    primary_port: int
    replica_port: int
    primary_pid: int
    replica_pid: int
    database: str

    def url(self, port: int) -> str:
        return f"mysql://root@127.0.0.1:{port}/{self.database}"


@contextlib.contextmanager
def replica_pair(ctx: peers.Ctx, day_schema: str) -> Iterator[Pair]:
    """Start the pair, copy ``day_schema``'s events (one big day) and the load's orders table into
    it, and wait until the replica has applied them."""
    sys.path.insert(0, str(ROOT))
    from tests.integration import replication as repl

    workdir = Path(tempfile.mkdtemp(prefix="dbarchive-frontier-repl-"))
    servers: list[Any] = []
    try:
        repl._install(workdir / "primary-data", workdir)
        shutil.copytree(workdir / "primary-data", workdir / "replica-data", symlinks=True)
        roles = {
            "primary": ["--server-id=1", "--log-bin=binlog", "--binlog-format=ROW",
                        "--innodb-buffer-pool-size=512M"],
            "replica": ["--server-id=2", "--read-only=1", "--relay-log=relay",
                        "--skip-slave-start", "--innodb-buffer-pool-size=512M"],
        }  # fmt: skip
        taken: set[int] = set()
        for role, extra in roles.items():
            taken.add(port := repl._free_port(taken))
            servers.append(repl._start(role, workdir, workdir / f"{role}-data", port, extra))
        for server in servers:
            if not repl._wait_ready(server):
                raise RuntimeError(f"{server.name} mariadbd lost its port")
        primary, replica = servers
        repl._set_up_replication(primary, replica)
        _copy_into(ctx, day_schema, primary.port, repl.DATABASE)
        p, r = repl.connect(primary.port), repl.connect(replica.port)
        try:
            repl.wait_caught_up(p, r, timeout=600)
        finally:
            p.close()
            r.close()
        yield Pair(primary.port, replica.port, primary.proc.pid, replica.proc.pid, repl.DATABASE)
    finally:
        for server in reversed(servers):
            repl._stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


def _copy_into(ctx: peers.Ctx, day_schema: str, port: int, database: str) -> None:
    """mysqldump the day's events and the orders table into the pair's primary (untimed)."""
    opts = "-h127.0.0.1 -P3306 -uroot --default-character-set=utf8mb4 --single-transaction"
    dump = (
        f"mysqldump {opts} {ctx.schema} {data.ORDERS}; mysqldump {opts} {day_schema} {data.TABLE}"
    )
    load = f"mysql -h127.0.0.1 -P{port} -uroot --default-character-set=utf8mb4 {database}"
    subprocess.run(["bash", "-o", "pipefail", "-c", f"({dump}) | {load}"], check=True)


def replica_settings(pair: Pair, rows: int) -> list[Setting]:
    def export(key: str, label: str, read_url: str | None) -> Setting:
        def go(ctx: peers.Ctx, _: Any) -> dict[str, Any]:
            source = f'[source]\nurl = "{pair.url(pair.primary_port)}"\n'
            if read_url:
                source += f'read_url = "{read_url}"\n'
            prefix = f"{key}-{time.time_ns()}"
            cfg = ctx.work / f"{key}.toml"
            cfg.write_text(
                f'{source}\n[destination]\nurl = "s3://{ctx.bucket}/{prefix}"\n'
                f'endpoint_url = "{ctx.s3_url}"\nregion = "us-east-1"\n\n'
                '[defaults]\nformat = "csv"\ncompression = "zstd"\nretention = "57 days"\n\n'
                '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
            )
            cpu0 = measure.server_cpu_seconds(pair.primary_pid)
            m = measure.run(
                [str(peers.BIN / "dbarchive"), "export", "-c", str(cfg), "--date", str(ctx.day),
                 "-q", "--json"],
                env=ctx.s3_env,
            )  # fmt: skip
            cpu1 = measure.server_cpu_seconds(pair.primary_pid)
            summary = (peers._json(m.stdout) or [{}])[0]
            result = peers._result(m, summary.get("rows"), summary.get("bytes"))
            result["primary_cpu_s"] = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
            return result

        return Setting(key, label.format(rows=rows), "replica", "dbarchive", go)

    return [
        export("dba_from_primary", "dbarchive export of one day ({rows:,} rows), read from the primary", None),
        export("dba_from_replica", "dbarchive export of one day ({rows:,} rows), read_url = the replica",
               pair.url(pair.replica_port)),
    ]  # fmt: skip


# --- pinning --------------------------------------------------------------------------------------


def _taskset(pid: int, cores: str) -> None:
    subprocess.run(["taskset", "-a", "-p", "-c", cores, str(pid)], check=True, capture_output=True)


@contextlib.contextmanager
def pinning(mode: str, server_pids: list[int], client_pids: list[int]) -> Iterator[None]:
    """pinned: servers and this process (the production load's threads) on core 0, every
    measured command and the client-side daemons on core 1; put back on every core after."""
    if mode == "unpinned":
        yield
        return
    every = f"0-{(os.cpu_count() or 2) - 1}"
    for pid in server_pids:
        _taskset(pid, SERVER_CORE)
    for pid in client_pids:
        _taskset(pid, CLIENT_CORE)
    os.sched_setaffinity(0, {int(SERVER_CORE)})  # threads started from now on inherit it
    measure.CLIENT_PREFIX = ["taskset", "-c", CLIENT_CORE]
    try:
        yield
    finally:
        measure.CLIENT_PREFIX = []
        os.sched_setaffinity(0, set(range(os.cpu_count() or 2)))
        for pid in server_pids + client_pids:
            with contextlib.suppress(subprocess.CalledProcessError):
                _taskset(pid, every)


# --- one measured step ----------------------------------------------------------------------------


def step(
    ctx: peers.Ctx, args: argparse.Namespace, setting: Setting, schema: str, port: int = 3306
) -> dict[str, Any]:
    """Prepare (untimed), then an idle window and the step under the production load."""
    try:
        state = setting.prepare(ctx)
        flushed = bench.checkpoint(60.0) if setting.kind == "purge" and port == 3306 else {}
        if setting.kind == "purge":
            bench.settle(30.0, args.baseline_cores)
        alone = setting.run(ctx, state) if setting.kind == "replica" else {}  # CPU without load
        load = ProdLoad(schema, args.rate, args.connections, port)
        signals = ServerSignals(port) if args.signals else None
        n = args.p99_transactions
        cpu_before = measure.cpu_times()
        load.start()
        if signals:
            signals.start()
        try:
            time.sleep(1.0)
            idle_start = time.monotonic()
            time.sleep(n / args.rate)
            step_start = time.monotonic()
            result = setting.run(ctx, state)
            step_end = time.monotonic()
        finally:
            load.stop()
            if signals:
                signals.stop()
        idle = load.stats(idle_start, step_start, n)
        busy = load.stats(step_start, step_end, n)
        result.update(idle=idle, step=busy, p99_inflation=bench._inflation(idle, busy))
        if signals:
            result["signals"] = {"idle": signals.stats(idle_start, step_start),
                                 "step": signals.stats(step_start, step_end)}  # fmt: skip
        result["steal_pct"] = measure.steal_percent(cpu_before, measure.cpu_times())
        result.update(flushed)
        if alone:
            result["primary_cpu_alone_s"] = alone.get("primary_cpu_s")
        if setting.kind == "purge":
            result.update(bench.clean_up_after(60.0, args.baseline_cores))
        return result
    except Exception as exc:  # one broken setting must not lose the others
        log(f"  {setting.key} raised {exc!r}")
        return {"seconds": 0.0, "rows": None, "exit": -1, "error": repr(exc)}


def _line(key: str, r: dict[str, Any]) -> str:
    rate = r["rows"] / r["seconds"] if r.get("rows") and r.get("seconds") else None
    return (
        f"  {key}: {r['seconds']:.1f} s, rows {r.get('rows')}, "
        f"{'-' if rate is None else f'{rate:,.0f}'} rows/s, p99 x{r.get('p99_inflation')}, "
        f"exit {r.get('exit')}"
    )


# --- summary, report, plot ------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return round(statistics.median(clean), 3) if clean else None


def run_idle_p99(one: dict[str, Any], kinds: dict[str, str]) -> dict[str, float]:
    """One run and mode's idle p99 per server: the median of the idle windows' p99s of its
    steps (the replica settings' load runs on the pair's primary, so theirs apart).

    Each step's own idle window is 5 s of transactions just before it, and its p99 is in effect
    their tenth-worst: one hiccup of the host (here idle p99s of one run range from 1.6 to 47 ms)
    sets the denominator of that step's inflation alone. The host is the same for every step of
    a run, so the median of its 8-12 windows measures its idle p99 far more steadily; the step's
    own ratio is kept beside it."""
    by_server: dict[str, list[float]] = {}
    for key, x in one.items():
        idle = x.get("idle", {}).get("p99_ms") if isinstance(x, dict) else None
        if key.startswith("_") or not idle or key not in kinds:
            continue
        by_server.setdefault(_server(kinds[key]), []).append(idle)
    return {server: statistics.median(values) for server, values in by_server.items()}


def _server(kind: str) -> str:
    """Which server a setting's load ran on: the replica pair's primary, or the main one."""
    return "pair" if kind == "replica" else "main"


def with_run_inflation(runs: list[dict[str, Any]], settings: list[Setting]) -> None:
    """Add ``p99_vs_run_idle`` (step p99 / ``run_idle_p99``) to every step of ``runs``."""
    kinds = {s.key: s.kind for s in settings}
    for run in runs:
        for one in run.values():
            base = run_idle_p99(one, kinds)
            for key, x in one.items():
                if key.startswith("_") or key not in kinds:
                    continue
                step_p99, idle = x.get("step", {}).get("p99_ms"), base.get(_server(kinds[key]))
                if step_p99 and idle:
                    x["p99_vs_run_idle"] = round(step_p99 / idle, 2)


def summarize(runs: list[dict[str, Any]], settings: list[Setting]) -> dict[str, Any]:
    """Per mode and setting: medians over runs of rows/s, p99 inflation, idle/step p99."""
    with_run_inflation(runs, settings)
    out: dict[str, Any] = {}
    for mode in {m for r in runs for m in r}:
        out[mode] = {}
        for s in settings:
            results = [r[mode][s.key] for r in runs if s.key in r.get(mode, {})]
            ok = [x for x in results if x.get("rows") and x.get("seconds")]
            out[mode][s.key] = {
                "label": s.label, "kind": s.kind, "tool": s.tool, "runs": len(results),
                "ok_runs": len(ok),
                "rows_per_s": _median([x["rows"] / x["seconds"] for x in ok]),
                "rows_per_s_each": [round(x["rows"] / x["seconds"]) for x in ok],
                "p99_inflation": _median([x.get("p99_inflation") for x in ok]),
                "p99_inflation_each": [x.get("p99_inflation") for x in ok],
                "p99_vs_run_idle": _median([x.get("p99_vs_run_idle") for x in ok]),
                "p99_vs_run_idle_each": [x.get("p99_vs_run_idle") for x in ok],
                "idle_p99_ms": _median([x.get("idle", {}).get("p99_ms") for x in ok]),
                "step_p99_ms": _median([x.get("step", {}).get("p99_ms") for x in ok]),
                "primary_cpu_s": _median([x.get("primary_cpu_alone_s") for x in ok]),
                "steal_pct": _median([x.get("steal_pct") for x in ok]),
                "rows": _median([x["rows"] for x in ok]),
                "seconds": _median([x["seconds"] for x in ok]),
            }  # fmt: skip
    return out


def _ratio_each(
    runs: list[dict[str, Any]], mode: str, num: str, den: str, field: str
) -> list[float]:
    """num/den per run (both from the same run and mode): what a same-run comparison means."""
    values = []
    for r in runs:
        a, b = r.get(mode, {}).get(num), r.get(mode, {}).get(den)
        if not a or not b:
            continue
        if field == "rows_per_s":
            x = a["rows"] / a["seconds"] if a.get("rows") else None
            y = b["rows"] / b["seconds"] if b.get("rows") else None
        else:
            x, y = a.get(field), b.get(field)
        if x is not None and y:
            values.append(x / y)
    return values


def targets(runs: list[dict[str, Any]], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, per mode, with a verdict computed from the medians."""
    out = []
    for mode, s in sorted(summary.items()):

        def add(
            name: str, value: float | None, goal: str, met: bool | None, mode: str = mode
        ) -> None:
            out.append({"mode": mode, "target": name, "goal": goal,
                        "value": None if value is None else round(value, 3),
                        "verdict": "n/a" if met is None else "met" if met else "not met"})  # fmt: skip

        b2 = s.get("dba_b2", {})
        add(
            "purge, latency_budget = 2: p99 inflation",
            b2.get("p99_inflation"),
            "<= 2.5x",
            None if b2.get("p99_inflation") is None else b2["p99_inflation"] <= 2.5,
        )
        add(
            "purge, latency_budget = 2: p99 against the run's idle p99",
            b2.get("p99_vs_run_idle"),
            "<= 2.5x",
            None if b2.get("p99_vs_run_idle") is None else b2["p99_vs_run_idle"] <= 2.5,
        )
        vs_row = _median(_ratio_each(runs, mode, "dba_b2", "pt_row", "rows_per_s"))
        add(
            "purge, latency_budget = 2: rows/s vs pt-archiver row by row",
            vs_row,
            ">= 1.0x",
            None if vs_row is None else vs_row >= 1.0,
        )
        vs_bulk = _median(_ratio_each(runs, mode, "dba_none", "pt_bulk", "rows_per_s"))
        add(
            "purge, no budget: rows/s vs pt-archiver --bulk-delete",
            vs_bulk,
            ">= 1.0x",
            None if vs_bulk is None else vs_bulk >= 1.0,
        )
        e2 = s.get("dba_export_b2", {})
        add(
            "export, latency_budget = 2: p99 inflation",
            e2.get("p99_inflation"),
            "<= 2x",
            None if e2.get("p99_inflation") is None else e2["p99_inflation"] <= 2.0,
        )
        add(
            "export, latency_budget = 2: p99 against the run's idle p99",
            e2.get("p99_vs_run_idle"),
            "<= 2x",
            None if e2.get("p99_vs_run_idle") is None else e2["p99_vs_run_idle"] <= 2.0,
        )
        e_rate = _median(_ratio_each(runs, mode, "dba_export_b2", "dba_export", "rows_per_s"))
        add(
            "export, latency_budget = 2: rows/s vs the unbudgeted export",
            e_rate,
            ">= 0.8x",
            None if e_rate is None else e_rate >= 0.8,
        )
        cpu = _median(_ratio_each(runs, mode, "dba_from_replica", "dba_from_primary",
                                  "primary_cpu_alone_s"))  # fmt: skip
        add(
            "export from a replica: primary's CPU vs reading from the primary",
            cpu,
            "< 5 %",
            None if cpu is None else cpu < 0.05,
        )
    return out


def plot(summary: dict[str, Any], path: Path) -> None:
    """rows/s against p99 inflation, one marker per purge setting, one panel per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    modes = sorted(summary)
    fig, axes = plt.subplots(1, len(modes), figsize=(6.5 * len(modes), 5), squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        for s in summary[mode].values():
            if s["kind"] != "purge" or s["rows_per_s"] is None or s["p99_inflation"] is None:
                continue
            dba = s["tool"] == "dbarchive"
            ax.scatter(s["p99_inflation"], s["rows_per_s"], marker="o" if dba else "s",
                       color="tab:blue" if dba else "tab:orange", s=60)  # fmt: skip
            ax.annotate(s["label"].replace("dbarchive, ", "").replace("pt-archiver ", "pt "),
                        (s["p99_inflation"], s["rows_per_s"]), fontsize=7,
                        xytext=(6, -10) if dba else (-6, 5), textcoords="offset points",
                        ha="left" if dba else "right",
                        color="tab:blue" if dba else "tab:orange")  # fmt: skip
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}×"))
        ax.xaxis.set_minor_formatter(
            FuncFormatter(lambda x, _: f"{x:g}×" if f"{x:g}"[0] in "235" else "")
        )
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.set_xlabel("production p99 inflation (x idle p99), log scale: left is gentler")
        ax.set_ylabel("rows deleted per second")
        ax.set_title(
            f"purge frontier, {mode}"
            + (" (client on core 1, server on core 0)" if mode == "pinned" else ""),
            fontsize=10,
        )
        ax.axvline(2.5, color="grey", linestyle=":", linewidth=1)
        ax.grid(True, alpha=0.3)
    fig.text(0.01, 0.01, "blue circles: dbarchive; orange squares: pt-archiver. Medians of runs.",
             fontsize=8)  # fmt: skip
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


SECTION_START, SECTION_END = "<!-- frontier:start -->", "<!-- frontier:end -->"


def _flushed_start(result: dict[str, Any]) -> list[str]:
    """The sentence saying each purge started from a flushed redo log, when it did."""
    steps = [r for run in result["runs"] for mode in run.values() for r in mode.values()]
    if not any("redo_fill_before" in r for r in steps):
        return []
    return [
        "Every purge starts from a flushed redo log: after its restore (330,000 rows rewritten), "
        "InnoDB flushes until the log is under 5 % full (`bench/run.py` `checkpoint`), as on a "
        "server at rest, so no method pays for the bench's own restore.",
        "",
    ]


def markdown(result: dict[str, Any], image: str = "frontier.png", level: str = "#") -> str:
    lines = [
        f"{level} Impact frontier (issue 20; {result['finished_at']}, commit {result['commit']})",
        "",
        f"`{result['command']}`: {result['args']['runs']} runs, modes {result['args']['modes']}, "
        f"{result['plan']['rows']:,} rows, {result['plan']['expired_rows']:,} expired, production "
        f"load {result['args']['rate']:g} tx/s, every p99 over {result['args']['p99_transactions']} "
        f"transactions, purges capped at {result['args']['cap']:g} s. Medians over runs "
        "(per-run values in brackets).",
        "",
        *_flushed_start(result),
        "pinned = mariadbd and the production load on core 0, every client (dbarchive and its probe "
        "process, pt-archiver, SeaweedFS, the replica) on core 1 (`taskset`); unpinned = both cores "
        "shared.",
        "",
        "p99 inflation = the step's p99 over the p99 of its own idle window just before it; p99 vs "
        "the run's idle p99 = over the median of the idle windows' p99s of every step of the same "
        "run and mode (one window's p99 is its tenth-worst transaction: a hiccup of the host sets "
        "it; the median of a run's windows is steadier).",
        "",
        f"![frontier]({image})",
        "",
    ]
    for mode, settings in sorted(result["summary"].items()):
        lines += [f"{level}# {mode}", ""]
        lines += _table(SETTING_COLUMNS, [_setting_row(s) for s in settings.values()])
        lines.append("")
    lines += ["## Targets", ""]
    lines += _table(
        ["mode", "target", "goal", "median", "verdict"],
        [[t["mode"], t["target"], t["goal"], t["value"], t["verdict"]] for t in result["targets"]],
    )
    return "\n".join(lines) + "\n"


SETTING_COLUMNS = [
    "setting",
    "rows/s",
    "p99 inflation",
    "p99 vs the run's idle p99",
    "idle p99 ms",
    "step p99 ms",
    "primary's CPU s, no load",
    "CPU stolen %",
]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A markdown table's lines, so every table of the report has the same shape."""
    return [_table_row(header), "|" + "---|" * len(header), *map(_table_row, rows)]


def _table_row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _setting_row(s: dict[str, Any]) -> list[Any]:
    """One purge or export setting's cells: medians, each run's value in brackets."""
    rate = "–" if s["rows_per_s"] is None else f"{s['rows_per_s']:,.0f}"
    each = ", ".join(f"{x:,}" for x in s["rows_per_s_each"])
    infl = "–" if s["p99_inflation"] is None else f"{s['p99_inflation']:.2f}×"
    infl_each = ", ".join(f"{x}" for x in s["p99_inflation_each"])
    pooled = s.get("p99_vs_run_idle")
    pooled_cell = "–" if pooled is None else f"{pooled:.2f}×"
    pooled_each = ", ".join(f"{x}" for x in s.get("p99_vs_run_idle_each", []))
    cpu = "" if s["primary_cpu_s"] is None else f"{s['primary_cpu_s']:.2f}"
    return [
        s["label"],
        f"{rate} [{each}]",
        f"{infl} [{infl_each}]",
        f"{pooled_cell} [{pooled_each}]",
        s["idle_p99_ms"],
        s["step_p99_ms"],
        cpu,
        "" if s.get("steal_pct") is None else s["steal_pct"],
    ]


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--modes", default="pinned,unpinned")
    p.add_argument("--cap", type=float, default=45.0, help="seconds every purge may run")
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--p99-transactions", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--schema", default="dbarchive_frontier")
    p.add_argument(
        "--only", default="", help="comma-separated setting keys (default: all but SETTLED)"
    )
    p.add_argument("--signals", action="store_true", help="sample server signals (a diagnostic)")
    p.add_argument("--no-replica", action="store_true", help="skip the primary/replica exports")
    p.add_argument(
        "--shm-ab", action="store_true", help="also export into a SeaweedFS on /dev/shm (A/B)"
    )
    p.add_argument("--replica-day-rows", type=int, default=400_000, help="rows of the pair's day")
    p.add_argument("--keep-data", action="store_true")
    p.add_argument("--buffer-pool-mib", type=int, default=2048, help="grow it to this (0: leave)")
    p.add_argument("--out", type=Path, default=RESULTS / "frontier.md")
    p.add_argument("--rerender", type=Path, help="write --out again from this .json's runs")
    return p.parse_args(argv)


def _replace_section(path: Path, text: str) -> None:
    """This script's section of BENCHMARKS.md (kept by bench/report.py when `make bench` rewrites
    the rest), replaced in place or appended."""
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = current.find(SECTION_START), current.find(SECTION_END)
    if start >= 0 and end > start:
        rest = current[end + len(SECTION_END) :].lstrip("\n")
        current = current[:start] + text + ("\n" + rest if rest else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current)


def _weed_pids() -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "weed"]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.rerender:
        rerender(args.rerender, args.out)
        return
    modes = [m for m in args.modes.split(",") if m]
    plan = data.standard_plan(args.rows, seed=args.seed)
    measure.SERVER_PID = measure.mariadbd_pid()
    server = measure.SERVER_PID
    assert server is not None, "no local mariadbd"
    runs: list[dict[str, Any]] = []
    log(f"plan: {plan.rows:,} rows, {plan.expired_rows:,} expired, modes {modes}")
    try:
        with (
            bench.buffer_pool(args.buffer_pool_mib),
            s3server.seaweedfs() as s3,
            tempfile.TemporaryDirectory(prefix="dbarchive-frontier-") as work,
        ):
            data.ensure(args.schema, plan, log)
            data.snapshot_expired(args.schema, plan)
            ctx = bench.make_ctx(args, plan, s3, Path(work))
            settings = purge_settings(plan, args.cap) + export_settings(plan)
            with contextlib.ExitStack() as stack:
                if args.shm_ab:
                    shm = stack.enter_context(s3server.seaweedfs(Path("/dev/shm")))
                    shm_ctx = bench.make_ctx(args, plan, shm, Path(work))
                    settings += shm_export_settings(plan, shm_ctx)
                pair = None
                if not args.no_replica:
                    day_plan = data.single_day_plan(ctx.day, args.replica_day_rows, args.seed)
                    data.ensure(day_schema(args), day_plan, log)
                    pair = stack.enter_context(replica_pair(ctx, day_schema(args)))
                if pair:
                    log(f"replica pair: primary :{pair.primary_port}, replica :{pair.replica_port}")
                    settings += replica_settings(pair, args.replica_day_rows)
                settings = chosen(settings, {k for k in args.only.split(",") if k})
                for i in range(args.runs):
                    runs.append(one_run(ctx, args, settings, modes, server, pair, i))
                    write(args, plan, settings, runs, argv)  # partial results survive a stop
    finally:
        if not args.keep_data:
            data.drop(args.schema)
            data.drop(day_schema(args))


def day_schema(args: argparse.Namespace) -> str:
    """The replica exports' day (bigger than the main table's: fixed costs must not dominate)."""
    return f"{args.schema}_day"


def one_run(
    ctx: peers.Ctx,
    args: argparse.Namespace,
    settings: list[Setting],
    modes: list[str],
    server: int,
    pair: Pair | None,
    index: int,
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for mode in modes:
        quiet = bench.wait_for_quiet(1.5, 60.0)
        args.baseline_cores = quiet["server_idle_cores"] or 0.0
        log(f"run {index + 1}/{args.runs}, {mode}: {quiet}")
        servers = [server] + ([pair.primary_pid] if pair else [])
        clients = _weed_pids() + ([pair.replica_pid] if pair else [])
        with pinning(mode, servers, clients):
            bench.warm_up(ctx)
            one: dict[str, Any] = {"_quiet": quiet}
            for s in settings:
                schema, port = ctx.schema, 3306
                if s.kind == "replica" and pair is not None:
                    schema, port = pair.database, pair.primary_port
                one[s.key] = r = step(ctx, args, s, schema, port)
                log(_line(s.key, r))
        result[mode] = one
    return result


def rerender(source: Path, out: Path) -> None:
    """A stored result's report written again from its runs (after the report gained a column):
    same runs, same command, time and commit; the settings from its summary."""
    stored = json.loads(source.read_text())
    labels: dict[str, dict[str, Any]] = {}
    for by_key in stored["summary"].values():
        labels.update(by_key)
    settings = [
        Setting(key, s["label"], s["kind"], s["tool"], lambda ctx, _: {})
        for key, s in labels.items()
    ]
    stored["summary"] = summarize(stored["runs"], settings)
    stored["targets"] = targets(stored["runs"], stored["summary"])
    _write_files(stored, out)


def write(
    args: argparse.Namespace,
    plan: data.Plan,
    settings: list[Setting],
    runs: list[dict[str, Any]],
    argv: list[str],
) -> None:
    summary = summarize(runs, settings)
    result = {
        "finished_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": bench._version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "command": "make bench-frontier" + (f" FRONTIER_ARGS='{' '.join(argv)}'" if argv else ""),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "plan": {"rows": plan.rows, "expired_rows": plan.expired_rows, "cutoff": str(plan.cutoff)},
        "summary": summary,
        "targets": targets(runs, summary),
        "runs": runs,
    }
    _write_files(result, args.out)


def _write_files(result: dict[str, Any], out: Path) -> None:
    """``out`` (.md), its .json and .png; for the default ``out``, BENCHMARKS.md's section."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    plot(result["summary"], out.with_suffix(".png"))
    out.write_text(markdown(result, out.with_suffix(".png").name))
    if out == RESULTS / "frontier.md":  # the real results: BENCHMARKS.md quotes them
        section = markdown(result, "bench/results/frontier.png", "##")
        _replace_section(ROOT / "BENCHMARKS.md", f"{SECTION_START}\n{section}{SECTION_END}\n")
    log(f"wrote {out} and its .json and .png ({len(result['runs'])} runs)")


if __name__ == "__main__":
    main()

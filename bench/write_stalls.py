"""Where production's time goes during a purge or an export (a diagnostic for issue 20's budget).

Runs frontier purge or export settings (`--only`, default: no budget and the redo ceiling alone)
under the production load of bench/prodload.py, as bench/frontier.py does, and records beside it:
- each production statement's time (the order insert, the order update, the event insert, the
  COMMIT) and how late each transaction started (behind its connection's previous one);
- two probes timed side by side on the client core, as the throttle's probe is: the default
  primary-key read of the newest event, and a one-row UPDATE of a table of the bench's own
  (each an autocommit write);
- the redo log's fill (Innodb_checkpoint_age over the log's capacity, MariaDB) 20x a second.

It answers "what does the application wait for, and which signal sees it". SeaweedFS keeps its
files under $TMPDIR (the database's disk unless TMPDIR says otherwise; the run records which).
Usage:
  PYTHONPATH=src:bench .venv/bin/python bench/write_stalls.py [--only dba_none,dba_none_redo]
      [--modes pinned] [--runs 1] [--variant NAME=BASE:VAR=VALUE (bench/variants.py)]
Writes bench/results/write-stalls.{md,json} (or --out's name).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import data
import frontier
import measure
import run as bench
import variants
from prodload import ProdLoad, _quantile
from server_signals import ServerSignals

from dbarchive.sources import redo_log
from dbarchive.throttle_control import BASELINE_SAMPLES, baseline_p99

STATEMENTS = ("late", "insert order", "update order", "insert event", "commit")
READ = f"SELECT id FROM {data.TABLE} ORDER BY id DESC LIMIT 1"
WRITE = f"UPDATE {frontier.WRITE_PROBE_TABLE} SET n = n + 1 WHERE id = 1"


class Probe:
    """One ``dbarchive.sources.probe_worker`` process (on the client core when pinned),
    timing ``query`` 20 times a second; keeps (start, seconds) of each probe."""

    def __init__(self, schema: str, query: str) -> None:
        order = {"settings": {"url": f"mysql://root@127.0.0.1:3306/{schema}"}, "password": None,
                 "query": query, "interval": 0.05}  # fmt: skip
        cmd = [*measure.CLIENT_PREFIX, sys.executable, "-m", "dbarchive.sources.probe_worker"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(order) + "\n")
        self.proc.stdin.flush()
        self.times: list[tuple[float, float]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            kind, *fields = line.split()
            if kind == "e":
                self.times.append((float(fields[0]), float(fields[1])))

    def _values(self, start: float, end: float) -> list[float]:
        """The probe times (s) of the probes started in [start, end), sorted."""
        return sorted(s for t, s in self.times if start <= t < end)

    def stats(self, start: float, end: float) -> dict[str, Any]:
        values = self._values(start, end)
        if not values:
            return {"count": 0}
        return {
            "count": len(values),
            "p99_ms": _ms(_quantile(values, 0.99)),
            "max_ms": _ms(values[-1]),
        }

    def budget_view(self, idle: tuple[float, float], step: tuple[float, float]) -> dict[str, Any]:
        """What a ``latency_budget = 2`` would see: the baseline taken as the throttle takes it,
        over the idle window, and the share of probes beyond twice it in each window (a p99
        limit allows 1 %; the throttle cuts on more)."""
        idle_values = self._values(*idle)
        if len(idle_values) < BASELINE_SAMPLES:
            return {}
        limit = 2 * baseline_p99(idle_values)[0]
        view: dict[str, Any] = {"baseline_ms": _ms(limit / 2), "limit_ms": _ms(limit)}
        for name, (a, b) in (("idle", idle), ("step", step)):
            values = self._values(a, b)
            share = sum(v > limit for v in values) / len(values) if values else None
            view[f"{name}_beyond_pct"] = None if share is None else round(100 * share, 2)
        return view

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def statement_stats(load: ProdLoad, start: float, end: float) -> dict[str, Any]:
    """Each statement's p99, and its mean over the slowest 1 % of transactions (what they
    waited for)."""
    rows = load.statement_times(start, end)
    if not rows:
        return {}
    parts = [(late, *times) for _, late, times in rows]
    worst = sorted(parts, key=sum)[-max(1, len(parts) // 100) :]
    return {
        name: {"p99_ms": _ms(_quantile(sorted(p[i] for p in parts), 0.99)),
               "worst_1pct_mean_ms": _ms(sum(p[i] for p in worst) / len(worst))}
        for i, name in enumerate(STATEMENTS)
    }  # fmt: skip


def redo_fill(signals: ServerSignals, start: float, end: float, size: int) -> dict[str, Any]:
    """The redo log's fill (checkpoint age over ``size``) over the samples in [start, end), read
    as the throttle reads it (MariaDB's age, or MySQL 8.0.30's pair of LSNs)."""
    window = [v for t, v in signals.samples if start <= t < end]
    ages = [
        a
        for v in window
        if (a := redo_log.age_from_status([(k, int(x)) for k, x in v.items()])) is not None
    ]
    if not ages:
        return {}
    return {"mean": round(sum(ages) / len(ages) / size, 3), "max": round(max(ages) / size, 3)}


def one_step(ctx: Any, args: argparse.Namespace, setting: frontier.Setting) -> dict[str, Any]:
    state = setting.prepare(ctx)
    frontier._write_probe_table(ctx.schema)
    flushed = bench.checkpoint(60.0)
    bench.settle(30.0, args.baseline_cores)
    size = flushed.pop("redo_capacity")
    if not size:
        raise RuntimeError("the server does not tell its redo log's capacity")
    load = ProdLoad(ctx.schema, args.rate, args.connections, statements=True)
    signals = ServerSignals()
    probes = {"read probe": Probe(ctx.schema, READ), "write probe": Probe(ctx.schema, WRITE)}
    load.start()
    signals.start()
    try:
        time.sleep(1.0)
        idle = time.monotonic()
        time.sleep(args.p99_transactions / args.rate)
        begin = time.monotonic()
        result = setting.run(ctx, state)
        end = time.monotonic()
    finally:
        load.stop()
        signals.stop()
        for probe in probes.values():
            probe.close()
    windows = {"idle": (idle, begin), "step": (begin, end)}
    out: dict[str, Any] = {"rows": result.get("rows"), "seconds": result.get("seconds"), **flushed,
                           "throttle": result.get("throttle")}  # fmt: skip
    for name, (a, b) in windows.items():
        out[name] = {
            "production": load.stats(a, b, args.p99_transactions),
            "statements": statement_stats(load, a, b),
            **{k: p.stats(a, b) for k, p in probes.items()},
            "redo_fill": redo_fill(signals, a, b, size),
        }
    out["budget_view"] = probes["read probe"].budget_view(windows["idle"], windows["step"])
    out["p99_inflation"] = bench._inflation(out["idle"]["production"], out["step"]["production"])
    bench.clean_up_after(60.0, args.baseline_cores)
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Where production's time goes during a purge or an export", "",
        f"{result['at']} · `{result['command']}` · commit `{result['commit']}` · "
        f"SeaweedFS's files in `{result.get('tmpdir', '/tmp')}`", "",
        "Per step: production's p99 (and inflation over its idle window), each statement's p99 "
        "and its mean over the slowest 1 % of transactions (`late`: behind the connection's "
        "previous transaction), the read and write probes (p99 / max ms, on the client core "
        "when pinned), the redo log's fill (checkpoint age / the log's capacity: mean, max), and "
        "what `latency_budget = 2` would see on the read probe: the baseline as the throttle "
        "takes it over the idle window, and the share of probes beyond twice it, idle and in the "
        "step (a p99 limit allows 1 %).",
        "",
        "| run | mode | setting | rows/s | prod p99 ms (x idle) | slowest 1 %: late / ins order / "
        "upd order / ins event / commit ms | read probe p99 / max | write probe p99 / max | "
        "redo fill mean / max | budget 2: baseline ms, beyond 2x idle / step % |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for i, run_ in enumerate(result["runs"]):
        for mode, steps in run_.items():
            for key, r in steps.items():
                s = r["step"]
                worst = " / ".join(
                    f"{s['statements'][n]['worst_1pct_mean_ms']:g}" for n in STATEMENTS
                )
                rate = r["rows"] / r["seconds"] if r.get("rows") and r.get("seconds") else 0
                lines.append(
                    f"| {i + 1} | {mode} | {key} | {rate:,.0f} | {s['production']['p99_ms']} "
                    f"(x{r['p99_inflation']}) | {worst} | {s['read probe'].get('p99_ms')} / "
                    f"{s['read probe'].get('max_ms')} | {s['write probe'].get('p99_ms')} / "
                    f"{s['write probe'].get('max_ms')} | {s['redo_fill'].get('mean')} / "
                    f"{s['redo_fill'].get('max')} | {_view(r.get('budget_view') or {})} |"
                )
    return "\n".join(lines) + "\n"


def _view(view: dict[str, Any]) -> str:
    if not view:
        return ""
    return f"{view['baseline_ms']}, {view['idle_beyond_pct']} / {view['step_beyond_pct']}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--modes", default="pinned")
    p.add_argument("--only", default="dba_none,dba_none_redo")
    p.add_argument("--cap", type=float, default=45.0)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--p99-transactions", type=int, default=1000)
    p.add_argument("--out", type=Path, default=frontier.RESULTS / "write-stalls.md")
    bench.add_purge_data_args(p)
    args = p.parse_args(argv)
    runs: list[dict[str, Any]] = []
    with bench.purge_bench(args, "dbarchive-stalls-") as (ctx, plan, server):
        every = [*frontier.purge_settings(plan, args.cap), *frontier.export_settings(plan)]
        settings = {s.key: s for s in every}
        for spec in args.variant:
            extra = variants.parse(spec, settings)
            settings[extra.key] = extra
        keys = [k for k in args.only.split(",") if k] + [v.split("=", 1)[0] for v in args.variant]
        for _ in range(args.runs):
            one: dict[str, Any] = {}
            for mode in args.modes.split(","):
                quiet = bench.wait_for_quiet(1.5, 60.0)
                args.baseline_cores = quiet["server_idle_cores"] or 0.0
                with frontier.pinning(mode, [server], frontier._weed_pids()):
                    bench.warm_up(ctx)
                    one[mode] = {k: one_step(ctx, args, settings[k]) for k in keys}
                    for k, r in one[mode].items():
                        bench.log(
                            f"  {mode} {k}: p99 x{r['p99_inflation']}, redo {r['step']['redo_fill']}"
                        )
            runs.append(one)
    result = {**bench.result_head("write_stalls.py", argv), "tmpdir": tempfile.gettempdir(),
              "runs": runs}  # fmt: skip
    bench.write_result(args.out, result, markdown)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

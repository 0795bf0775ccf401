"""What a purge costs the database server per row deleted, with no production load.

Each purge setting of bench/frontier.py (`--only`) deletes the same expired rows from the same
flushed, quiet start; the server's CPU time (mariadbd's, from /proc) is taken over the command
and over InnoDB's clean-up after it, and the server's own counters (SHOW GLOBAL STATUS) over the
command, each divided by the rows deleted. Under a production load the same work is what the
application's transactions queue behind on the server's cores, so this answers "which tool
costs the server more per row, and in which statements" without the load's noise.

`--variant NAME=BASE:VAR=VALUE[;VAR=VALUE]` runs setting BASE again with one thing changed
(bench/variants.py: its environment, or a server variable); each run interleaves all settings.
Pinned (`--modes pinned`): the server on core 0, every client command on core 1.
Usage:
  PYTHONPATH=src:bench .venv/bin/python bench/server_cost.py [--only pt_row,dba_none]
      [--runs 3] [--variant NAME=BASE:VAR=VALUE]
Writes bench/results/server-cost.{md,json} (or --out's name).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
from pathlib import Path
from typing import Any

import data
import frontier
import run as bench
import variants

# Counters per row deleted: statements sent, rows the handler touched, what InnoDB wrote.
COUNTERS = (
    "Questions", "Com_select", "Com_delete", "Com_commit", "Com_show_status", "Bytes_sent",
    "Bytes_received", "Handler_read_key", "Handler_read_next", "Handler_delete",
    "Innodb_rows_read", "Innodb_buffer_pool_read_requests", "Innodb_buffer_pool_write_requests",
    "Innodb_lsn_current", "Innodb_os_log_written", "Innodb_data_written",
)  # fmt: skip


def status() -> dict[str, int]:
    conn = data.connect()
    try:
        cur = conn.cursor()
        cur.execute("SHOW GLOBAL STATUS")
        values = dict(cur.fetchall())
    finally:
        conn.close()
    return {k: int(values[k]) for k in COUNTERS if k in values}


def one_step(ctx: Any, args: argparse.Namespace, setting: frontier.Setting) -> dict[str, Any]:
    state = setting.prepare(ctx)
    flushed = bench.checkpoint(60.0)
    bench.settle(30.0, args.baseline_cores)
    before = status()
    result = setting.run(ctx, state)
    after = status()
    rows = result.get("rows") or 0
    out: dict[str, Any] = {
        "rows": rows, "seconds": result.get("seconds"), "exit": result.get("exit"),
        "server_cpu_s": result.get("server_cpu_s"), "client_cpu_s": result.get("client_cpu_s"),
        **flushed,
    }  # fmt: skip
    out.update(bench.clean_up_after(60.0, args.baseline_cores))
    if rows:
        out["per_row"] = {k: (after[k] - before[k]) / rows for k in after if k in before}
        cpu = (out["server_cpu_s"] or 0.0) - args.baseline_cores * (out["seconds"] or 0.0)
        out["server_us_per_row"] = round(cpu / rows * 1e6, 2)
        out["cleanup_us_per_row"] = round((out["cleanup_server_cpu_s"] or 0.0) / rows * 1e6, 2)
        out["client_us_per_row"] = round((out["client_cpu_s"] or 0.0) / rows * 1e6, 2)
    return out


def _median(values: list[float], digits: int = 2) -> float | None:
    return round(statistics.median(values), digits) if values else None


def markdown(result: dict[str, Any]) -> str:
    keys = list(dict.fromkeys(k for r in result["runs"] for k in r))
    lines = [
        "# What a purge costs the server per row deleted (no production load)", "",
        f"{result['at']} · `{result['command']}` · commit `{result['commit']}` · "
        f"{result['mode']}", "",
        "Medians of the runs (per run in the .json). Server CPU: mariadbd's CPU time over the "
        "command, less its idle level; clean-up: its CPU while InnoDB purged what the command "
        "left, after it. Counters: SHOW GLOBAL STATUS over the command, per row deleted (redo: "
        "the log sequence number's advance, InnoDB's background purge of the rows included as "
        "far as it ran meanwhile).", "",
        "| setting | rows/s | server µs/row | + clean-up µs/row | client µs/row | statements/row "
        "| handler reads/row | bytes sent/row | redo bytes/row | pages written/row |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for key in keys:
        rs = [r[key] for r in result["runs"] if key in r and r[key].get("per_row")]
        if not rs:
            lines.append(f"| {key} | failed | | | | | | | | |")
            continue

        def med(f: Any, rs: list[dict[str, Any]] = rs) -> float | None:
            return _median([f(r) for r in rs])

        pr = [r["per_row"] for r in rs]
        lines.append(
            f"| {key} | {med(lambda r: r['rows'] / r['seconds']):,.0f} "
            f"| {med(lambda r: r['server_us_per_row'])} | {med(lambda r: r['cleanup_us_per_row'])} "
            f"| {med(lambda r: r['client_us_per_row'])} "
            f"| {_median([p.get('Questions', 0) for p in pr], 4)} "
            f"| {_median([p.get('Handler_read_key', 0) + p.get('Handler_read_next', 0) for p in pr])} "
            f"| {_median([p.get('Bytes_sent', 0) for p in pr])} "
            f"| {_median([p.get('Innodb_lsn_current', 0) for p in pr])} "
            f"| {_median([p.get('Innodb_data_written', 0) / 16384 for p in pr])} |"
        )
    labels = {k: v for r in result.get("labels", [{}]) for k, v in r.items()}
    lines += ["", *[f"- `{k}`: {labels.get(k, '')}" for k in keys]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--modes", default="pinned", choices=["pinned", "unpinned"])
    p.add_argument("--only", default="pt_row,pt_bulk,dba_none")
    p.add_argument("--cap", type=float, default=300.0)
    p.add_argument("--out", type=Path, default=frontier.RESULTS / "server-cost.md")
    bench.add_purge_data_args(p)
    args = p.parse_args(argv)
    runs: list[dict[str, Any]] = []
    with bench.purge_bench(args, "dbarchive-cost-") as (ctx, plan, server):
        settings = {s.key: s for s in frontier.purge_settings(plan, args.cap)}
        todo = [settings[k] for k in args.only.split(",") if k]
        todo += [variants.parse(spec, settings) for spec in args.variant]
        for _ in range(args.runs):
            quiet = bench.wait_for_quiet(1.5, 60.0)
            args.baseline_cores = quiet["server_idle_cores"] or 0.0
            one: dict[str, Any] = {}
            with frontier.pinning(args.modes, [server], frontier._weed_pids()):
                bench.warm_up(ctx)
                for s in todo:
                    one[s.key] = r = one_step(ctx, args, s)
                    bench.log(f"  {s.key}: {r.get('rows')} rows, {r.get('server_us_per_row')} "
                              f"µs/row server, exit {r.get('exit')}")  # fmt: skip
            runs.append(one)
    result = {**bench.result_head("server_cost.py", argv), "mode": args.modes,
              "labels": [{s.key: s.label for s in todo}], "runs": runs}  # fmt: skip
    bench.write_result(args.out, result, markdown)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

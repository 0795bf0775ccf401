"""Purge settings against each other and against pt-archiver, under the production load.

Usage: .venv/bin/python bench/purge_tuning.py [--rows 3000000] [--runs 3] --variant NAME=TOML ...
       (each --variant is a label and the body of a [throttle] section, e.g.
        --variant 'c5k=max_chunk_rows = 5000' --variant 'c10k+s=max_chunk_rows = 10000
        sleep_coefficient = 0.5')

The same data, S3 server, production load and measuring as bench/run.py; every variant and
pt-archiver --bulk-delete purge the same expired rows in every run (A B A B…). Writes a table of
rows/s, ratio to pt-archiver, p99 and max latency to bench/results/purge_tuning.md (and .json).
It is how the default [throttle] settings were chosen; it does not replace the suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import data
import peers
import report
import run
import s3server

OUT = run.ROOT / "bench" / "results" / "purge_tuning"


def _variant_methods(plan: data.Plan, variants: list[tuple[str, str]]) -> list[run.Method]:
    def restore(ctx: peers.Ctx) -> None:
        data.restore_expired(ctx.schema, plan)

    def prepared(body: str) -> Any:
        def prepare(ctx: peers.Ctx) -> Path:
            restore(ctx)
            return peers.prepare_dbarchive_purge(ctx, False, f"[throttle]\n{body}\n\n")

        return prepare

    n = plan.expired_rows
    out = [
        run.Method(
            report.MethodInfo("pt_purge_bulk", "pt-archiver --purge --bulk-delete --limit 1000", "purge"),
            lambda c, _: peers.pt_archiver_purge(c, bulk=True), n, restore,
        )
    ]  # fmt: skip
    for label, body in variants:
        info = report.MethodInfo(label, f"dbarchive purge, [throttle] {body!r}", "purge")
        out.append(run.Method(info, peers.dbarchive_purge, n, prepared(body)))
    return out


def _summary(runs: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    rows = []
    for key in keys:
        results = [r[key] for r in runs if key in r and not r[key].get("exit")]
        rates = [r["rows"] / r["seconds"] for r in results if r.get("rows") and r["seconds"]]
        ratios = [
            (r[key]["rows"] / r[key]["seconds"]) / (r["pt_purge_bulk"]["rows"] / r["pt_purge_bulk"]["seconds"])
            for r in runs
            if r.get(key, {}).get("rows") and r.get("pt_purge_bulk", {}).get("rows")
        ]  # fmt: skip
        rows.append({
            "method": key,
            "rows_per_s": statistics.median(rates) if rates else None,
            "vs_pt_bulk": statistics.median(ratios) if ratios else None,
            "p99_inflation": statistics.median([r["p99_inflation"] for r in results if r.get("p99_inflation")] or [0]),
            "p99_ms": statistics.median([r["step"]["p99_ms"] for r in results if r.get("step")] or [0]),
            "max_ms": max([r["step"]["max_ms"] for r in results if r.get("step")] or [0]),
            "longest_chunk_s": max([r.get("longest_chunk_seconds") or 0 for r in results] or [0]),
        })  # fmt: skip
    return rows


def _markdown(rows: list[dict[str, Any]], labels: dict[str, str], args: argparse.Namespace) -> str:
    head = (
        f"# Purge settings (bench/purge_tuning.py, {args.rows:,} rows, {args.runs} run(s), medians)\n\n"
        "| method | rows/s | vs pt-archiver bulk | p99 ms | p99 inflation | max ms | longest chunk s |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {labels[r['method']]} | {r['rows_per_s'] or 0:,.0f} | {r['vs_pt_bulk'] or 0:.2f}× | "
        f"{r['p99_ms']:.1f} | {r['p99_inflation']:.2f}× | {r['max_ms']:.0f} | {r['longest_chunk_s']:.3f} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", action="append", default=[], help="NAME=throttle TOML body")
    known, rest = p.parse_known_args(argv if argv is not None else sys.argv[1:])
    args = run.parse_args(rest)
    variants = [tuple(v.split("=", 1)) for v in known.variant] or [("default", "")]
    plan = data.standard_plan(args.rows, seed=args.seed)
    with (
        run.buffer_pool(args.buffer_pool_mib),
        s3server.seaweedfs() as s3,
        tempfile.TemporaryDirectory() as work,
    ):
        data.ensure(args.schema, plan, run.log)
        data.snapshot_expired(args.schema, plan)
        ctx = run.make_ctx(args, plan, s3, Path(work))
        todo = _variant_methods(plan, variants)  # type: ignore[arg-type]
        runs, _ = run.run_all(run.Stepper(ctx, args), todo, args.runs)
    labels = {m.info.key: m.info.label for m in todo}
    rows = _summary(runs, list(labels))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.with_suffix(".md").write_text(_markdown(rows, labels, args))
    OUT.with_suffix(".json").write_text(
        json.dumps({"summary": rows, "runs": runs}, indent=1, default=str)
    )
    print(OUT.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()

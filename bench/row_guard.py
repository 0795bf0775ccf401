"""What the export's row-length guard costs: the same export with and without it, in one run.

Every chunk statement of a table with a long column (TEXT/BLOB/JSON, or declared over 512) also
sums the row's long values as the archive writes them and compares that with
``max_allowed_packet`` (``sources/charsets.row_size_check``): one ``LENGTH()`` per long column
per row, and a ``CONVERT`` to utf8mb4 first for text in another charset. This script exports one
day of the bench's log table (``message TEXT`` and ``payload JSON``, utf8mb4) and of a copy whose
``message`` is latin1, to a local folder, each with the guard (the code as it is) and without
it (``row_size_check`` replaced by "no check" in the exporting process), interleaved run by run
(guard, none, guard, none, ...). Pinned: mariadbd on core 0, the export on core 1 (`taskset`).
No production load: the server's CPU seconds per million rows is the figure (from /proc, as
bench/measure.py takes it), with the export's wall time beside it.

Usage: PYTHONPATH=bench .venv/bin/python bench/row_guard.py [--rows 1000000] [--runs 5]
Writes bench/results/row-guard.{md,json}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import data
import frontier
import measure

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "dbarchive_bench_guard"
DAY = dt.date(2026, 1, 15)
TABLES = ("events", "events_latin1")
NO_GUARD = (
    "import sys, dbarchive.sources.mysql_catalog as m; m.row_size_check = lambda columns: (); "
    "from dbarchive.cli import main; sys.argv[0] = 'dbarchive'; sys.exit(main())"
)


def prepare(rows: int) -> None:
    """One day of ``rows`` rows in ``events``, and ``events_latin1`` with its message in latin1
    (characters latin1 lacks become '?': what matters is the charset, not the text)."""
    data.fill(None, SCHEMA, rows, first_day=str(DAY), days=1)
    conn = data.connect(SCHEMA)
    try:
        cur = conn.cursor()
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("DROP TABLE IF EXISTS events_latin1")
        cur.execute("CREATE TABLE events_latin1 LIKE events")
        cur.execute("ALTER TABLE events_latin1 MODIFY message TEXT CHARACTER SET latin1 NULL")
        cur.execute("INSERT INTO events_latin1 SELECT * FROM events")
        cur.execute("ANALYZE TABLE events, events_latin1")
        cur.fetchall()
    finally:
        conn.close()


def export(work: Path, table: str, guard: bool, run: int) -> dict[str, Any]:
    dest = work / f"{table}-{'guard' if guard else 'none'}-{run}"
    cfg = work / f"{dest.name}.toml"
    cfg.write_text(
        f'[source]\nurl = "mysql://root@127.0.0.1:3306/{SCHEMA}"\n'
        f'[destination]\nurl = "file://{dest}"\n'
        '[defaults]\nretention = "60 days"\n'
        f'[[tables]]\nname = "{table}"\ntimestamp_column = "created_at"\n'
    )
    args = ["export", "-c", str(cfg), "--date", str(DAY), "-q", "--json"]
    python = str(ROOT / ".venv" / "bin" / "python")
    cmd = (
        [str(ROOT / ".venv" / "bin" / "dbarchive"), *args]
        if guard
        else [python, "-c", NO_GUARD, *args]
    )
    m = measure.run(cmd)
    if m.exit != 0:
        raise SystemExit(f"export failed ({m.exit}): {m.stderr[-2000:]}")
    shutil.rmtree(dest, ignore_errors=True)
    summary = json.loads(m.stdout)[0]
    return {"seconds": m.seconds, "server_cpu_s": m.server_cpu_s, "rows": summary["rows"]}


def summarize(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for name, runs in results.items():
        rows = runs[0]["rows"]
        cpu = [r["server_cpu_s"] / rows * 1e6 for r in runs]
        wall = [rows / r["seconds"] for r in runs]
        out.append({"step": name, "rows": rows, "server_cpu_s_per_mrow": statistics.median(cpu),
                    "rows_per_s": statistics.median(wall), "server_cpu_runs": cpu,
                    "rows_per_s_runs": wall})  # fmt: skip
    return out


def report(summary: list[dict[str, Any]], args: argparse.Namespace, started: str) -> str:
    by = {s["step"]: s for s in summary}
    lines = [
        f"# The row-length guard's cost ({started}, {args.rows:,} rows, medians of {args.runs} "
        "runs; pinned: mariadbd on core 0, the export on core 1 by `taskset`; no load)",
        "",
        "| table | guard | server CPU s per 1M rows | rows/s | per run (CPU s/1M) |",
        "|---|---|---|---|---|",
    ]
    for table in TABLES:
        for guard in ("guard", "none"):
            s = by[f"{table}-{guard}"]
            runs = ", ".join(f"{v:.2f}" for v in s["server_cpu_runs"])
            lines.append(
                f"| {table} | {guard} | {s['server_cpu_s_per_mrow']:.2f} | "
                f"{s['rows_per_s']:,.0f} | {runs} |"
            )
    lines.append("")
    for table in TABLES:
        g, n = by[f"{table}-guard"], by[f"{table}-none"]
        lines.append(
            f"- {table}: the guard costs the server "
            f"{g['server_cpu_s_per_mrow'] / n['server_cpu_s_per_mrow']:.3f}× its CPU without it; "
            f"the export's rate {g['rows_per_s'] / n['rows_per_s']:.3f}×."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    prepare(args.rows)
    server = measure.mariadbd_pid()
    if server is None:
        sys.exit("no local mariadbd to pin")
    results: dict[str, list[dict[str, Any]]] = {
        f"{t}-{g}": [] for t in TABLES for g in ("guard", "none")
    }
    work = Path(tempfile.mkdtemp(prefix="row-guard-"))
    try:
        with frontier.pinning("pinned", [server], []):
            for table in TABLES:
                export(work, table, True, -1)  # warm the buffer pool with this table
                for run in range(args.runs):
                    for guard in (True, False) if run % 2 == 0 else (False, True):
                        name = f"{table}-{'guard' if guard else 'none'}"
                        results[name].append(export(work, table, guard, run))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = summarize(results)
    out = ROOT / "bench" / "results"
    (out / "row-guard.json").write_text(
        json.dumps({"started": started, "steps": summary}, indent=1)
    )
    (out / "row-guard.md").write_text(report(summary, args, started))
    print(report(summary, args, started))


if __name__ == "__main__":
    main()

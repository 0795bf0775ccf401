"""Turn the raw runs into medians, same-run ratios, target verdicts, BENCHMARKS.md and JSON.

Why ratios are computed per run and only then summarised: on a 2-core machine shared with other
work, absolute times drift between runs; a method and its reference measured back to back in the
same run drift together, so the median of per-run ratios is the number that means something.
Verdicts are computed here from the measurements, never written by hand.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE = "mysql_time"  # every export ratio is to the raw client through the time index
FULL_ROWS = 3_000_000


@dataclass(frozen=True)
class MethodInfo:
    key: str
    label: str
    kind: str  # export | memory | purge


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _ok(run: dict[str, Any]) -> bool:
    return run.get("exit") == 0 and run.get("rows") == run.get("expected_rows")


def _ratio(runs: list[dict[str, Any]], num: str, den: str, field: str = "seconds") -> float | None:
    """Median over runs of num[field] / den[field], both from the same run."""
    values = [
        r[num][field] / r[den][field]
        for r in runs
        if num in r and den in r and _ok(r[num]) and _ok(r[den]) and r[den][field]
    ]
    return _median(values)


def _rate_ratio(runs: list[dict[str, Any]], num: str, den: str) -> float | None:
    """Median over runs of rows/s of num divided by rows/s of den."""
    values = [
        (r[num]["rows"] / r[num]["seconds"]) / (r[den]["rows"] / r[den]["seconds"])
        for r in runs
        if num in r and den in r and _ok(r[num]) and _ok(r[den]) and r[den]["rows"]
    ]
    return _median(values)


def _settled_seconds(m: dict[str, Any]) -> float | None:
    """A purge's seconds including InnoDB's clean-up after it (None if not measured)."""
    cleanup = m.get("cleanup_seconds")
    return None if cleanup is None else float(m["seconds"]) + cleanup


def _settled_rate_ratio(runs: list[dict[str, Any]], num: str, den: str) -> float | None:
    """Like _rate_ratio, with each purge's seconds including InnoDB's clean-up after it."""
    values = []
    for r in runs:
        if num in r and den in r and _ok(r[num]) and _ok(r[den]) and r[den]["rows"]:
            a, b = _settled_seconds(r[num]), _settled_seconds(r[den])
            if a and b:
                values.append((r[num]["rows"] / a) / (r[den]["rows"] / b))
    return _median(values)


def summarize_method(
    info: MethodInfo, runs: list[dict[str, Any]], day_bytes: int
) -> dict[str, Any]:
    """Medians of one method over the runs (peak RSS: the worst run)."""
    mine = [r[info.key] for r in runs if info.key in r]
    good = [m for m in mine if _ok(m)]
    seconds = _median([m["seconds"] for m in good])
    rows = _median([m["rows"] for m in good])
    out: dict[str, Any] = {
        "label": info.label,
        "kind": info.kind,
        "runs_ok": len(good),
        "runs": len(mine),
        "exits": [m.get("exit") for m in mine],
        "seconds": seconds,
        "rows": rows,
        "rows_per_s": rows / seconds if seconds and rows else None,
        "mb_per_s": day_bytes / 1e6 / seconds if seconds and info.kind == "export" else None,
        "bytes_out": _median([m.get("bytes_out") for m in good]),
        "peak_rss_mb": max((m["peak_rss_mb"] for m in good), default=None),
        "client_cpu_s": _median([m["client_cpu_s"] for m in good]),
        "server_cpu_s": _median([m.get("server_cpu_net_s") for m in good]),
        "idle_p99_ms": _median([m["idle"]["p99_ms"] for m in good if m.get("idle")]),
        "step_p99_ms": _median([m["step"]["p99_ms"] for m in good if m.get("step")]),
        "step_max_ms": max((m["step"]["max_ms"] or 0 for m in good if m.get("step")), default=None),
        "p99_inflation": _median([m.get("p99_inflation") for m in good]),
    }
    if info.kind == "export":
        out["ratio_to_mysql"] = _ratio(runs, info.key, REFERENCE)
    if info.kind == "purge":
        out["cleanup_seconds"] = _median([m.get("cleanup_seconds") for m in good])
        out["cleanup_server_cpu_s"] = _median([m.get("cleanup_server_cpu_s") for m in good])
        settled = _median([_settled_seconds(m) for m in good])
        out["rows_per_s_settled"] = rows / settled if settled and rows else None
    for extra in ("delete_loop_seconds", "chunks", "longest_chunk_seconds", "scan"):
        values = [m[extra] for m in good if m.get(extra) is not None]
        if values:
            out[extra] = values[0] if isinstance(values[0], str) else max(values)
    return out


# --- targets -------------------------------------------------------------------------------------


def _target(name: str, value: float | None, goal: str, unit: str = "×") -> dict[str, Any]:
    """goal is '<= x' or '>= x'; met is None when the value could not be measured."""
    op, bound = goal.split()
    met = (
        None if value is None else (value <= float(bound) if op == "<=" else value >= float(bound))
    )
    shown = "not measured" if value is None else f"{value:.2f}{unit}"
    return {
        "target": name,
        "goal": f"{op} {bound}{unit}",
        "measured": shown,
        "value": value,
        "met": met,
    }


def _rss_spread(s: dict[str, dict[str, Any]]) -> float | None:
    one, ten = (
        s.get("dba_zstd", {}).get("peak_rss_mb"),
        s.get("dba_zstd_x10", {}).get("peak_rss_mb"),
    )
    return ten / one if one and ten else None


def targets(runs: list[dict[str, Any]], s: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of issue 5, evaluated on this run's numbers."""

    def rss(key: str) -> float | None:
        return s.get(key, {}).get("peak_rss_mb")

    def inflation(key: str) -> float | None:
        return s.get(key, {}).get("p99_inflation")

    spread = _rss_spread(s)
    return [
        _target("Export CSV zstd → S3: wall time vs `mysql` through the time index",
                _ratio(runs, "dba_zstd", REFERENCE), "<= 1.0"),
        _target("Export CSV zstd: times faster than pt-archiver",
                _ratio(runs, "pt_export", "dba_zstd"), ">= 8"),
        _target("Export CSV zstd: times faster than pandas / SqlToS3Operator",
                _ratio(runs, "pandas", "dba_zstd"), ">= 8"),
        _target("Export CSV gzip → S3: wall time vs `mysql | gzip -1`",
                _ratio(runs, "dba_gzip", "mysql_gzip"), "<= 1.0"),
        _target("Export peak RSS, big day (zstd)", rss("dba_zstd"), "<= 100", " MB"),
        _target("Export peak RSS, big day (gzip)", rss("dba_gzip"), "<= 100", " MB"),
        _target("Export peak RSS, 10× day (zstd)", rss("dba_zstd_x10"), "<= 100", " MB"),
        _target("Export peak RSS, 10× day / big day (same ±10 %)",
                None if spread is None else abs(spread - 1) * 100, "<= 10", " % apart"),
        _target("Export zstd: production p99 inflation", inflation("dba_zstd"), "<= 2.0"),
        _target("Export gzip: production p99 inflation", inflation("dba_gzip"), "<= 2.0"),
        _target("Purge, default settings: rows/s vs pt-archiver --bulk-delete --limit 1000",
                _rate_ratio(runs, "dba_purge_default", "pt_purge_bulk"), ">= 1.0"),
        _target("Purge, default settings: production p99 inflation",
                inflation("dba_purge_default"), "<= 2.5"),
        _target("Purge, fast setting: rows/s vs one naive DELETE",
                _rate_ratio(runs, "dba_purge_fast", "naive_delete"), ">= 0.8"),
        _target("Purge, fast setting: rows/s vs one naive DELETE, both including InnoDB's "
                "clean-up after them", _settled_rate_ratio(runs, "dba_purge_fast", "naive_delete"),
                ">= 0.8"),
    ]  # fmt: skip


# --- markdown -------------------------------------------------------------------------------------


def _fmt(value: Any, pattern: str = "{:,.0f}", missing: str = "–") -> str:
    return missing if value is None else pattern.format(value)


def _cell(text: str) -> str:
    """Text for a table cell: a bare pipe would end the cell, even inside backticks."""
    return text.replace("|", "\\|")


def _label(m: dict[str, Any]) -> str:
    """The method's name for a table cell (a pipe would end the cell), failures flagged."""
    failed = "" if m["runs_ok"] == m["runs"] else f" (**{m['runs'] - m['runs_ok']} failed**)"
    return _cell(m["label"]) + failed


def _method_row(m: dict[str, Any]) -> str:
    return (
        f"| {_label(m)} | {_fmt(m['rows_per_s'])} | {_fmt(m['mb_per_s'], '{:.1f}')} "
        f"| {_fmt(m.get('ratio_to_mysql'), '{:.2f}×')} | {_fmt(m['seconds'], '{:.2f}')} "
        f"| {_fmt(m['bytes_out'] and m['bytes_out'] / 1e6, '{:.1f}')} "
        f"| {_fmt(m['peak_rss_mb'], '{:.0f}')} | {_fmt(m['client_cpu_s'], '{:.2f}')} "
        f"| {_fmt(m['server_cpu_s'], '{:.2f}')} | {_fmt(m['idle_p99_ms'], '{:.1f}')} "
        f"| {_fmt(m['step_p99_ms'], '{:.1f}')} | {_fmt(m['p99_inflation'], '{:.1f}×')} |"
    )


_HEAD = (
    "| method | rows/s | MB/s | time vs `mysql` (time index) | s | MB out | peak RSS MB "
    "| client CPU s | server CPU s | idle p99 ms | p99 ms during | p99 inflation |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _purge_row(m: dict[str, Any]) -> str:
    return (
        f"| {_label(m)} | {_fmt(m['rows'])} | {_fmt(m['rows_per_s'])} "
        f"| {_fmt(m['seconds'], '{:.2f}')} | {_fmt(m.get('longest_chunk_seconds'), '{:.3f}')} "
        f"| {_fmt(m['peak_rss_mb'], '{:.0f}')} | {_fmt(m['server_cpu_s'], '{:.2f}')} "
        f"| {_fmt(m.get('cleanup_seconds'), '{:.1f}')} "
        f"| {_fmt(m.get('cleanup_server_cpu_s'), '{:.2f}')} "
        f"| {_fmt(m.get('rows_per_s_settled'))} "
        f"| {_fmt(m['idle_p99_ms'], '{:.1f}')} | {_fmt(m['step_p99_ms'], '{:.1f}')} "
        f"| {_fmt(m['step_max_ms'], '{:.0f}')} | {_fmt(m['p99_inflation'], '{:.1f}×')} |"
    )


_PURGE_HEAD = (
    "| method | rows deleted | rows/s | s | longest chunk s | peak RSS MB | server CPU s "
    "| clean-up after s | clean-up server CPU s | rows/s incl. clean-up "
    "| idle p99 ms | p99 ms during | max ms during | p99 inflation |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _verdict(t: dict[str, Any]) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[t["met"]]


def _run_warnings(before: dict[str, Any], cores: int) -> list[str]:
    """Why a run's numbers may be distorted: a busy machine, or a server busy on its own."""
    idle, load = before.get("server_idle_cores"), before["loadavg"]
    warn = []
    if idle is not None and idle > 0.25:
        warn.append(f"the server used {idle:.2f} core(s) with nothing of ours running")
    if load[0] > 0.75 * cores:
        warn.append(f"load average {load[0]} on {cores} cores")
    return warn


def _before_runs(before: list[dict[str, Any]], cores: int) -> list[str]:
    lines = []
    for i, b in enumerate(before):
        warn = _run_warnings(b, cores)
        flag = f" — **distorted: {'; '.join(warn)}**" if warn else ""
        lines.append(f"- run {i + 1}: load average {b['loadavg']} (1/5/15 min), mariadbd idle CPU "
                     f"{_fmt(b.get('server_idle_cores'), '{:.2f}')} cores{flag}")  # fmt: skip
    return lines


def _machine_lines(machine: dict[str, Any]) -> list[str]:
    return [f"- {k}: {v}" for k, v in machine.items()]


def markdown(result: dict[str, Any]) -> str:
    """The BENCHMARKS.md text for one complete run of the suite."""
    a, plan, s = result["args"], result["plan"], result["summary"]
    lines = ["# Benchmarks", ""]
    if a["rows"] < FULL_ROWS or a["runs"] < 3:
        lines += [
            f"> **Not a full run** ({a['rows']:,} rows, {a['runs']} run(s)): a smoke run that checks "
            "the suite works. Its numbers are not comparable with the targets' scale; run `make bench` "
            "for the real thing.",
            "",
        ]
    cores = result["machine"].get("cores (nproc)") or 2
    if any(_run_warnings(b, cores) for b in result["before_runs"]):
        lines += [
            "> **Some runs were distorted** by other work on the machine or the server (see "
            '"Before each run"): treat their numbers with suspicion, rerun on a quiet machine.',
            "",
        ]
    lines += [
        f"Measured {result['finished_at']} on this machine; {a['runs']} run(s), methods interleaved "
        "A B A B… in every run, medians over runs; every ratio is computed inside one run and then "
        "the median taken. Never put these numbers into tests.",
        "",
        "Reproduce: `" + result["command"] + "`",
        "",
        "## Data",
        "",
        f"- table `events` ({plan['rows']:,} rows, {plan['table_mb']:.0f} MB with indexes, "
        f"{plan['bytes_per_row']:.0f} bytes/row of data), 90 days ending yesterday ({plan['first_day']} … "
        f"{plan['last_day']}), generated with seed {a['seed']}",
        f"- big day {plan['big_day']}: {plan['big_day_rows']:,} rows, "
        f"{plan['big_day_text_mb']:.1f} MB as `mysql --batch --raw` text (the MB of every MB/s)",
        f"- 10× day: {plan['x10_rows']:,} rows (separate schema, same day)" if plan["x10_rows"] else
        "- 10× day: skipped (--big-factor 0)",
        f"- purge: {plan['expired_rows']:,} expired rows (before {plan['cutoff']}), restored from a "
        "pristine copy before every purge method",
        f"- production load: {a['rate']:g} transactions/s on {a['connections']} connections "
        "(insert + update-by-key on `bench_orders`, insert of a today's row into `events`), "
        "latency from each transaction's due time; idle window of the step's length (from the "
        "previous run of the same method; first run: "
        f"{a['idle_seconds']:g} s; clamped to 3…{a['idle_max']:g} s) just before the step",
        "",
        "## Export of the big day",
        "",
        _HEAD,
        *[_method_row(m) for m in s.values() if m["kind"] in ("export", "memory")],
        "",
        "## Purge of the expired rows",
        "",
        _PURGE_HEAD,
        *[_purge_row(m) for m in s.values() if m["kind"] == "purge"],
        "",
        "## Targets (issue 5)",
        "",
        "| target | goal | measured | verdict |",
        "|---|---|---|---|",
        *[f"| {_cell(t['target'])} | {t['goal']} | {t['measured']} | {_verdict(t)} |" for t in result["targets"]],
        "",
        "## Machine",
        "",
        *_machine_lines(result["machine"]),
        "",
        "## Before each run",
        "",
        *_before_runs(result["before_runs"], cores),
        "",
        "## How to read this",
        "",
        *[f"- {note}" for note in NOTES],
        "",
    ]  # fmt: skip
    return "\n".join(lines)


NOTES = [
    "Every method runs as its own process tree; peak RSS is the tree's summed RSS sampled every "
    "20 ms (the worst run); client CPU is the tree's user+system time.",
    "Server CPU is mariadbd's utime+stime during the step minus the rate measured in the idle "
    "window just before (the production load and anything else the server does), times the "
    "step's length: what the method itself cost the database (noise can make a short step's "
    "value slightly negative). Before each purge the runner waits (at most --settle-max s) for "
    "the server to go quiet, so InnoDB's background clean-up of the previous delete is not billed "
    "to the next method.",
    "Clean-up after: a DELETE only marks rows; InnoDB's purge threads then remove them from every "
    "index. After each purge method (production load stopped) the runner waits, at most "
    "--cleanup-max s, until the history list has drained and the server is quiet, sampling every "
    "0.25 s (so 0.25 s is the floor). One big DELETE leaves that work for after its statement; a "
    "chunked purge does most of it while it runs. Rows/s incl. clean-up = rows / (step + "
    "clean-up); clean-up server CPU is mariadbd's CPU above its quiet level meanwhile.",
    "The pandas method's seconds are timed inside its process from connect to upload done "
    "(an Airflow worker has pandas and boto3 imported already); dbarchive's include its start-up.",
    "dbarchive exports go to a fresh prefix each time (a first export, not a rewrite); its purges "
    "include verification (files read back, database digest) and run on a fresh archive of the "
    "expired days made untimed just before.",
    "pt-archiver runs with `--no-version-check` (its default contacts percona.com) and scans by "
    "primary key with the `--where` as a filter, as it does by default. With `A=utf8mb4` it "
    "mangles VARBINARY; its CSV is not RFC 4180 (see shared/PERFORMANCE.md).",
    "p99 inflation = p99 during the step / p99 of the idle window; max during the step shows "
    "stalls. On this 2-core machine the load generator, the method and the server share the cores.",
    "dbarchive runs at its default CPU priority, `[throttle] nice = 10` (the peers at 0): on a "
    "shared host its client-side work yields to everything else. The row at nice 0 shows what that "
    "changes; its server-side work (the database's own threads) is never reprioritised.",
    "dbarchive's verification before a purge reads every archived file back (size and SHA-256), "
    "reads the day's rows from the database once (digested on the client) and then matches every "
    "deleted row by the server's SHA2 of it against the archive: the peers verify nothing.",
]


_KEPT_SECTION = re.compile(r"<!-- (\w+):start -->.*?<!-- \1:end -->\n?", re.S)


def write(result: dict[str, Any], markdown_path: Path, json_path: Path) -> None:
    """Write the report; sections other bench scripts own (``<!-- name:start -->`` … ``end``,
    e.g. bench/backfill.py's) are carried over from the existing file, not lost."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    old = markdown_path.read_text() if markdown_path.exists() else ""
    kept = [m.group(0).rstrip("\n") for m in _KEPT_SECTION.finditer(old)]
    text = markdown(result).rstrip("\n")
    markdown_path.write_text("\n\n".join([text, *kept]) + "\n")


def append_row(results: Path, title: str, columns: list[str], row: list[str]) -> str:
    """Append one markdown table row to ``results`` (created with its title and header the first
    time): the results file of a bench script that keeps one line per run. Returns the line."""
    if not results.exists():
        header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
        results.write_text(f"# {title}\n\n{header}")
    line = "| " + " | ".join(row) + " |"
    with results.open("a") as f:
        f.write(line + "\n")
    return line

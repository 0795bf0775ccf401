"""The methods compared: dbarchive and what users would run instead, each as one measured command.

Why every method is a separate process (even the pandas one): so wall time, the process tree's peak
RSS and client CPU are measured the same way for all, and nothing the runner holds in memory counts.
Each function runs its method once and returns a dict: seconds, rows, bytes_out, peak_rss_mb,
client_cpu_s, server_cpu_s, exit (+ method-specific extras).

Peer settings follow issue 5 and are the tuned ones (not the tools' slow defaults):
- `mysql` client: `--quick --batch --raw --default-character-set=utf8mb4`, output to /dev/null (or
  through `zstd -1` / `gzip -1` and `wc -c`, which counts the compressed bytes for free);
- pt-archiver: `--limit 10000 --commit-each` for the export, `--limit 1000 --commit-each` (with and
  without `--bulk-delete`) for the purge, DSN `A=utf8mb4`, and always `--no-version-check` (its
  default phones home);
- pandas: what Airflow's SqlToS3Operator does (read_sql → to_csv gzip in memory → boto3 upload).

Stand-alone, `python bench/peers.py pandas-s3 …` is the pandas method's own process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import measure

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
MYSQL_OPTS = "-h127.0.0.1 -P3306 -uroot --quick --batch --raw --default-character-set=utf8mb4"


@dataclass(frozen=True)
class Ctx:
    """Everything a method needs to know; built once by the runner."""

    schema: str
    day: dt.date  # the big day
    day_rows: int
    today: dt.date
    cutoff: dt.date  # purge: rows before this day (00:00) are expired
    expired_rows: int
    expired_first: dt.date
    s3_url: str
    s3_env: dict[str, str]
    bucket: str
    work: Path  # scratch folder for configs and pt-archiver's file

    @property
    def day_where(self) -> str:
        nxt = self.day + dt.timedelta(days=1)
        return f"created_at >= '{self.day} 00:00:00' AND created_at < '{nxt} 00:00:00'"


def _result(m: measure.Measured, rows: int | None, bytes_out: int | None) -> dict[str, Any]:
    return {**m.as_dict(), "rows": rows, "bytes_out": bytes_out}


def _mysql(schema: str, sql: str) -> str:
    return f"mysql {MYSQL_OPTS} -D{schema} -e {shlex.quote(sql)}"


def _json(text: str) -> Any:
    """A method's JSON summary, or None when it printed something else (it failed)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _int_or_none(text: str) -> int | None:
    try:
        return int(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


# --- export: the physical limit -----------------------------------------------------------------


def mysql_time_index(ctx: Ctx) -> dict[str, Any]:
    """The naive raw client through the created_at index: the reference (1.0x) of every ratio."""
    m = measure.run(
        _mysql(ctx.schema, f"SELECT * FROM events WHERE {ctx.day_where}") + " >/dev/null"
    )
    return _result(m, ctx.day_rows, None)


def mysql_pk_range(ctx: Ctx) -> dict[str, Any]:
    """Min/max id through the time index, then the id range with the day predicate as a guard."""
    sql = (
        f"SELECT MIN(id), MAX(id) INTO @lo, @hi FROM events WHERE {ctx.day_where}; "
        f"SELECT * FROM events WHERE id BETWEEN @lo AND @hi AND {ctx.day_where}"
    )
    m = measure.run(_mysql(ctx.schema, sql) + " >/dev/null")
    return _result(m, ctx.day_rows, None)


def mysql_compressed(ctx: Ctx, tool: str) -> dict[str, Any]:
    """`mysql … | zstd -1` or `| gzip -1`: the same work as an export with compression."""
    sql = f"SELECT * FROM events WHERE {ctx.day_where}"
    m = measure.run(f"{_mysql(ctx.schema, sql)} | {tool} -1 -c | wc -c")
    return _result(m, ctx.day_rows, _int_or_none(m.stdout))


def day_text_bytes(ctx: Ctx) -> int:
    """Size of the day as `mysql --batch --raw` text: the "MB" of every MB/s (measured untimed)."""
    m = measure.run(_mysql(ctx.schema, f"SELECT * FROM events WHERE {ctx.day_where}") + " | wc -c")
    if m.exit:
        raise RuntimeError(f"measuring the day's size failed: {m.stderr[-500:]}")
    return int(m.stdout.strip())


# --- export: the tools users pick -----------------------------------------------------------------


def _pt_dsn(schema: str) -> str:
    return f"h=127.0.0.1,P=3306,u=root,D={schema},t=events,A=utf8mb4"


def pt_archiver_export(ctx: Ctx) -> dict[str, Any]:
    """pt-archiver writing the day to a CSV file, keeping the rows (its tuned export settings)."""
    out = ctx.work / "pt-archiver-export.csv"
    out.unlink(missing_ok=True)
    m = measure.run([
        "pt-archiver", "--source", _pt_dsn(ctx.schema), "--where", ctx.day_where,
        "--no-delete", "--file", str(out), "--output-format", "csv",
        "--limit", "10000", "--commit-each", "--no-version-check", "--statistics",
    ])  # fmt: skip
    size = out.stat().st_size if out.exists() else None
    out.unlink(missing_ok=True)
    selected = re.search(r"^SELECT (\d+)$", m.stdout, re.MULTILINE)  # from --statistics
    return _result(m, int(selected.group(1)) if selected else None, size)


def pandas_s3(ctx: Ctx) -> dict[str, Any]:
    """The SqlToS3Operator approach, in its own process; timed inside it from connect to upload.

    Why the inner time: an Airflow worker has pandas and boto3 imported already, so the ~1 s of
    imports is not the method's cost. The process wall time is kept too.
    """
    key = f"pandas/{ctx.day}/{time.time_ns()}.csv.gz"
    m = measure.run(
        [
            str(BIN / "python"), str(HERE / "peers.py"), "pandas-s3", "--schema", ctx.schema,
            "--where", ctx.day_where, "--endpoint", ctx.s3_url, "--bucket", ctx.bucket,
            "--key", key,
        ],
        env=ctx.s3_env,
    )  # fmt: skip
    inner = _json(m.stdout) or {}
    result = _result(m, inner.get("rows"), inner.get("bytes"))
    result["process_seconds"] = result["seconds"]
    result["seconds"] = inner.get("seconds", m.seconds)
    return result


def _pandas_main(args: argparse.Namespace) -> None:
    """read_sql → to_csv(gzip) into memory → boto3 upload, as Airflow's operator does."""
    import boto3
    import pandas as pd
    import sqlalchemy

    started = time.monotonic()
    engine = sqlalchemy.create_engine(
        f"mysql+mysqldb://root@127.0.0.1:3306/{args.schema}?charset=utf8mb4"
    )
    frame = pd.read_sql(sqlalchemy.text(f"SELECT * FROM events WHERE {args.where}"), engine)
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False, compression={"method": "gzip"})
    size = buffer.tell()
    buffer.seek(0)
    boto3.client("s3", endpoint_url=args.endpoint).upload_fileobj(buffer, args.bucket, args.key)
    seconds = time.monotonic() - started
    print(json.dumps({"rows": len(frame), "bytes": size, "seconds": seconds}))


# --- export: dbarchive ----------------------------------------------------------------------------


def dbarchive_config(
    ctx: Ctx,
    name: str,
    schema: str,
    prefix: str,
    compression: str = "zstd",
    extra: str = "",
    fmt: str = "csv",
) -> Path:
    """A config for the bench table writing to s3://<bucket>/<prefix> on the private server."""
    path = ctx.work / f"{name}.toml"
    path.write_text(
        f'[source]\nurl = "mysql://root@127.0.0.1:3306/{schema}"\n\n'
        f'[destination]\nurl = "s3://{ctx.bucket}/{prefix}"\nendpoint_url = "{ctx.s3_url}"\n'
        f'region = "us-east-1"\n\n'
        f'[defaults]\nformat = "{fmt}"\ncompression = "{compression}"\n'
        f'retention = "{(ctx.today - ctx.cutoff).days} days"\n\n'
        f"{extra}"
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return path


def dbarchive_export(
    ctx: Ctx,
    compression: str,
    schema: str | None = None,
    day: dt.date | None = None,
    fmt: str = "csv",
    extra: str = "",
) -> dict[str, Any]:
    """`dbarchive export --date <day> -q` into a fresh prefix (a first export, not a rewrite)."""
    schema, day = schema or ctx.schema, day or ctx.day
    prefix = f"export-{fmt}-{compression}-{schema}-{time.time_ns()}"
    name = f"export-{fmt}-{compression}-{schema}"
    cfg = dbarchive_config(ctx, name, schema, prefix, compression, extra, fmt)
    m = measure.run(
        [str(BIN / "dbarchive"), "export", "-c", str(cfg), "--date", str(day), "-q", "--json"],
        env=ctx.s3_env,
    )
    summary = (_json(m.stdout) or [{}])[0]
    result = _result(m, summary.get("rows"), summary.get("bytes"))
    result["scan"] = summary.get("scan")
    result["prefix"] = prefix
    return result


# --- purge ----------------------------------------------------------------------------------------


def _remaining_expired(ctx: Ctx) -> int:
    m = measure.run(
        f"mysql -h127.0.0.1 -uroot -N -D{ctx.schema} "
        f"-e \"SELECT COUNT(*) FROM events WHERE created_at < '{ctx.cutoff}'\""
    )
    return int(m.stdout.strip())


def _purge_result(ctx: Ctx, m: measure.Measured) -> dict[str, Any]:
    """Rows deleted = expired rows before minus those left: the same check for every method."""
    return _result(m, ctx.expired_rows - _remaining_expired(ctx), None)


def naive_delete(ctx: Ctx) -> dict[str, Any]:
    """One DELETE of every expired row: the fastest and the roughest."""
    sql = f"DELETE FROM events WHERE created_at < '{ctx.cutoff}'"
    m = measure.run(f"mysql -h127.0.0.1 -uroot -D{ctx.schema} -e {shlex.quote(sql)}")
    return _purge_result(ctx, m)


def pt_archiver_purge(ctx: Ctx, bulk: bool) -> dict[str, Any]:
    """pt-archiver --purge, 1000 rows a chunk, committed each; row by row or one DELETE a chunk."""
    cmd = [
        "pt-archiver", "--source", _pt_dsn(ctx.schema), "--where", f"created_at < '{ctx.cutoff}'",
        "--purge", "--limit", "1000", "--commit-each", "--no-version-check",
    ]  # fmt: skip
    return _purge_result(ctx, measure.run([*cmd, "--bulk-delete"] if bulk else cmd))


FAST_THROTTLE = "[throttle]\nchunk_time = 2\nmax_chunk_rows = 50000\n\n"


def prepare_dbarchive_purge(ctx: Ctx, fast: bool, throttle: str | None = None) -> Path:
    """Archive the expired days into a fresh prefix (untimed): a purge deletes only archived rows.

    A fresh prefix each time, because a purged day's record would make the next purge skip the
    database side of verification and so time less work. ``throttle`` (a TOML ``[throttle]``
    section) overrides the default or fast settings.
    """
    name = "purge-fast" if fast else "purge-default"
    prefix = f"{name}-{time.time_ns()}"
    extra = throttle if throttle is not None else FAST_THROTTLE if fast else ""
    cfg = dbarchive_config(ctx, name, ctx.schema, prefix, extra=extra)
    last = ctx.cutoff - dt.timedelta(days=1)
    m = measure.run(
        [str(BIN / "dbarchive"), "export", "-c", str(cfg), "--from", str(ctx.expired_first),
         "--to", str(last), "-q"],
        env=ctx.s3_env,
    )  # fmt: skip
    if m.exit:
        raise RuntimeError(f"archiving the expired days failed: {m.stderr[-800:]}")
    return cfg


def dbarchive_purge(ctx: Ctx, cfg: Path) -> dict[str, Any]:
    """`dbarchive purge --today … --json`: verify each expired day, then the row-matched deletes."""
    m = measure.run(
        [str(BIN / "dbarchive"), "purge", "-c", str(cfg), "--today", str(ctx.today), "--json"],
        env=ctx.s3_env,
    )
    result = _purge_result(ctx, m)
    summary = _json(m.stdout)
    try:  # `purge --json` prints {"tables": [...], "throttle": {...}} (a list before #19)
        tables = summary["tables"] if isinstance(summary, dict) else summary
        purged = tables[0]["purged"]
    except (LookupError, TypeError):
        return result
    if isinstance(summary, dict):
        result["throttle"] = summary.get("throttle")
    result["delete_loop_seconds"] = round(sum(p["seconds"] for p in purged), 3)
    result["chunks"] = sum(p["chunks"] for p in purged)
    result["longest_chunk_seconds"] = max((p["longest_chunk_seconds"] for p in purged), default=0)
    result["longest_delete_seconds"] = max((p["longest_delete_seconds"] for p in purged), default=0)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="run one in-Python peer in its own process")
    sub = parser.add_subparsers(dest="method", required=True)
    pandas = sub.add_parser("pandas-s3")
    for name in ("--schema", "--where", "--endpoint", "--bucket", "--key"):
        pandas.add_argument(name, required=True)
    args = parser.parse_args()
    _pandas_main(args)


if __name__ == "__main__":
    main()

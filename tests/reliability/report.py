"""Turn the latest full run of the reliability matrix into RELIABILITY.md.

    python -m tests.reliability.report [results.jsonl] > RELIABILITY.md

(``make reliability`` runs the quick tier and then this; ``make soak`` the tier with x10 faults.)
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.reliability.scenario import RESULTS, ROOT

# Proven by tests/integration/test_tls.py rather than by the matrix; kept here so the generated
# file keeps listing the TLS refusal cases (issue 18).
TLS_SECTION = (
    "## TLS refusals",
    "",
    "Not fault-injected and not counted above: `tests/integration/test_tls.py` (part of `make test`) connects in each `ssl_mode` to a private mariadbd serving certificates from a test CA, through both session kinds (the driver's and the C reader's). A refused session is closed before any statement; a refused run exits 3 (the database) having archived and deleted nothing.",
    "",
    "| the server presents | DISABLED | PREFERRED | REQUIRED | VERIFY_CA | VERIFY_IDENTITY |",
    "|---|---|---|---|---|---|",
    "| a certificate for 127.0.0.1 from `ssl_ca` | plain | TLS | TLS | TLS | TLS |",
    "| a certificate for other.example from `ssl_ca` | plain | TLS | TLS | TLS | **refused**: does not name the host |",
    "| a certificate for 127.0.0.1 from another CA | plain | TLS | TLS | **refused**: not signed by the CA in ssl_ca | **refused**: not signed by the CA |",
    "| no TLS at all | plain | plain | **refused**: not encrypted (after the login) | **refused**: not encrypted (after the login) | **refused** before the login |",
    "",
    "Also proven there: a whole run (check, export through the C reader, verify, the run lock, purge) as a user the server admits only over TLS with the client certificate; the same user without it is refused; replica and lock sessions refuse another CA; an Airflow connection's `ssl` extra (URI or JSON) is applied.",
)

COLUMNS = (
    "scenario",
    "injections",
    "lost",
    "duplicated",
    "unexpected",
    "deleted_unverified",
    "orphans",
    "retries",
    "exit",
)


def _load(path: Path) -> list[dict[str, Any]]:
    """The run's results, the last one of each scenario (a re-run test replaces its line)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return list({r["scenario"]: r for r in rows}.values())


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _row(r: dict[str, Any]) -> str:
    cells = [
        r["scenario"],
        r["injections"],
        r["lost"],
        r["duplicated"],
        r["unexpected"],
        r["deleted_unverified"],
        r["orphans"] + r.get("uploads", 0),
        r["retries"],
        r["exit"],
    ]
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def render(results: list[dict[str, Any]]) -> str:
    measures = [r for r in results if r.get("extra", {}).get("figures")]
    scenarios = results
    bad = [
        r
        for r in scenarios
        if any(r[k] for k in COLUMNS[2:7]) or r.get("uploads") or r.get("ledger")
    ]
    scale = max((r.get("scale", 1) for r in results), default=1)
    lines = [
        "# Reliability",
        "",
        "dbarchive's promises proven by fault injection against the real MariaDB and a real S3 "
        "server (SeaweedFS), each scenario ending with one oracle (`tests/reliability/oracle.py`). "
        "Generated from the latest full run by `tests/reliability/report.py`; do not edit by hand.",
        "",
        f"- run: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit `{_commit()}`, "
        f"{'soak tier (x10 faults)' if scale > 1 else 'quick tier (the one CI runs)'}, "
        f"Python {platform.python_version()}, {len(scenarios)} scenarios, "
        f"{sum(int(r['injections']) for r in scenarios)} faults injected",
        f"- verdict: **{'every count is zero' if not bad else f'{len(bad)} scenario(s) NOT clean'}**",
        "",
        "## How to reproduce",
        "",
        "```sh",
        "make reliability   # the quick tier (~20k rows, also part of make test / CI), then this file",
        "make soak          # the same matrix with x10 faults (DBARCHIVE_SOAK=1)",
        ".venv/bin/pytest tests/reliability -k 'failpoint and purge'   # any part of it",
        "```",
        "",
        "## What the oracle counts",
        "",
        "The table is seeded deterministically (8 days x 2,500 rows: NULL, '', 'NULL', '\\N', "
        "separators, quotes, CR/LF, NUL, 4-byte UTF-8, DECIMAL(65,30) and DOUBLE extremes, "
        "DATETIME(6), BLOBs) and S = key -> exact row hash is recorded (every version, when a "
        "scenario updates rows). After the scenario, with its own CSV parser and digest:",
        "",
        "- **lost**: a key gone from the table whose latest version is in no committed archive file;",
        "- **duplicated**: a key more than once in the committed archive;",
        "- **unexpected**: an archived row that no version ever had, or a row the tool changed;",
        "- **deleted_unverified**: a key gone from the table whose day has no archive that checks "
        "out (size, SHA-256, row digests of every file and of the day);",
        "- **orphans**: objects under the table's folder that no manifest lists, plus unfinished "
        "multipart uploads;",
        "- **ledger** (scenarios with `[ledger] enabled`, not a column: any count fails the "
        "scenario): keys gone from the table that the deletion ledger does not record as deleted "
        "exactly once, keys it records that are still there, records whose digest is not their "
        "rows', broken links of a chain;",
        "- **retries**: retries the tool reported (purge chunks, MySQL statements) or requests the "
        "fault proxy saw sent again; **exit**: the exit code(s) of the faulted and final runs.",
        "",
        "Crash scenarios also check that the final archive is byte-identical to a clean export "
        "and that no key was deleted twice (a trigger logs every delete).",
        "",
        "## Scenarios",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *[_row(r) for r in scenarios],
    ]
    if measures:
        lines += ["", "## Measured figures (reported, never asserted as timings)", ""]
        for r in measures:
            lines.append(f"### {r['scenario']}")
            lines.append("")
            lines += [f"- {k}: {v}" for k, v in r["extra"]["figures"].items()]
            lines.append("")
    lines += ["", *TLS_SECTION]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    sys.stdout.write(render(_load(path)))


if __name__ == "__main__":
    main()

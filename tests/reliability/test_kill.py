"""Kill anywhere, rerun → the same archive, nothing lost, nothing duplicated, nothing deleted
unverified (issue 7, matrix 1-3).

- SIGKILL at random moments of ``export``, ``purge`` and ``run`` (30 kills each; 300 in soak);
- SIGKILL at every named failpoint (``failpoints.py``), three times each, resuming in between;
- SIGTERM / SIGINT mid-chunk → the run stops within one chunk with exit 6 and a rerun finishes;
- a re-export of changed days SIGKILLed at every failpoint of the publication → every day keeps a
  committed manifest that checks out (the previous one until the new one is committed), and the
  rerun publishes the changed rows exactly;
- with the deletion ledger on, SIGKILL at every purge failpoint (and after any ledger record) →
  the ledger records exactly the deleted rows, each once, and ``dbarchive audit`` passes.

Each scenario ends with the oracle, a final archive equal to a clean export's, and the purge audit:
a trigger logs every deleted key, so a key deleted twice (a committed chunk repeated) would show.
"""

from __future__ import annotations

import json
import random
import signal
import time
from typing import Any

import pytest

from tests.integration.mysql_fixtures import MySqlSchema
from tests.reliability import scenario
from tests.reliability.oracle import (
    TABLE,
    S3View,
    Seed,
    archive_signature,
    check,
    read_archive,
)
from tests.reliability.scenario import ROUNDS, Job, in_round, kill_at_random, record

KILLS = 30  # per round (the soak runs SCALE rounds)

# name -> the occurrence to kill at in each of three successive runs (each resumes the last).
FAILPOINTS: dict[str, tuple[int, int, int]] = {
    "export.chunk-read": (1, 4, 9),
    "storage.part-uploaded": (1, 2, 3),
    "storage.before-complete": (1, 2, 3),
    "storage.after-complete": (1, 2, 3),
    "export.part-committed": (1, 2, 3),
    "export.before-manifest": (1, 2, 3),
    "publish.checked": (1, 2, 3),
    "export.after-manifest": (1, 2, 3),
    "purge.after-verify": (1, 1, 2),
    "purge.chunk-locked": (1, 3, 6),
    "purge.statement-deleted": (1, 3, 6),
    "purge.before-commit": (1, 3, 6),
    "purge.after-commit": (1, 3, 6),
    "purge.before-record": (1, 1, 1),
    "purge.after-record": (1, 1, 1),
}


def audit_deletes(db: MySqlSchema) -> None:
    """Log every deleted key (in the deleting transaction, so rolled-back chunks leave nothing)."""
    db.execute("CREATE TABLE deleted_log (id BIGINT NOT NULL, conn BIGINT NOT NULL)")
    db.execute(
        "CREATE TRIGGER events_audit AFTER DELETE ON events FOR EACH ROW "
        "INSERT INTO deleted_log VALUES (OLD.id, CONNECTION_ID())"
    )


def deleted_twice(db: MySqlSchema) -> int:
    """Keys the purge deleted more than once (a repeated chunk, or a row put back and deleted)."""
    rows = db.execute("SELECT id FROM deleted_log GROUP BY id HAVING COUNT(*) > 1")
    return len(rows)


def finish(
    name: str,
    job: Job,
    seed: Seed,
    db: MySqlSchema,
    view: S3View,
    expected: dict[str, Any],
    injections: int,
    codes: list[int],
    args: tuple[str, ...],
    ledger: bool = False,
) -> None:
    """Rerun to completion, then the oracle, the clean-run comparison and the purge audit."""
    final = job.run(*args)
    assert final.returncode == 0, final.stderr
    verdict = check(
        name,
        seed,
        db,
        view,
        ledger=ledger,
        injections=injections,
        retries=job.retries,
        exit=str(final.returncode),
        extra={"codes": sorted(set(codes))},
    )
    twice = deleted_twice(db)
    verdict.extra["deleted_twice"] = twice
    record(verdict)
    assert verdict.clean, verdict.details
    assert twice == 0
    assert archive_signature(view) == expected


# command -> (extra throttle settings, kill window in seconds after the start)
RANDOM: dict[str, tuple[str, tuple[float, float]]] = {
    "export": ("", (0.5, 2.0)),
    # Small, slowed chunks so the kills land all through the purge, not after it ended.
    "purge": ("sleep = 0.15\nmax_chunk_rows = 50\n", (0.5, 1.2)),
    "run": ("sleep = 0.15\nmax_chunk_rows = 50\n", (0.5, 1.4)),
}


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("command", list(RANDOM))
def test_sigkill_at_random_moments(
    command: str,
    round_: int,
    s3_job: Job,
    light: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """30 SIGKILLs at random moments of one command, then a rerun: oracle zero, same archive."""
    expected = clean_signature(light)
    audit_deletes(mysql_schema)
    args = {
        "export": scenario.export_args(),
        "purge": scenario.purge_args(),
        "run": scenario.run_args(),
    }[command]
    if command == "purge":
        assert s3_job.run(*scenario.export_args()).returncode == 0
    throttle, window = RANDOM[command]
    if command == "export":  # the kills spread over one whole export, however fast it is here
        started = time.monotonic()
        assert s3_job.run(*args).returncode == 0
        window = (0.3, max(0.6, 0.9 * (time.monotonic() - started)))
    text = s3_job.path.read_text().replace("max_chunk_rows = 500\n", "")
    s3_job.path.write_text(text.replace("[throttle]\n", f"[throttle]\n{throttle}"))
    rng = random.Random(f"kill-{command}-{round_}" if round_ else f"kill-{command}")
    landed, codes = kill_at_random(s3_job, args, KILLS, rng, window)
    assert landed >= KILLS, (
        f"only {landed} kills landed; exit codes {codes}; last runs {s3_job.runs[-2:]}"
    )
    assert set(codes) <= {0, -signal.SIGKILL}
    finish(
        in_round(f"SIGKILL x{landed} at random during {command}", round_),
        s3_job,
        light,
        mysql_schema,
        view,
        expected,
        landed,
        codes,
        args,
    )


@pytest.mark.parametrize("point", list(FAILPOINTS))
def test_killed_at_a_failpoint_three_times(
    point: str,
    s3_job: Job,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """`run` killed at the point, resumed and killed there again (3 times), then run to the end.

    The multipart points get 1.5 KiB payloads (a day is one ~7 MB file in two parts); the others
    the same rows without payloads, which run faster."""
    seeded = Seed(scenario.DAYS, 2500, 1536 if point.startswith("storage.") else 0)
    seeded.create(mysql_schema)
    expected = clean_signature(seeded)
    audit_deletes(mysql_schema)
    codes = []
    for nth in FAILPOINTS[point]:
        proc = s3_job.run(*scenario.run_args(), failpoint=f"{point}:{nth}")
        codes.append(proc.returncode)
        assert proc.returncode == -signal.SIGKILL, (point, nth, proc.stderr)
    finish(
        f"failpoint {point} x3",
        s3_job,
        seeded,
        mysql_schema,
        view,
        expected,
        len(codes),
        codes,
        scenario.run_args(),
    )


# With the ledger on: each purge failpoint, and any ledger record (the n-th record stored: an
# intent before its COMMIT, a resolution, a closing record), killed at three occurrences.
LEDGER_POINTS: dict[str, tuple[int, int, int]] = {
    **{p: n for p, n in FAILPOINTS.items() if p.startswith("purge.")},
    "ledger.record-stored": (1, 4, 9),
}
LEDGER_KEY = "0123456789abcdef" * 4


@pytest.mark.parametrize("point", list(LEDGER_POINTS))
def test_the_ledger_records_exactly_the_deleted_rows_killed_at_every_purge_failpoint(
    point: str,
    s3_job: Job,
    light: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """`run` with a signed ledger, killed at the point (3 times, resuming), then run to the end:
    the oracle's ledger count is zero — every deleted key recorded as deleted exactly once, no
    key still in the table recorded, each record's digest its rows', every chain linked — and
    `dbarchive audit` passes (exit 0)."""
    expected = clean_signature(light)
    audit_deletes(mysql_schema)
    s3_job.env["DBAT_LEDGER_KEY"] = LEDGER_KEY
    s3_job.path.write_text(
        s3_job.path.read_text() + '\n[ledger]\nenabled = true\nhmac_key_env = "DBAT_LEDGER_KEY"\n'
    )
    codes = []
    for nth in LEDGER_POINTS[point]:
        proc = s3_job.run(*scenario.run_args(), failpoint=f"{point}:{nth}")
        codes.append(proc.returncode)
        assert proc.returncode == -signal.SIGKILL, (point, nth, proc.stderr)
    finish(
        f"ledger on, failpoint {point} x3: ledger rows = deleted rows",
        s3_job,
        light,
        mysql_schema,
        view,
        expected,
        len(codes),
        codes,
        scenario.run_args(),
        ledger=True,
    )
    audit = s3_job.run("audit", "-t", "events", "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["rows_deleted"] == len(scenario.EXPIRED) * 2500


@pytest.mark.parametrize(
    ("command", "point", "signame"),
    [
        ("export", "export.chunk-read:3:term", "SIGTERM"),
        ("export", "export.chunk-read:8:int", "SIGINT"),
        ("run", "export.chunk-read:13:term", "SIGTERM"),
        ("run", "purge.after-commit:3:int", "SIGINT"),
        ("run", "purge.chunk-locked:5:term", "SIGTERM"),
    ],
)
def test_signal_mid_chunk_stops_after_it_with_exit_6(
    command: str,
    point: str,
    signame: str,
    s3_job: Job,
    light: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """A signal while a chunk is under way: that chunk finishes, the next never starts, exit 6;
    nothing half-written is visible, and a rerun completes exactly."""
    expected = clean_signature(light)
    audit_deletes(mysql_schema)
    args = scenario.export_args() if command == "export" else scenario.run_args()
    args = tuple(a for a in args if a != "--json")
    proc = s3_job.run("-v", *args, failpoint=point)
    assert proc.returncode == 6, proc.stderr[-3000:]
    assert f"received {signame}" in proc.stderr
    nth = int(point.split(":")[1])
    if point.startswith("export"):
        # The signal came while chunk `nth` (counted over the run) was read, which is chunk
        # `in_day` of the day in progress (5 a day): the writer stopped after that one at most.
        rows = [int(line.split("chunk, ")[1].split(" ")[0]) for line in _chunk_lines(proc)]
        in_day = (nth - 1) % 5 + 1
        assert rows and rows[-1] <= 500 * in_day
        assert view.unfinished() == 0  # the aborted part's multipart upload is gone
    else:
        (deleted,) = mysql_schema.execute("SELECT COUNT(*) FROM deleted_log")[0]
        chunks = len(_chunk_lines(proc, "purge"))
        assert chunks == nth  # the chunk under way when the signal came was the last
        assert 0 < deleted <= chunks * 500
    finish(
        f"{signame} mid-chunk during {command} ({point.rsplit(':', 1)[0]})",
        s3_job,
        light,
        mysql_schema,
        view,
        expected,
        1,
        [proc.returncode],
        scenario.run_args() if command == "run" else scenario.export_args(),
    )


def _chunk_lines(proc: Any, step: str = "export") -> list[str]:
    return [
        line
        for line in proc.stderr.splitlines()
        if f" {step} events " in line and ": chunk," in line
    ]


REEXPORT_POINTS = (
    "export.chunk-read",
    "storage.part-uploaded",
    "storage.before-complete",
    "storage.after-complete",
    "export.part-committed",
    "publish.claimed",
    "publish.promoted",
    "export.before-manifest",
    "publish.checked",
    "export.after-manifest",
)


@pytest.mark.parametrize("point", REEXPORT_POINTS)
def test_reexport_killed_at_a_failpoint_keeps_the_previous_manifest(
    point: str, s3_job: Job, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """Days archived, then changed, then re-exported and SIGKILLed at ``point``: every day still
    has a committed manifest whose files check out (oracle's own reader), with the old rows until
    the new manifest is committed; the rerun then archives the new versions exactly."""
    seeded = Seed(scenario.DAYS[:3], 2500, 1536 if point.startswith("storage.") else 0)
    seeded.create(mysql_schema)
    args = ("export", "--from", seeded.days[0].isoformat(), "--to", seeded.days[-1].isoformat())
    assert s3_job.run(*args).returncode == 0
    mysql_schema.execute("UPDATE events SET account_id = account_id + 1000 WHERE id % 4 = 0")
    seeded.snapshot(mysql_schema)
    proc = s3_job.run(*args, failpoint=point)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    killed = read_archive(view)
    assert killed.problems == [] and killed.verified_days == set(seeded.days)
    assert s3_job.run(*args).returncode == 0
    verdict = check(
        f"re-export killed at {point}: the previous manifest still verifies",
        seeded,
        mysql_schema,
        view,
        injections=1,
        exit="0",
    )
    record(verdict)
    assert verdict.clean, verdict.details
    final = read_archive(view)
    assert {k: h for k, (_g, h) in final.newest.items()} == seeded.latest  # the new versions


def test_killed_after_recording_rows_gone_the_rerun_grows_the_day(
    s3_job: Job, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """An archived day loses a row to the application, and late rows make up its count: the
    export records the day grown-only (the archive holds the row's only copy), then grows it.
    SIGKILLed between the record and the growth, the rerun reads the record and grows: the
    deleted row keeps its archived version, the late rows are archived, each row once."""
    seeded = Seed(scenario.DAYS[:1], 400, 0)
    seeded.create(mysql_schema)
    day = seeded.days[0].isoformat()
    args = ("export", "--from", day, "--to", day)
    assert s3_job.run(*args).returncode == 0
    before = read_archive(view)
    gone = min(seeded.keys)
    mysql_schema.execute(f"DELETE FROM `{TABLE}` WHERE id = %s", (gone,))
    seeded.insert_day(mysql_schema, seeded.days[0], 3, offset_s=80_000)
    seeded.snapshot(mysql_schema)  # (keeps the deleted row's version: the archive must too)

    proc = s3_job.run(*args, failpoint="export.after-gone-record")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert read_archive(view).newest == before.newest  # recorded, nothing grown yet

    assert s3_job.run(*args).returncode == 0
    final = read_archive(view)
    assert final.problems == [] and final.newest[gone] == before.newest[gone]
    assert {key: h for key, (_g, h) in final.newest.items()} == seeded.latest
    assert set(final.rows.values()) == {1}  # no row twice in one generation
    assert {gen for _key, gen in final.rows} == {
        1,
        2,
    }  # the growth: one more generation, not a copy

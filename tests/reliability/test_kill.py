"""Kill anywhere, rerun → the same archive, nothing lost, nothing duplicated, nothing deleted
unverified (issue 7, matrix 1-3).

- SIGKILL at random moments of ``export``, ``purge`` and ``run`` (30 kills each; 300 in soak);
- SIGKILL at every named failpoint (``failpoints.py``), three times each, resuming in between;
- SIGTERM / SIGINT mid-chunk → the run stops within one chunk with exit 6 and a rerun finishes.

Each scenario ends with the oracle, a final archive equal to a clean export's, and the purge audit:
a trigger logs every deleted key, so a key deleted twice (a committed chunk repeated) would show.
"""

from __future__ import annotations

import random
import signal
import time
from typing import Any

import pytest

from tests.integration.mysql_fixtures import MySqlSchema
from tests.reliability import scenario
from tests.reliability.oracle import S3View, Seed, archive_signature, check
from tests.reliability.scenario import SCALE, Job, kill_at_random, record

KILLS = 30 * SCALE

# name -> the occurrence to kill at in each of three successive runs (each resumes the last).
FAILPOINTS: dict[str, tuple[int, int, int]] = {
    "export.chunk-read": (1, 4, 9),
    "storage.part-uploaded": (1, 2, 3),
    "storage.before-complete": (1, 2, 3),
    "storage.after-complete": (1, 2, 3),
    "export.part-committed": (1, 2, 3),
    "export.before-manifest": (1, 2, 3),
    "export.after-manifest": (1, 2, 3),
    "purge.after-verify": (1, 1, 2),
    "purge.chunk-locked": (1, 3, 6),
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
) -> None:
    """Rerun to completion, then the oracle, the clean-run comparison and the purge audit."""
    final = job.run(*args)
    assert final.returncode == 0, final.stderr
    verdict = check(
        name,
        seed,
        db,
        view,
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


@pytest.mark.parametrize("command", ["export", "purge", "run"])
def test_sigkill_at_random_moments(
    command: str,
    s3_job: Job,
    seeded: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """30 SIGKILLs at random moments of one command, then a rerun: oracle zero, same archive."""
    expected = clean_signature()
    audit_deletes(mysql_schema)
    args = {
        "export": scenario.export_args(),
        "purge": scenario.purge_args(),
        "run": scenario.run_args(),
    }[command]
    if command == "purge":
        assert s3_job.run(*scenario.export_args()).returncode == 0
    # Slow chunks so kills land all through the purge instead of after it ended.
    s3_job.path.write_text(
        s3_job.path.read_text().replace("[throttle]\n", "[throttle]\nsleep = 0.05\n")
    )
    rng = random.Random(f"kill-{command}")
    landed, codes = kill_at_random(s3_job, args, KILLS, rng, (0.5, 3.0))
    assert landed >= KILLS, f"only {landed} kills landed"
    assert set(codes) <= {0, -signal.SIGKILL}
    finish(
        f"SIGKILL x{landed} at random during {command}",
        s3_job,
        seeded,
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
    seeded: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """`run` killed at the point, resumed and killed there again (3 times), then run to the end."""
    expected = clean_signature()
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

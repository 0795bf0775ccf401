"""The oracle itself: zero on a clean run, and each of its counts catches the fault it names."""

from __future__ import annotations

from typing import Any

from tests.integration.mysql_fixtures import MySqlSchema
from tests.reliability import scenario
from tests.reliability.oracle import S3View, Seed, archive_signature, check
from tests.reliability.scenario import Job, record


def test_clean_run_is_all_zero_and_equals_a_clean_export(
    s3_job: Job, seeded: Seed, mysql_schema: MySqlSchema, view: S3View, clean_signature: Any
) -> None:
    """`run` archives 8 days and purges 3: the oracle finds nothing; the archive is the export's."""
    expected = clean_signature(seeded)
    proc = s3_job.run(*scenario.run_args())
    assert proc.returncode == 0, proc.stderr
    verdict = record(check("clean run", seeded, mysql_schema, view, exit=str(proc.returncode)))
    assert verdict.clean, verdict.details
    assert archive_signature(view) == expected
    in_db = {int(k) for (k,) in mysql_schema.execute("SELECT id FROM events")}
    expired = {k for k, d in seeded.day_of.items() if d < scenario.CUTOFF}
    assert in_db == seeded.keys - expired  # the purge really happened


def test_oracle_counts_each_kind_of_damage(
    s3_job: Job, seeded: Seed, mysql_schema: MySqlSchema, view: S3View, s3_client: Any
) -> None:
    """A dropped archived row, a duplicate, a changed row and a stray object are each counted."""
    assert s3_job.run(*scenario.export_args()).returncode == 0
    assert check("baseline", seeded, mysql_schema, view).clean
    (manifest_key,) = [k for k in view.keys("events/") if k.endswith("day=07/_manifest.json")]
    part = next(k for k in view.keys("events/") if "day=07/part-" in k)
    lines = view.read(part).split(b"\n")
    damaged = b"\n".join([lines[0], lines[2], lines[2], *lines[3:]])  # row 1 dropped, 2 twice
    s3_client.put_object(Bucket=view.bucket, Key=view.prefix + part, Body=damaged)
    first = int(lines[1].split(b",")[0].strip(b'"'))
    mysql_schema.execute("DELETE FROM events WHERE id IN (%s, %s)", (first, first + 1))
    mysql_schema.execute(
        "UPDATE events SET account_id = account_id + 1 WHERE id = %s", (first + 2,)
    )
    s3_client.put_object(Bucket=view.bucket, Key=view.prefix + "events/stray.csv", Body=b"x")
    verdict = check("damage", seeded, mysql_schema, view)
    assert verdict.lost == 1  # `first` is gone from the table and from the archive
    assert verdict.duplicated == 1
    assert verdict.deleted_unverified == 2  # day 07's archive no longer checks out
    assert verdict.unexpected == 1  # the changed row in the table
    assert verdict.orphans == 1
    assert manifest_key in view.keys("events/")


def test_oracle_counts_a_ledger_that_differs_from_the_deletions(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View, s3_client: Any
) -> None:
    """With the ledger on, a clean run counts 0; a removed record (its 500 deleted keys no longer
    recorded, and a gap in the chain) and a deleted key put back in the table are counted."""
    s3_job.path.write_text(s3_job.path.read_text() + "\n[ledger]\nenabled = true\n")
    assert s3_job.run(*scenario.run_args()).returncode == 0
    assert check("ledger baseline", light, mysql_schema, view, ledger=True).ledger == 0
    first = next(k for k in view.keys("events/_ledger/") if k.endswith("/0000000001.json"))
    s3_client.delete_object(Bucket=view.bucket, Key=view.prefix + first)
    verdict = check("ledger record removed", light, mysql_schema, view, ledger=True)
    assert verdict.ledger == 500 + 1  # the first chunk's keys, and records not 1..n
    back = min(k for k, d in light.day_of.items() if d == scenario.EXPIRED[-1])
    mysql_schema.execute(
        "INSERT INTO events (id, created_at, account_id) VALUES (%s, NOW(), 1)", (back,)
    )
    again = check("ledger key back", light, mysql_schema, view, ledger=True)
    assert again.ledger == verdict.ledger + 1  # recorded as deleted, and in the table

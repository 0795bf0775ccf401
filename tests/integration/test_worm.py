"""WORM archives (issue 22 §1): S3 Object Lock on the suite's SeaweedFS 4.48, which enforces it
(a version under compliance retention or legal hold cannot be deleted, retention cannot be
shortened, governance yields only to BypassGovernanceRetention).

The oracle is S3 itself, asked behind dbarchive's back with a raw client (HeadObject, ListObject-
Versions, DeleteObject of a version), and the table's rows hashed by the server."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from dbarchive import build_context
from dbarchive.build import build_throttle, storage_options
from dbarchive.config import LedgerSettings, job_from_dict
from dbarchive.context import Context
from dbarchive.errors import ConfigError, StorageError
from dbarchive.jobs.daily import TableReport, purge_table, run
from dbarchive.jobs.restore import restore_day
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.pipeline import export_day
from dbarchive.steps.verify import verify_day
from dbarchive.storage import open_storage
from tests.integration.conftest import S3Endpoint
from tests.integration.helpers import LOG_TABLE_DDL
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 11, 25)
D1 = dt.date(2026, 9, 1)
D2 = dt.date(2026, 9, 2)
PER_DAY = 200
PREFIX = "arch"
ROW_SQL = (
    "SHA2(CONCAT_WS('|', id, created_at, account_id, IFNULL(amount, 'N'), IFNULL(note, 'N')), 256)"
)


def _fill(schema: MySqlSchema, day: dt.date, count: int, first_second: int = 0) -> None:
    step = (86_000 - first_second) // count
    schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) "
        "SELECT TIMESTAMP(%s) + INTERVAL (%s + seq * %s) SECOND, seq MOD 7, seq / 4, "
        "CONCAT('n', seq) FROM seq_0_to_" + str(count - 1),
        (day.isoformat(), first_second, step),
    )


def _snapshot(schema: MySqlSchema, table: str = "events") -> dict[int, str]:
    rows = schema.execute(f"SELECT id, {ROW_SQL} FROM `{table}`")
    return {int(k): (v.decode() if isinstance(v, bytes) else v) for k, v in rows}


def _locked_bucket(client: Any) -> str:
    """A new bucket created with Object Lock (so versioned); never emptied: what compliance
    mode keeps cannot be deleted, and the session's SeaweedFS folder goes away whole."""
    name = f"dbarchive-worm-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


@pytest.fixture
def locked_bucket(s3_client: Any) -> str:
    return _locked_bucket(s3_client)


def _context(
    schema: MySqlSchema,
    endpoint: S3Endpoint,
    bucket: str,
    mode: str = "COMPLIANCE",
    **destination: Any,
) -> Context:
    lock = {"object_lock": {"mode": mode, "retain": "1 day"}} if mode else {}
    job = job_from_dict(
        {
            "source": {"url": schema.url},
            "destination": {
                "url": f"s3://{bucket}/{PREFIX}",
                "endpoint_url": endpoint.url,
                "region": endpoint.region,
                **lock,
                **destination,
            },
            "defaults": {"compression": "none"},
            "throttle": {"min_chunk_rows": 50, "max_chunk_rows": 50},
            "tables": [
                {"name": "events", "timestamp_column": "created_at", "retention": "60 days"}
            ],
        }
    )
    options = dataclasses.replace(
        storage_options(job.destination),
        access_key_id=endpoint.access_key,
        secret_access_key=endpoint.secret_key,
    )
    return build_context(job, storage=open_storage(job.destination.url, options))


def _manifest(ctx: Context, day: dt.date) -> Manifest:
    raw = ctx.storage.get_bytes(PartitionPath("events", day).manifest_key)
    assert raw is not None
    return Manifest.loads(raw)


def _versions(client: Any, bucket: str, day: dt.date) -> Iterator[dict[str, Any]]:
    """Every version (not delete markers) under the day's folder, with its HeadObject."""
    prefix = f"{PREFIX}/{PartitionPath('events', day).prefix}"
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            head = client.head_object(
                Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"]
            )
            yield {**version, "Name": version["Key"].rsplit("/", 1)[-1], "Head": head}


def _delete_version(client: Any, bucket: str, key: str, version: str, **extra: Any) -> str:
    """Delete one version as a user would; the error code, or "deleted"."""
    from botocore.exceptions import ClientError

    try:
        client.delete_object(Bucket=bucket, Key=key, VersionId=version, **extra)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "deleted"


def _is_content(name: str) -> bool:
    return name.startswith("part-") or name.startswith("_manifest")


def test_export_locks_files_and_manifests_per_object_and_names_their_versions(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_client: Any, locked_bucket: str
) -> None:
    """Every data file, the generation manifest and the commit marker are written in COMPLIANCE
    mode until about a day from now (per object: the bucket has no default); the manifest names
    the version of each file and of its generation's record; no user can delete one."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = _context(mysql_schema, s3_endpoint, locked_bucket)
    before = dt.datetime.now(dt.UTC)
    export_day(ctx, ctx.job.tables[0], D1)
    manifest = _manifest(ctx, D1)
    versions = list(_versions(s3_client, locked_bucket, D1))
    assert {v["Name"] for v in versions} == {
        "_manifest.json",
        "_manifest-g0001.json",
        *(f.key.rsplit("/", 1)[-1] for f in manifest.files),
    }
    for v in versions:
        head = v["Head"]
        assert head["ObjectLockMode"] == "COMPLIANCE", v["Key"]
        until = head["ObjectLockRetainUntilDate"]
        assert before + dt.timedelta(hours=23) < until < before + dt.timedelta(days=1, hours=1)
    by_name = {v["Name"]: v["VersionId"] for v in versions}
    assert (
        manifest.versions == {f.key: by_name[f.key.rsplit("/", 1)[-1]] for f in manifest.files}
        and manifest.versions
    )
    assert manifest.record_version_id == by_name["_manifest-g0001.json"]
    for v in versions:
        assert _delete_version(s3_client, locked_bucket, v["Key"], v["VersionId"]) == (
            "AccessDenied"
        )
    assert verify_day(ctx, ctx.job.tables[0], D1).ok


def test_the_tool_cannot_delete_a_locked_file_and_a_users_overwrite_changes_nothing_it_reads(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_client: Any, locked_bucket: str
) -> None:
    """dbarchive's own delete of a locked file only hides it (a delete marker) and a user's PUT
    over it only adds a version: the archived version stays, verify names what happened, and
    restore still brings back the archived rows from the versions the manifest names."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    oracle = _snapshot(mysql_schema)
    ctx = _context(mysql_schema, s3_endpoint, locked_bucket)
    export_day(ctx, ctx.job.tables[0], D1)
    manifest = _manifest(ctx, D1)
    first, *_ = manifest.files
    assert first.version_id is not None
    ctx.storage.delete_keys([first.key])  # the tool: DeleteObjects without versions
    hidden = verify_day(ctx, ctx.job.tables[0], D1)
    assert not hidden.ok
    assert any(f"archived version {first.version_id} is intact" in p for p in hidden.problems)
    full_key = f"{PREFIX}/{first.key}"
    s3_client.put_object(Bucket=locked_bucket, Key=full_key, Body=b"id\n1\n")  # a user's PUT
    overwritten = verify_day(ctx, ctx.job.tables[0], D1)
    assert any("the name now shows version" in p for p in overwritten.problems), overwritten
    stored = s3_client.get_object(Bucket=locked_bucket, Key=full_key, VersionId=first.version_id)
    assert stored["ContentLength"] == first.bytes  # the data stays
    mysql_schema.execute("DELETE FROM events")
    assert restore_day(ctx, ctx.job.tables[0], D1).ok
    assert _snapshot(mysql_schema) == oracle


def _purge(ctx: Context, today: dt.date) -> TableReport:
    report = TableReport("events")
    purge_table(ctx, ctx.job.tables[0], today, build_throttle(ctx), report)
    return report


def test_late_rows_reexport_verify_and_restore_work_on_a_locked_bucket(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_client: Any, locked_bucket: str
) -> None:
    """Export → purge of D1 → late rows into D1 and a changed row in D2 → the daily run grows D1
    and replaces D2 (new generations, promoted copies locked although SeaweedFS ignores
    CopyObject's lock headers) → verify → restore gives back every row. The replaced generation's
    files are hidden, their locked versions kept; staged files were never locked."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    _fill(mysql_schema, D2, PER_DAY)
    ctx = _context(mysql_schema, s3_endpoint, locked_bucket)
    oracle = _snapshot(mysql_schema)
    for day in (D1, D2):
        export_day(ctx, ctx.job.tables[0], day)
    replaced = _manifest(ctx, D2)
    assert _purge(ctx, D1 + dt.timedelta(days=61)).ok
    _fill(mysql_schema, D1, 5, first_second=30)  # late rows into a purged day
    mysql_schema.execute("UPDATE events SET note = 'changed' WHERE created_at >= %s LIMIT 3", (D2,))
    oracle.update(_snapshot(mysql_schema))

    grown = export_day(ctx, ctx.job.tables[0], D1)
    again = export_day(ctx, ctx.job.tables[0], D2)
    assert (grown.generation, again.generation) == (2, 2) and again.published
    for day in (D1, D2):
        manifest = _manifest(ctx, day)
        assert len(manifest.versions) == len(manifest.files), day
        assert verify_day(ctx, ctx.job.tables[0], day).ok, day
        versions = list(_versions(s3_client, locked_bucket, day))
        for v in versions:  # archive content locked (promoted copies too), temporaries not
            locked = v["Head"].get("ObjectLockMode")
            assert (locked == "COMPLIANCE") == _is_content(v["Name"]), v["Key"]
        staged = [v for v in versions if v["Name"].startswith("_staged-")]
        assert all(
            _delete_version(s3_client, locked_bucket, v["Key"], v["VersionId"]) == "deleted"
            for v in staged
        )
    # D2's first generation: gone from listings, every version kept under retention.
    listed = {o.key for o in ctx.storage.list_objects(PartitionPath("events", D2).prefix)}
    for entry in replaced.files:
        assert entry.key not in listed
        head = s3_client.head_object(
            Bucket=locked_bucket, Key=f"{PREFIX}/{entry.key}", VersionId=entry.version_id
        )
        assert head["ObjectLockMode"] == "COMPLIANCE"
    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert report.ok, report.errors
    assert mysql_schema.execute("SELECT COUNT(*) FROM events") == [(0,)]
    for day in (D1, D2):
        assert restore_day(ctx, ctx.job.tables[0], day, into="back").ok
    assert _snapshot(mysql_schema, "back") == oracle
    history = [v for v in _versions(s3_client, locked_bucket, D2) if v["Name"] == "_manifest.json"]
    assert len(history) == 2  # each commit a new locked version of the marker; the newest wins
    assert all(v["Head"]["ObjectLockMode"] == "COMPLIANCE" for v in history)


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_governance_yields_to_bypass_and_compliance_to_nobody(
    mysql_schema: MySqlSchema,
    s3_endpoint: S3Endpoint,
    s3_client: Any,
    locked_bucket: str,
    mode: str,
) -> None:
    """As AWS documents: without BypassGovernanceRetention neither mode lets a version be
    deleted or its retention shortened; with it, governance does and compliance still does not.
    A deleted archived version is then reported missing by verify (by its version)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = _context(mysql_schema, s3_endpoint, locked_bucket, mode=mode)
    export_day(ctx, ctx.job.tables[0], D1)
    entry = _manifest(ctx, D1).files[0]
    key, version = f"{PREFIX}/{entry.key}", entry.version_id
    assert version is not None
    assert _delete_version(s3_client, locked_bucket, key, version) == "AccessDenied"
    shorter = {"Mode": mode, "RetainUntilDate": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)}
    shorten = _retention(s3_client, locked_bucket, key, version, shorter)
    assert shorten == "AccessDenied"
    bypass = {"BypassGovernanceRetention": True}
    bypassed = _retention(s3_client, locked_bucket, key, version, shorter, **bypass)
    deleted = _delete_version(s3_client, locked_bucket, key, version, **bypass)
    if mode == "COMPLIANCE":
        assert (bypassed, deleted) == ("AccessDenied", "AccessDenied")
        assert verify_day(ctx, ctx.job.tables[0], D1).ok
    else:
        assert (bypassed, deleted) == ("set", "deleted")
        result = verify_day(ctx, ctx.job.tables[0], D1)
        assert any(f"(version {version}): listed in the manifest but missing" in p
                   for p in result.problems), result  # fmt: skip


def _retention(
    client: Any, bucket: str, key: str, version: str, retention: Any, **extra: Any
) -> str:
    from botocore.exceptions import ClientError

    try:
        client.put_object_retention(
            Bucket=bucket, Key=key, VersionId=version, Retention=retention, **extra
        )
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "set"


def test_a_run_refuses_a_bucket_without_object_lock_naming_the_fix(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_bucket: str, s3_client: Any
) -> None:
    """object_lock configured, bucket created without it: the export stops before writing a byte,
    naming the command that enables it; a versioned bucket without lock, the same."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 10)
    ctx = _context(mysql_schema, s3_endpoint, s3_bucket)
    with pytest.raises(StorageError, match=r"versioning never enabled.*put-bucket-versioning"):
        export_day(ctx, ctx.job.tables[0], D1)
    ctx.source.close()
    s3_client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    ctx = _context(mysql_schema, s3_endpoint, s3_bucket)
    with pytest.raises(
        StorageError, match=r"does not have S3 Object Lock enabled.*put-object-lock"
    ):
        export_day(ctx, ctx.job.tables[0], D1)
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_a_run_refuses_a_lock_weaker_than_the_buckets_default(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_client: Any, locked_bucket: str
) -> None:
    """The bucket's default retention is COMPLIANCE for 2 days: GOVERNANCE, or COMPLIANCE for one
    day, would undercut it and is refused; COMPLIANCE for 2 days runs."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 10)
    rule = {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 2}}
    s3_client.put_object_lock_configuration(
        Bucket=locked_bucket,
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule},
    )
    governance = _context(mysql_schema, s3_endpoint, locked_bucket, mode="GOVERNANCE")
    with pytest.raises(StorageError, match='set object_lock mode = "COMPLIANCE"'):
        export_day(governance, governance.job.tables[0], D1)
    governance.source.close()
    shorter = _context(mysql_schema, s3_endpoint, locked_bucket)
    with pytest.raises(StorageError, match='retains the archive only 1 day: set retain = "2 days"'):
        export_day(shorter, shorter.job.tables[0], D1)
    shorter.source.close()
    job = shorter.job.model_copy(
        update={
            "destination": shorter.job.destination.model_copy(
                update={
                    "object_lock": shorter.job.destination.object_lock.model_copy(  # type: ignore[union-attr]
                        update={"retain": "2 days"}
                    )
                }
            )
        }
    )
    options = dataclasses.replace(
        storage_options(job.destination),
        access_key_id=s3_endpoint.access_key,
        secret_access_key=s3_endpoint.secret_key,
    )
    ctx = build_context(job, storage=open_storage(job.destination.url, options))
    assert export_day(ctx, ctx.job.tables[0], D1).published


def test_locked_writes_carry_the_checksum_algorithm_header_and_multipart_is_locked(
    s3_endpoint: S3Endpoint, s3_client: Any, locked_bucket: str
) -> None:
    """AWS refuses a locked PutObject without Content-MD5 or x-amz-sdk-checksum-algorithm: ours
    carry the latter beside their CRC32. A file larger than a part (a multipart upload) is locked
    by its CreateMultipartUpload; a temporary object is written without a lock."""
    from dbarchive.config import DestinationSettings

    dest = DestinationSettings(
        url=f"s3://{locked_bucket}/{PREFIX}",
        endpoint_url=s3_endpoint.url,
        region=s3_endpoint.region,
        object_lock={"mode": "GOVERNANCE", "retain": "1 day"},  # type: ignore[arg-type]
        legal_hold=True,
    )
    options = dataclasses.replace(
        storage_options(dest),
        access_key_id=s3_endpoint.access_key,
        secret_access_key=s3_endpoint.secret_key,
        part_size=5 * 1024 * 1024,
    )
    storage = open_storage(dest.url, options)
    sent: list[dict[str, Any]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append({k.lower(): v.decode() if isinstance(v, bytes) else v
                     for k, v in request.headers.items()})  # fmt: skip

    client, _ = storage.bucket_client()  # type: ignore[attr-defined]
    client.meta.events.register("before-send.s3.PutObject", record)
    folder = PartitionPath("events", D1).prefix
    small = storage.put_bytes(f"{folder}_manifest.json", b"{}\n")
    big = storage.put_bytes(f"{folder}part-g0001-00000.csv", b"x" * (6 * 1024 * 1024))
    temporary = storage.put_bytes(f"{folder}_purge.json", b"{}\n")
    (locked_put, plain_put) = sent
    assert locked_put["x-amz-sdk-checksum-algorithm"] == "CRC32"
    assert (
        locked_put["x-amz-object-lock-mode"] == "GOVERNANCE" and locked_put["x-amz-checksum-crc32"]
    )
    assert "x-amz-object-lock-mode" not in plain_put
    for stored, locked in ((small, True), (big, True), (temporary, False)):
        head = s3_client.head_object(
            Bucket=locked_bucket, Key=f"{PREFIX}/{stored.key}", VersionId=stored.version_id
        )
        assert (head.get("ObjectLockMode"), head.get("ObjectLockLegalHoldStatus") == "ON") == (
            ("GOVERNANCE", True) if locked else (None, False)
        ), stored.key


def test_hold_sets_and_releases_the_legal_hold_of_what_the_manifests_name(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_client: Any, locked_bucket: str
) -> None:
    """`hold` puts every version a day's committed manifest names under legal hold (files, the
    generation record, the commit marker), says so, changes nothing more when run again, and
    `--release` clears it; a day without archive is listed, not an error."""
    from dbarchive import api

    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = _context(mysql_schema, s3_endpoint, locked_bucket, mode="GOVERNANCE")
    export_day(ctx, ctx.job.tables[0], D1)
    held = api.hold(ctx, "events", D1, D2)
    manifest = _manifest(ctx, D1)
    expected = {*manifest.versions.values(), manifest.record_version_id}
    assert {o.version_id for o in held.changed} >= expected and len(held.changed) == len(
        manifest.files
    ) + 2
    assert held.days == [D1] and held.not_archived == [D2]
    assert "legal hold set on" in held.summary()
    for o in held.objects:
        hold = s3_client.get_object_legal_hold(
            Bucket=locked_bucket, Key=f"{PREFIX}/{o.key}", VersionId=o.version_id
        )
        assert hold["LegalHold"]["Status"] == "ON", o.key
    entry = manifest.files[0]
    bypass = {"BypassGovernanceRetention": True}  # governance bypassed, the hold still holds
    key = f"{PREFIX}/{entry.key}"
    assert _delete_version(s3_client, locked_bucket, key, str(entry.version_id), **bypass) == (
        "AccessDenied"
    )
    assert not api.hold(ctx, "events", D1, D1).changed  # again: nothing to change
    released = api.hold(ctx, "events", D1, D1, release=True)
    assert len(released.changed) == len(held.changed)
    assert _delete_version(s3_client, locked_bucket, key, str(entry.version_id), **bypass) == (
        "deleted"
    )


def test_hold_refuses_a_bucket_without_object_lock(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_client: Any
) -> None:
    """On a versioned bucket without Object Lock, `hold` said "legal hold set on 3 object
    version(s)": AWS refuses such a hold, an S3-compatible store kept the flag and enforced
    nothing, and a later erase deleted the "held" version (an outside trial). It is refused
    before any version is touched."""
    from dbarchive import api

    bucket = f"dbarchive-vers-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 20)
    ctx = _context(mysql_schema, s3_endpoint, bucket, mode="")
    export_day(ctx, ctx.job.tables[0], D1)
    with pytest.raises(ConfigError, match="does not have Object Lock enabled"):
        api.hold(ctx, "events", D1, D1)


def _two_days_the_first_held(schema: MySqlSchema, endpoint: S3Endpoint, bucket: str) -> Context:
    """D1 and D2 archived (20 rows each) on a bucket with Object Lock, the job without
    object_lock (so erasure is allowed), D1 under legal hold."""
    from dbarchive import api

    schema.execute(LOG_TABLE_DDL)
    _fill(schema, D1, 20)
    _fill(schema, D2, 20)
    ctx = _context(schema, endpoint, bucket, mode="")
    for day in (D1, D2):
        export_day(ctx, ctx.job.tables[0], day)
    api.hold(ctx, "events", D1, D1)
    return ctx


def test_a_hold_reaches_every_generation_and_an_erasure_refuses_a_held_day(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_client: Any, locked_bucket: str
) -> None:
    """A bucket with Object Lock, the job without object_lock (so erasure is allowed). Late
    rows gave a held day a second generation: a release cleared the new one only, leaving the
    first held for good; and an erasure of a held day died on AccessDenied, naming no day and
    stopping every later one (an outside trial). A hold or release now reaches every stored
    version of the day's files and manifests; an erasure refuses a held day and goes on."""
    from dbarchive import api

    ctx = _two_days_the_first_held(mysql_schema, s3_endpoint, locked_bucket)
    _fill(mysql_schema, D1, 2, first_second=80_000)  # late rows: a second generation
    export_day(ctx, ctx.job.tables[0], D1)
    mysql_schema.execute("DELETE FROM events WHERE account_id = 3")
    report = api.erase(ctx, "events", D1, D2, "account_id = 3")
    assert "under legal hold" in report.refused[D1] and [d.day for d in report.days] == [D2]
    api.hold(ctx, "events", D1, D1)
    api.hold(ctx, "events", D1, D1, release=True)
    states = {
        (v["Key"], v["VersionId"]): s3_client.get_object_legal_hold(
            Bucket=locked_bucket, Key=v["Key"], VersionId=v["VersionId"]
        )["LegalHold"]["Status"]
        for v in _versions(s3_client, locked_bucket, D1)
        if v["Name"].startswith(("part-", "_manifest"))
    }
    assert len(states) > 4 and set(states.values()) == {"OFF"}, states
    assert api.erase(ctx, "events", D1, D1, "account_id = 3").ok


def test_late_rows_on_a_held_day_are_held_as_they_are_published(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_client: Any, locked_bucket: str
) -> None:
    """Late rows gave a held day a new generation that nothing held until `hold` ran again (a
    known gap): the publication holds it when the manifest it replaces was held. A day not held
    stays unheld."""
    ctx = _two_days_the_first_held(mysql_schema, s3_endpoint, locked_bucket)
    for day in (D1, D2):
        _fill(mysql_schema, day, 2, first_second=80_000)  # late rows: a second generation
        assert export_day(ctx, ctx.job.tables[0], day).generation == 2

    def status(key: str, version: str) -> str:
        try:
            reply = s3_client.get_object_legal_hold(
                Bucket=locked_bucket, Key=key, VersionId=version
            )
        except s3_client.exceptions.ClientError as exc:  # never held: no hold configuration
            if "NoSuchObjectLegalHold" not in str(exc):
                raise
            return "OFF"
        return str(reply["LegalHold"]["Status"])

    def holds(day: dt.date) -> dict[tuple[str, str], str]:
        return {
            (v["Key"], v["VersionId"]): status(v["Key"], v["VersionId"])
            for v in _versions(s3_client, locked_bucket, day)
            if v["Name"].startswith(("part-", "_manifest"))
        }

    held = holds(D1)
    assert any("g0002" in key for key, _ in held), held
    assert set(held.values()) == {"ON"}, held
    assert set(holds(D2).values()) == {"OFF"}


def test_hold_command_and_lifecycle_command(
    mysql_schema: MySqlSchema,
    s3_endpoint: S3Endpoint,
    s3_client: Any,
    locked_bucket: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From the command line: `hold` reports what it changed (JSON too); with
    [destination] lifecycle, data files are written tagged for the rules and `lifecycle` prints
    them, warning that the day's small files will not move."""
    import json

    from click.testing import CliRunner

    from dbarchive.cli.app import cli

    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 20)
    config = tmp_path / "archive.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n'
        f'[destination]\nurl = "s3://{locked_bucket}/{PREFIX}"\nendpoint_url = "{s3_endpoint.url}"\n'
        f'region = "{s3_endpoint.region}"\n'
        'object_lock = { mode = "GOVERNANCE", retain = "1 day" }\n'
        'lifecycle = { storage_class = "GLACIER_IR", after = "90 days" }\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_endpoint.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_endpoint.secret_key)
    runner = CliRunner()
    exported = runner.invoke(cli, ["export", "-c", str(config), "--date", str(D1)])
    assert exported.exit_code == 0, exported.output
    for v in _versions(s3_client, locked_bucket, D1):
        tags = s3_client.get_object_tagging(
            Bucket=locked_bucket, Key=v["Key"], VersionId=v["VersionId"]
        )["TagSet"]
        data = v["Name"].startswith("part-")
        assert (tags == [{"Key": "dbarchive-kind", "Value": "data"}]) is data, v["Key"]
    held = runner.invoke(cli, ["hold", "-c", str(config), "-t", "events", "--from", str(D1)])
    assert held.exit_code == 0, held.output
    assert "events: legal hold set on 3 object version(s) of 1 archived day(s)" in held.output
    again = runner.invoke(
        cli, ["hold", "-c", str(config), "-t", "events", "--from", str(D1), "--json"]
    )
    report = json.loads(again.stdout)
    assert report["changed"] == 0 and report["legal_hold"] == "ON" and len(report["objects"]) == 3
    printed = runner.invoke(cli, ["lifecycle", "-c", str(config)])
    assert printed.exit_code == 0, printed.output
    rules = json.loads(printed.stdout)["Rules"]
    assert rules[0]["Transitions"] == [{"Days": 90, "StorageClass": "GLACIER_IR"}]
    assert "1 data file(s) are smaller than 128 KiB" in printed.stderr
    for text in (held.output, printed.stdout, printed.stderr):  # off a terminal: plain, whole
        assert not set("…─│┌└╭╰") & set(text) and "None" not in text, text


def test_ledger_records_are_locked_like_the_archive(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_client: Any, locked_bucket: str
) -> None:
    """With Object Lock and the deletion ledger on, every ledger record the purge writes is a
    version under the archive's retention (it cannot be deleted); the open-intent notes are not
    (they are temporary by design)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    plain = _context(mysql_schema, s3_endpoint, locked_bucket)
    job = plain.job.model_copy(update={"ledger": LedgerSettings(enabled=True)})
    ctx = build_context(job, storage=plain.storage)
    report = _purge(ctx, TODAY)
    assert report.rows_deleted == PER_DAY and not report.errors
    records, notes = [], []
    for page in s3_client.get_paginator("list_object_versions").paginate(
        Bucket=locked_bucket, Prefix=f"{PREFIX}/"
    ):
        for version in page.get("Versions", []):
            if "/_ledger/" not in version["Key"]:
                continue
            head = s3_client.head_object(
                Bucket=locked_bucket, Key=version["Key"], VersionId=version["VersionId"]
            )
            (notes if "/_ledger/_open/" in version["Key"] else records).append((version, head))
    assert records, "the purge wrote no ledger record"
    for version, head in records:
        assert head.get("ObjectLockMode") == "COMPLIANCE", version["Key"]
        code = _delete_version(s3_client, locked_bucket, version["Key"], version["VersionId"])
        assert code != "deleted", version["Key"]
    for version, head in notes:
        assert "ObjectLockMode" not in head, version["Key"]
    ctx.source.close()
    plain.source.close()

"""S3 faults through our own fault proxy in front of SeaweedFS (issue 7, matrix 5).

Throttling and 5xx on a fraction of calls, responses lost after the server acted, connections
reset or stalled mid-upload, a byte flipped in transit, archived objects damaged at rest, and a
foreign object at a key the export would write: each ends with the oracle at zero (after a plain
rerun where the fault made the run fail loudly), and nothing damaged is ever trusted or purged.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.integration.conftest import S3Endpoint
from tests.integration.mysql_fixtures import MySqlSchema
from tests.reliability import scenario
from tests.reliability.conftest import s3_env
from tests.reliability.faultproxy import FaultProxy, Request
from tests.reliability.oracle import S3View, Seed, archive_signature, check
from tests.reliability.scenario import Job, record, write_job


@pytest.fixture
def proxy(s3_endpoint: S3Endpoint) -> Iterator[FaultProxy]:
    parsed = urlparse(s3_endpoint.url)
    fault_proxy = FaultProxy((parsed.hostname or "127.0.0.1", parsed.port or 80))
    fault_proxy.url = fault_proxy.start()  # type: ignore[attr-defined]
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture
def proxied(
    proxy: FaultProxy,
    mysql_schema: MySqlSchema,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    tmp_path: Path,
) -> Job:
    """The scenario's job, talking to S3 through the proxy."""
    return write_job(
        tmp_path / "proxied.toml",
        mysql_schema.url,
        f"s3://{s3_bucket}/arch",
        s3_env(s3_endpoint),
        destination=f'endpoint_url = "{proxy.url}"\npart_size_mib = 5\n',  # type: ignore[attr-defined]
    )


def once(operation: str, action: str, nth: int = 1) -> Any:
    """A plan that applies ``action`` to the nth request of ``operation`` only."""
    seen = {"n": 0}

    def plan(request: Request) -> str | None:
        if request.operation != operation:
            return None
        seen["n"] += 1
        return action if seen["n"] == nth else None

    return plan


def _finish(
    name: str,
    job: Job,
    seed: Seed,
    db: MySqlSchema,
    view: S3View,
    proxy: FaultProxy,
    codes: list[int],
) -> Any:
    verdict = record(
        check(
            name,
            seed,
            db,
            view,
            injections=len(proxy.faults()),
            retries=_resent(proxy),
            exit=",".join(map(str, codes)),
            extra={
                "faults": sorted({f"{f.operation}:{f.action}:{f.status}" for f in proxy.faults()})
            },
        )
    )
    assert verdict.clean, verdict.details
    return verdict


def test_throttling_and_server_errors_on_a_fifth_of_calls_are_retried(
    proxied: Job,
    proxy: FaultProxy,
    seeded: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """503 SlowDown or 500 on ~20 % of all S3 calls: the run retries (standard mode) and succeeds."""
    expected = clean_signature(seeded)
    rng = random.Random(503)
    proxy.plan = lambda r: rng.choice(["503", "500"]) if rng.random() < 0.2 else None
    proc = proxied.run(*scenario.run_args())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(proxy.faults()) >= 10
    _finish(
        "503 SlowDown / 500 on 20% of S3 calls", proxied, seeded, mysql_schema, view, proxy, [0]
    )
    assert archive_signature(view) == expected


@pytest.mark.parametrize(
    "operation", ["PutObject", "UploadPart", "CompleteMultipartUpload", "DeleteObjects"]
)
def test_lost_response_after_the_server_acted_makes_no_second_copy(
    operation: str,
    proxied: Job,
    proxy: FaultProxy,
    seeded: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """The server stored it, the answer never came, the client retried: one object, exact.

    A first export deletes nothing (publication by generation writes new names only), so for
    DeleteObjects a day is archived, one of its files damaged, and the re-export — which
    republishes the day and deletes the old generation's files — loses that answer."""
    expected = clean_signature(seeded)
    if operation == "DeleteObjects":
        assert proxied.run(*scenario.export_args()).returncode == 0
        damaged = next(k for k in view.keys("") if "/part-" in k)
        view.client.put_object(Bucket=view.bucket, Key=view.prefix + damaged, Body=b"damaged")
    proxy.plan = once(operation, "lose", 1 if operation == "DeleteObjects" else 2)
    proc = proxied.run(*scenario.export_args())
    assert proxy.faults() and proxy.faults()[0].status in (200, 204), proxy.faults()
    assert proc.returncode == 0, proc.stderr[-2000:]
    _finish(
        f"{operation} response lost after it succeeded",
        proxied,
        seeded,
        mysql_schema,
        view,
        proxy,
        [0],
    )
    assert archive_signature(view) == expected


def _commit_marker_once(action: str) -> Any:
    """A plan that applies ``action`` to the first PUT of a day's ``_manifest.json`` only."""
    seen = {"n": 0}

    def plan(request: Request) -> str | None:
        if request.operation != "PutObject" or "/_manifest.json" not in request.target:
            return None
        seen["n"] += 1
        return action if seen["n"] == 1 else None

    return plan


@pytest.mark.parametrize("commit", ["first", "replace"])
def test_a_commit_whose_answer_is_lost_is_not_taken_for_another_writers(
    commit: str,
    proxied: Job,
    proxy: FaultProxy,
    seeded: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """The commit marker is PUT conditionally (If-None-Match for a day's first, If-Match on the
    manifest it replaces). Its answer lost after the server stored it, botocore's retry fails the
    condition on that very object: the write finds its own mark there and goes on (exit 0), as
    it does when the answer of a data file's PUT is lost."""
    expected = clean_signature(seeded)
    if commit == "replace":  # a damaged file: the re-export replaces the day
        assert proxied.run(*scenario.export_args()).returncode == 0
        damaged = next(k for k in view.keys("") if "/part-" in k)
        view.client.put_object(Bucket=view.bucket, Key=view.prefix + damaged, Body=b"damaged")
    proxy.plan = _commit_marker_once("lose")
    proc = proxied.run(*scenario.export_args())
    assert proxy.faults() and proxy.faults()[0].status == 200, proxy.faults()
    assert proc.returncode == 0, proc.stderr[-2000:]
    _finish(
        f"the commit marker's answer lost after it succeeded ({commit})",
        proxied,
        seeded,
        mysql_schema,
        view,
        proxy,
        [0],
    )
    assert archive_signature(view) == expected


@pytest.mark.parametrize("action", ["reset", "stall"])
def test_connection_reset_or_stalled_mid_upload(
    action: str,
    proxied: Job,
    proxy: FaultProxy,
    seeded: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """Half of a part's body sent, then the connection resets (or stops for 2 s): it recovers."""
    expected = clean_signature(seeded)
    proxy.plan = once("UploadPart", action, 2)
    proc = proxied.run(*scenario.export_args())
    assert proc.returncode == 0, proc.stderr[-2000:]
    _finish(f"connection {action} mid-UploadPart", proxied, seeded, mysql_schema, view, proxy, [0])
    assert archive_signature(view) == expected


@pytest.mark.parametrize("operation", ["UploadPart", "PutObject"])
def test_a_byte_flipped_in_transit_is_rejected_by_the_server(
    operation: str,
    proxied: Job,
    proxy: FaultProxy,
    seeded: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    clean_signature: Any,
) -> None:
    """One flipped body byte: the server refuses it (checksum); nothing damaged is committed."""
    expected = clean_signature(seeded)
    proxy.plan = once(operation, "flip", 1)
    first = proxied.run(*scenario.export_args())
    (fault,) = proxy.faults()
    assert fault.status is not None and 400 <= fault.status < 500  # rejected, never stored
    codes = [first.returncode]
    if first.returncode != 0:  # refused loudly: the day stays unarchived, a rerun finishes it
        assert "error" in first.stderr.lower() or "BadDigest" in first.stderr
        codes.append(proxied.run(*scenario.export_args()).returncode)
    assert codes[-1] == 0
    _finish(
        f"one byte flipped in transit ({operation})",
        proxied,
        seeded,
        mysql_schema,
        view,
        proxy,
        codes,
    )
    assert archive_signature(view) == expected


def _resent(proxy: FaultProxy) -> int:
    """Requests the client sent again (same operation and target) after an injected fault."""
    log = proxy.log
    return sum(
        1
        for i, e in enumerate(log)
        if e.action
        and any((x.operation, x.target) == (e.operation, e.target) for x in log[i + 1 :])
    )


def _damage(kind: str, data: bytes) -> bytes:
    lines = data.split(b"\n")
    if kind == "flip":
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
    if kind == "drop":
        return b"\n".join([lines[0], *lines[2:]])
    return b"\n".join([lines[0], lines[1], *lines[1:]])  # a row twice


@pytest.mark.parametrize("kind", ["flip", "drop", "duplicate"])
def test_corruption_at_rest_is_detected_and_nothing_is_purged(
    kind: str,
    s3_job: Job,
    light: Seed,
    mysql_schema: MySqlSchema,
    view: S3View,
    s3_client: Any,
) -> None:
    """An archived file of an expired day damaged after export: verify fails naming it, the
    purge deletes none of that day's rows; re-exporting the day repairs it, then all is exact."""
    assert s3_job.run(*scenario.export_args()).returncode == 0
    day = scenario.EXPIRED[1]
    (part,) = [k for k in view.keys("events/") if f"day={day.day:02d}/part-" in k]
    damaged = _damage(kind, view.read(part))
    s3_client.put_object(Bucket=view.bucket, Key=view.prefix + part, Body=damaged)
    in_day = _day_count(mysql_schema, day)
    verify = s3_job.run("verify", "--date", day.isoformat())
    assert verify.returncode == 5 and part in verify.stdout, verify.stdout
    purge = s3_job.run(*scenario.purge_args())
    assert purge.returncode == 5 and part in purge.stderr  # a verification failure
    assert _day_count(mysql_schema, day) == in_day  # not one row of the damaged day deleted
    assert _day_count(mysql_schema, scenario.EXPIRED[0]) == 0  # the day before it was purged
    repaired = s3_job.run("export", "--date", day.isoformat(), "-q")
    final = s3_job.run(*scenario.purge_args())
    assert (repaired.returncode, final.returncode) == (0, 0), final.stderr
    verdict = record(
        check(
            f"archived file damaged at rest ({kind} a row/byte)",
            light,
            mysql_schema,
            view,
            injections=1,
            exit=f"verify {verify.returncode}, purge {purge.returncode}, after re-export 0",
        )
    )
    assert verdict.clean, verdict.details


def _day_count(db: MySqlSchema, day: Any) -> int:
    rows = db.execute(
        "SELECT COUNT(*) FROM events WHERE created_at >= %s AND created_at < %s",
        (day, day + scenario.dt.timedelta(days=1)),
    )
    return int(rows[0][0])


@pytest.mark.parametrize("name", ["part-00000.csv", "_manifest.json", "part-00001.csv"])
def test_a_foreign_object_at_a_target_key_fails_loudly_and_is_not_overwritten(
    name: str, s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View, s3_client: Any
) -> None:
    """Someone's file where the export would write (a part, the manifest, a stale-looking part):
    the export stops naming it — exit 4 for a part; 5 for the manifest, which is read as the
    day's archive and is not one (a damaged archive fails its day only) — and the object is
    byte-identical afterwards."""
    day = scenario.DAYS[0]
    key = f"events/year={day.year}/month={day.month:02d}/day={day.day:02d}/{name}"
    s3_client.put_object(Bucket=view.bucket, Key=view.prefix + key, Body=b"not yours\n")
    proc = s3_job.run("export", "--date", day.isoformat(), "-q")
    assert proc.returncode == (5 if name == "_manifest.json" else 4), proc.stderr
    assert key in proc.stderr and (
        "nothing was" in proc.stderr or "nothing of its day" in proc.stderr
    )
    assert view.read(key) == b"not yours\n"
    assert view.keys(f"events/year={day.year}/") == [key]  # nothing written beside it
    s3_client.delete_object(Bucket=view.bucket, Key=view.prefix + key)  # the owner moves it away
    assert s3_job.run(*scenario.export_args()).returncode == 0
    verdict = record(
        check(
            f"foreign object at a target key ({name})",
            light,
            mysql_schema,
            view,
            injections=1,
            exit=f"{proc.returncode}, after it was moved 0",
        )
    )
    assert verdict.clean, verdict.details

"""`dbarchive restore` into a table where an archived row clashes with another live row."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dbarchive import build_context, export_day
from dbarchive.cli import cli
from tests.integration.conftest import S3Endpoint
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DAY = dt.date(2026, 8, 2)
ARCHIVED = [(i, dt.datetime(2026, 8, 2, i), f"a{i}@x", f"w{i}") for i in range(1, 7)]


def _archived_to_s3(
    schema: MySqlSchema, tmp_path: Path, endpoint: S3Endpoint, bucket: str
) -> list[str]:
    """Table ``uq`` (PK id, UNIQUE email) with six rows on DAY, archived to the suite's S3;
    returns the restore command of that day."""
    schema.execute(
        "CREATE TABLE uq (id INT PRIMARY KEY, created_at DATETIME NOT NULL, "
        "email VARCHAR(40) NOT NULL, v VARCHAR(20), UNIQUE KEY uq_email (email), "
        "KEY (created_at))"
    )
    for row in ARCHIVED:
        schema.execute("INSERT INTO uq VALUES (%s, %s, %s, %s)", row)
    dest = f"s3://{bucket}/arch"
    tables = [{"name": "uq", "timestamp_column": "created_at"}]
    job = make_job(schema.url, dest, tables, endpoint_url=endpoint.url)
    ctx = build_context(job)
    export_day(ctx, job.tables[0], DAY)
    ctx.source.close()
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{dest}"\n'
        f'endpoint_url = "{endpoint.url}"\n'
        '[[tables]]\nname = "uq"\ntimestamp_column = "created_at"\n'
    )
    return ["restore", "-c", str(config), "-t", "uq", "--date", DAY.isoformat(), "--json"]


@pytest.mark.parametrize("replace", [False, True])
def test_a_row_clashing_with_another_live_row_is_left_and_the_rest_restored(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    replace: bool,
) -> None:
    """Archived id=5 'a5@x'; live id=5 changed to 'moved@x' and live id=9 holding 'a5@x':
    `--replace` overwriting id=5 hit UNIQUE(email), MySQL refused the whole batch (1062) and
    the restore failed with exit 3, every rerun the same (an outside trial). The clashing row
    is left (the live data wins), the other rows are restored, and the restore is NOT verified
    (exit 5), saying how many rows were left and on which index; plain restore skips id=5."""
    for name, value in (("AWS_ACCESS_KEY_ID", s3_endpoint.access_key),
                        ("AWS_SECRET_ACCESS_KEY", s3_endpoint.secret_key),
                        ("AWS_DEFAULT_REGION", s3_endpoint.region)):  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    args = _archived_to_s3(mysql_schema, tmp_path, s3_endpoint, s3_bucket)
    mysql_schema.execute("DELETE FROM uq WHERE id <> 5")
    mysql_schema.execute("UPDATE uq SET email = 'moved@x', v = 'live5' WHERE id = 5")
    mysql_schema.execute("INSERT INTO uq VALUES (9, '2026-11-30 00:00:00', 'a5@x', 'live9')")

    for run in range(2):  # a rerun meets the same clash, and ends the same way
        result = CliRunner().invoke(cli, [*args, *(["--replace"] if replace else [])])
        assert result.exit_code == 5, result.output
        report = json.loads(result.stdout)
        assert not report["verified"]
        problems = "; ".join(report["problems"])
        if replace:
            # on the rerun too: a row already as archived counts as written (_Loader._count)
            assert (report["left"], report["written"]) == (1, 5), report
            assert "1 archived row was left unwritten" in problems, problems
            assert "uq_email" in problems and "'a5@x'" not in problems, problems
        else:  # the row with the archive's key is there: skipped, as any row already there
            assert (report["left"], report["skipped"]) == (0, (1, 6)[run]), report
    assert mysql_schema.execute("SELECT id, created_at, email, v FROM uq WHERE id IN (5, 9)") == [
        (5, dt.datetime(2026, 8, 2, 5), "moved@x", "live5"),
        (9, dt.datetime(2026, 11, 30), "a5@x", "live9"),
    ]
    others = mysql_schema.execute("SELECT * FROM uq WHERE id NOT IN (5, 9) ORDER BY id")
    assert others == [r for r in ARCHIVED if r[0] != 5]

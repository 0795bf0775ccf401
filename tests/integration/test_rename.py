"""A table renamed (RENAME TABLE) keeps its archive: ``path`` points at its old folder and
``formerly`` names it as it was, so the days archived under the old name are verified, purged
and restored as the table's own. Found by an outside trial: every day archived before the rename
was refused for good ("Two tables share this folder"), with no way out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from dbarchive.cli import cli
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = "2026-11-25"  # 60 days: 2026-09-01 expired, 2026-11-20 kept
OLD, RECENT = dt.date(2026, 9, 1), dt.date(2026, 11, 20)


def _config(tmp_path: Path, schema: MySqlSchema, table: str, extra: str = "") -> Path:
    path = tmp_path / "job.toml"
    path.write_text(
        f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{tmp_path / "arch"}"\n'
        f'[defaults]\nretention = "60 days"\n'
        f'[[tables]]\nname = "{table}"\ntimestamp_column = "created_at"\n{extra}'
    )
    return path


def _cli(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [args[0], "-c", str(config), *args[1:]])


def test_a_renamed_table_keeps_its_archive_through_formerly(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, OLD.isoformat(), 50)
    fill_events(mysql_schema, RECENT.isoformat(), 30)
    mysql_schema.execute("RENAME TABLE events TO evo")
    config = _config(tmp_path, mysql_schema, "evo")
    exported = _cli(config, "export", "--from", OLD.isoformat(), "--to", RECENT.isoformat())
    assert exported.exit_code == 0, exported.output
    archived = mysql_schema.execute("SELECT * FROM evo WHERE created_at < '2026-09-02' ORDER BY id")

    mysql_schema.execute("RENAME TABLE evo TO evo2")
    moved = _config(tmp_path, mysql_schema, "evo2", 'path = "evo"\n')
    refused = _cli(moved, "purge", "--today", TODAY)
    assert refused.exit_code == 5, refused.output
    assert "if this table was renamed, list its former name in formerly" in refused.output
    assert mysql_schema.execute("SELECT COUNT(*) FROM evo2") == [(80,)]

    renamed = _config(tmp_path, mysql_schema, "evo2", 'path = "evo"\nformerly = ["evo"]\n')
    purged = _cli(renamed, "purge", "--today", TODAY)
    assert purged.exit_code == 0, purged.output
    assert mysql_schema.execute("SELECT COUNT(*) FROM evo2") == [(30,)]
    assert (
        _cli(renamed, "verify", "--from", OLD.isoformat(), "--to", OLD.isoformat()).exit_code == 0
    )
    restored = _cli(renamed, "restore", "-t", "evo2", "--date", OLD.isoformat(), "--into", "back")
    assert restored.exit_code == 0, restored.output
    assert mysql_schema.execute("SELECT * FROM back ORDER BY id") == archived

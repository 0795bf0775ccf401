"""A purge deletes only archived rows, also through foreign keys: a table whose rows other tables
reference ON DELETE CASCADE / SET NULL is refused (those rows are in no archive), and ``check``
names the keys and warns of DELETE triggers. Found by an outside trial: the children vanished."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbarchive.cli import cli
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = "2026-03-01"  # 30-day retention: January is expired, March 1 is not


def _tables(schema: MySqlSchema) -> None:
    schema.execute(
        "CREATE TABLE parent_log (id INT PRIMARY KEY, ts DATETIME NOT NULL, v VARCHAR(20),"
        " KEY (ts))"
    )
    schema.execute(
        "INSERT INTO parent_log VALUES (1, '2026-01-01 10:00', 'a'), (2, '2026-01-02 10:00', 'b'),"
        " (3, '2026-03-01 10:00', 'c')"
    )
    for name, rule in (
        ("child", "CASCADE"),
        ("child_null", "SET NULL"),
        ("child_keep", "RESTRICT"),
    ):
        schema.execute(
            f"CREATE TABLE {name} (cid INT PRIMARY KEY, pid INT NULL, CONSTRAINT fk_{name}"
            f" FOREIGN KEY (pid) REFERENCES parent_log (id) ON DELETE {rule})"
        )
    schema.execute("INSERT INTO child VALUES (10, 1), (20, 2), (30, 3)")
    schema.execute("INSERT INTO child_null VALUES (10, 1)")
    schema.execute("INSERT INTO child_keep VALUES (30, 3)")  # a parent that does not expire


def _config(tmp_path: Path, schema: MySqlSchema, url: str | None = None) -> Path:
    path = tmp_path / "fk.toml"
    path.write_text(
        f'[source]\nurl = "{url or schema.url}"\n[destination]\nurl = "{tmp_path / "arch"}"\n'
        '[defaults]\nretention = "30 days"\n'
        '[[tables]]\nname = "parent_log"\ntimestamp_column = "ts"\n'
    )
    return path


def _everything(schema: MySqlSchema, tmp_path: Path) -> dict[str, Any]:
    """Every row of the four tables and every archived file's bytes: to see that nothing
    changed."""
    rows = {t: schema.execute(f"SELECT * FROM {t} ORDER BY 1")
            for t in ("parent_log", "child", "child_null", "child_keep")}  # fmt: skip
    files = {
        p.relative_to(tmp_path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((tmp_path / "arch").rglob("*"))
        if p.is_file()
    }
    return {"rows": rows, "files": files}


def _cli(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [args[0], "-c", str(config), *args[1:]])


def _refused_unchanged(config: Path, schema: MySqlSchema, tmp_path: Path) -> list[str]:
    """Export the two January days, then purge and run: each must exit 3 and change neither the
    database nor the archive; their outputs."""
    exported = _cli(config, "export", "--from", "2026-01-01", "--to", "2026-01-02")
    assert exported.exit_code == 0, exported.output
    before = _everything(schema, tmp_path)
    outputs = []
    for command in (("purge", "--today", TODAY), ("run", "--today", TODAY)):
        result = _cli(config, *command)
        assert result.exit_code == 3, (command, result.output)
        assert _everything(schema, tmp_path) == before, command
        outputs.append(result.output)
    return outputs


def test_a_table_other_rows_reference_on_delete_cascade_is_not_purged(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """purge and run refuse (exit 3), naming the two changing keys and not the RESTRICT one;
    neither the database nor the archive changes. Without those keys the purge goes on."""
    _tables(mysql_schema)
    config = _config(tmp_path, mysql_schema)
    for output in _refused_unchanged(config, mysql_schema, tmp_path):
        assert "cannot purge: deleting its rows would delete or change rows" in output
        assert "`child` (constraint `fk_child`, ON DELETE CASCADE)" in output
        assert "`child_null` (constraint `fk_child_null`, ON DELETE SET NULL)" in output
        assert "fk_child_keep" not in output

    mysql_schema.execute("ALTER TABLE child DROP FOREIGN KEY fk_child")
    mysql_schema.execute("ALTER TABLE child_null DROP FOREIGN KEY fk_child_null")
    result = _cli(config, "purge", "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert [r[0] for r in mysql_schema.execute("SELECT id FROM parent_log")] == [3]
    assert len(mysql_schema.execute("SELECT * FROM child")) == 3  # no longer reached


def test_check_names_the_keys_and_warns_of_delete_triggers(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    _tables(mysql_schema)
    mysql_schema.execute("CREATE TABLE audit (id INT)")
    mysql_schema.execute(
        "CREATE TRIGGER parent_gone AFTER DELETE ON parent_log FOR EACH ROW"
        " INSERT INTO audit VALUES (OLD.id)"
    )
    config = _config(tmp_path, mysql_schema)
    result = _cli(config, "check")
    assert result.exit_code != 0, result.output
    assert "foreign keys referencing parent_log" in result.output
    assert "`child` (constraint `fk_child`, ON DELETE CASCADE)" in result.output
    assert "parent_gone (AFTER DELETE) run for every purged row" in result.output

    mysql_schema.execute("ALTER TABLE child DROP FOREIGN KEY fk_child")
    mysql_schema.execute("ALTER TABLE child_null DROP FOREIGN KEY fk_child_null")
    result = _cli(config, "check")
    assert "none deletes or changes other rows (ON DELETE)" in result.output


def test_the_database_side_purge_procedure_is_not_generated_for_such_a_table(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """``dbarchive sql`` (print or ``--apply``) refuses too: its purge procedure's DELETEs would
    reach the children. Nothing is installed; without the keys it prints the procedures."""
    _tables(mysql_schema)
    config = _config(tmp_path, mysql_schema)
    text = config.read_text().replace(str(tmp_path / "arch"), "s3://archive-bucket/prod")
    config.write_text(text)  # the database-side mode writes to S3 itself
    for extra in ((), ("--apply",)):
        result = _cli(config, "sql", "-t", "parent_log", *extra)
        assert result.exit_code == 3, (extra, result.output)
        assert "`child` (constraint `fk_child`, ON DELETE CASCADE)" in result.output
    assert mysql_schema.execute("SHOW PROCEDURE STATUS WHERE Db = DATABASE()") == []

    mysql_schema.execute("ALTER TABLE child DROP FOREIGN KEY fk_child")
    mysql_schema.execute("ALTER TABLE child_null DROP FOREIGN KEY fk_child_null")
    result = _cli(config, "sql", "-t", "parent_log")
    assert result.exit_code == 0, result.output
    assert "dbarchive_purge_parent_log" in result.output


@pytest.fixture
def archiver(mysql_schema: MySqlSchema, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A login to be granted SELECT and DELETE on the log table only (``_grant_log``; its
    password in $DBARCHIVE_MYSQL_PASSWORD)."""
    name, password = f"dbat_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    mysql_schema.execute(f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    monkeypatch.setenv("DBARCHIVE_MYSQL_PASSWORD", password)
    yield name
    mysql_schema.execute(f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")


def _grant_log(schema: MySqlSchema, user: str) -> str:
    """Grant ``user`` SELECT and DELETE on parent_log; its URL."""
    schema.execute(f"GRANT SELECT, DELETE ON `{schema.name}`.`parent_log` TO '{user}'@'127.0.0.1'")
    return f"mysql://{user}@127.0.0.1:3306/{schema.name}"


def test_a_login_that_cannot_see_the_referencing_tables_is_refused_the_purge(
    mysql_schema: MySqlSchema, tmp_path: Path, archiver: str
) -> None:
    """A login granted only the log table sees no referencing table in information_schema: the
    purge went through the cascade and deleted child rows no archive held (an outside trial,
    with the grants `check --grants` printed). It is refused (exit 3, naming the GRANT), and
    `check` fails; granted REFERENCES on the schema it sees the keys and refuses for them;
    without the keys it purges."""
    _tables(mysql_schema)
    config = _config(tmp_path, mysql_schema, _grant_log(mysql_schema, archiver))
    for output in _refused_unchanged(config, mysql_schema, tmp_path):
        assert "the login cannot see which tables' foreign keys reference it" in output
        assert f"GRANT REFERENCES ON `{mysql_schema.name}`.*" in output
    before = _everything(mysql_schema, tmp_path)
    checked = _cli(config, "check")
    assert checked.exit_code != 0 and "cannot see which tables' foreign keys" in checked.output
    grants = _cli(config, "check", "--grants")
    assert f"GRANT REFERENCES ON `{mysql_schema.name}`.* TO '{archiver}'@" in grants.output

    mysql_schema.execute(f"GRANT REFERENCES ON `{mysql_schema.name}`.* TO '{archiver}'@'127.0.0.1'")
    result = _cli(config, "purge", "--today", TODAY)
    assert result.exit_code == 3, result.output
    assert "`child` (constraint `fk_child`, ON DELETE CASCADE)" in result.output
    assert _everything(mysql_schema, tmp_path) == before

    mysql_schema.execute("ALTER TABLE child DROP FOREIGN KEY fk_child")
    mysql_schema.execute("ALTER TABLE child_null DROP FOREIGN KEY fk_child_null")
    checked = _cli(config, "check")
    assert "none deletes or changes other rows (ON DELETE), in its schema" in checked.output
    result = _cli(config, "purge", "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert [r[0] for r in mysql_schema.execute("SELECT id FROM parent_log")] == [3]


def test_innodbs_own_list_finds_a_referencing_table_in_another_schema(
    mysql_schema: MySqlSchema, tmp_path: Path, archiver: str
) -> None:
    """With PROCESS the keys come from InnoDB's list of every schema's foreign keys: a child in
    a schema the login holds nothing on, its name beyond ASCII and holding a slash (InnoDB spells
    such names in a code of its own, and the check gave up on them: an outside trial), is found
    and the purge refused."""
    other = f"dbat_fk_{uuid.uuid4().hex[:8]}"
    mysql_schema.execute(f"CREATE DATABASE `{other}`")
    try:
        mysql_schema.execute(
            "CREATE TABLE parent_log (id INT PRIMARY KEY, ts DATETIME NOT NULL, KEY (ts))"
        )
        mysql_schema.execute("INSERT INTO parent_log VALUES (1, '2026-01-01 10:00')")
        mysql_schema.execute(
            f"CREATE TABLE `{other}`.`far chïld/1` (cid INT PRIMARY KEY, pid INT, CONSTRAINT "
            f"`fk far` FOREIGN KEY (pid) REFERENCES `{mysql_schema.name}`.parent_log (id) "
            "ON DELETE SET NULL)"
        )
        mysql_schema.execute(f"INSERT INTO `{other}`.`far chïld/1` VALUES (1, 1)")
        mysql_schema.execute(f"GRANT PROCESS ON *.* TO '{archiver}'@'127.0.0.1'")
        config = _config(tmp_path, mysql_schema, _grant_log(mysql_schema, archiver))
        checked = _cli(config, "check")
        child = f"`{other}`.`far chïld/1` (constraint `fk far`, ON DELETE SET NULL)"
        assert child in checked.output
        result = _cli(config, "purge", "--today", TODAY)
        assert result.exit_code == 3, result.output
        assert child in result.output
        assert mysql_schema.execute(f"SELECT pid FROM `{other}`.`far chïld/1`") == [(1,)]
        assert mysql_schema.execute("SELECT COUNT(*) FROM parent_log") == [(1,)]
    finally:
        mysql_schema.execute(f"DROP DATABASE `{other}`")


def test_rows_the_server_refuses_to_delete_are_kept_and_the_purge_goes_on(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A row still referenced ON DELETE RESTRICT, or one a BEFORE DELETE trigger refuses with a
    SIGNAL (of its own error number), failed its whole chunk, and so its day and every later
    day, on every run (outside trials). The server's refusal keeps that row alone: the rest of its day and the later days
    are purged (exit 0, a note names the refusal); once the reference is gone, the next purge
    deletes it."""
    mysql_schema.execute(
        "CREATE TABLE parent_log (id INT PRIMARY KEY, ts DATETIME NOT NULL, KEY (ts))"
    )
    mysql_schema.execute(
        "INSERT INTO parent_log SELECT seq, '2026-01-01 00:00' + INTERVAL seq * 7 MINUTE"
        " FROM seq_1_to_900"  # 2026-01-01 .. 2026-01-05, chunks of many rows
    )
    mysql_schema.execute(
        "CREATE TABLE child_keep (cid INT PRIMARY KEY, pid INT NULL, CONSTRAINT fk_keep"
        " FOREIGN KEY (pid) REFERENCES parent_log (id) ON DELETE RESTRICT)"
    )
    mysql_schema.execute("INSERT INTO child_keep VALUES (1, 100), (2, 101)")
    mysql_schema.execute(
        "CREATE TRIGGER no_delete BEFORE DELETE ON parent_log FOR EACH ROW"
        " IF OLD.id = 500 THEN SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001,"
        " MESSAGE_TEXT = 'row 500 stays'; END IF"
    )
    config = _config(tmp_path, mysql_schema)
    for _ in range(2):  # the second run tries the kept rows again, and keeps them again
        result = _cli(config, "purge", "--today", TODAY)
        assert result.exit_code == 0, result.output
        assert "archived rows the server refused to delete" in result.output
        left = [r[0] for r in mysql_schema.execute("SELECT id FROM parent_log ORDER BY id")]
        assert left == [100, 101, 500]
    assert mysql_schema.execute("SELECT pid FROM child_keep ORDER BY cid") == [(100,), (101,)]
    status = _cli(config, "status", "--today", TODAY)
    assert "keeping archived rows the server refused to delete" in status.output
    assert "the next purge finishes them" not in status.output

    mysql_schema.execute("DELETE FROM child_keep")
    mysql_schema.execute("DROP TRIGGER no_delete")
    result = _cli(config, "purge", "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert mysql_schema.execute("SELECT COUNT(*) FROM parent_log") == [(0,)]


def test_only_a_grant_on_this_very_schema_shows_its_keys(
    mysql_schema: MySqlSchema, tmp_path: Path, archiver: str
) -> None:
    """REFERENCES on a schema whose name differs only in case was taken for this one (the
    server's privilege table compares without case) and the purge went through a cascade (an
    outside trial): refused. The same grant through an active role, or as a wildcard schema
    grant, shows every table: the keys are seen and the purge refused for them."""
    _tables(mysql_schema)
    config = _config(tmp_path, mysql_schema, _grant_log(mysql_schema, archiver))
    upper = mysql_schema.name.upper()
    mysql_schema.execute(f"GRANT REFERENCES ON `{upper}`.* TO '{archiver}'@'127.0.0.1'")
    for output in _refused_unchanged(config, mysql_schema, tmp_path):
        assert "the login cannot see which tables' foreign keys reference it" in output

    role = f"{archiver}_r"
    mysql_schema.execute(f"CREATE ROLE `{role}`")
    try:
        mysql_schema.execute(f"GRANT REFERENCES ON `{mysql_schema.name}`.* TO `{role}`")
        mysql_schema.execute(f"GRANT `{role}` TO '{archiver}'@'127.0.0.1'")
        mysql_schema.execute(f"SET DEFAULT ROLE `{role}` FOR '{archiver}'@'127.0.0.1'")
        result = _cli(config, "purge", "--today", TODAY)
        assert result.exit_code == 3 and "`child` (constraint `fk_child`" in result.output
    finally:
        mysql_schema.execute(f"DROP ROLE `{role}`")
    wildcard = mysql_schema.name[:6].replace("_", "\\_") + "%"  # dbat\_…%
    mysql_schema.execute(f"GRANT REFERENCES ON `{wildcard}`.* TO '{archiver}'@'127.0.0.1'")
    result = _cli(config, "purge", "--today", TODAY)
    assert result.exit_code == 3 and "`child` (constraint `fk_child`" in result.output


def test_a_key_created_while_the_purge_runs_stops_it_before_the_next_day(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A foreign key ON DELETE CASCADE created while a purge of several days ran: the keys were
    read once, at its start, and the later days went through the cascade (an outside trial).
    They are read again before each day: the day being purged finishes, the next is not begun
    (exit 3, naming the key), and the referencing rows are all there."""
    from dbarchive import api, build_context, load_job
    from dbarchive.events import Event

    _tables(mysql_schema)
    mysql_schema.execute("DROP TABLE child, child_null, child_keep")
    mysql_schema.execute("INSERT INTO parent_log VALUES (4, '2026-01-03 10:00', 'd')")

    class AddsAKey:
        """Creates the key as the first day's purge starts."""

        def __init__(self) -> None:
            self.done = False

        def emit(self, event: Event) -> None:
            if event.step == "purge" and event.kind == "start" and not self.done:
                self.done = True
                mysql_schema.execute(
                    "CREATE TABLE late_child (cid INT PRIMARY KEY, pid INT, CONSTRAINT fk_late"
                    " FOREIGN KEY (pid) REFERENCES parent_log (id) ON DELETE CASCADE)"
                )
                mysql_schema.execute("INSERT INTO late_child VALUES (1, 2), (2, 4)")

    config = _config(tmp_path, mysql_schema)
    ctx = build_context(load_job(config), reporter=AddsAKey())
    try:
        (report,) = api.purge(ctx, today=TODAY)
    finally:
        ctx.close()
    assert [p.day.isoformat() for p in report.purged] == ["2026-01-01"]
    assert report.failures and "`late_child` (constraint `fk_late`" in report.errors[0]
    assert mysql_schema.execute("SELECT cid, pid FROM late_child ORDER BY cid") == [(1, 2), (2, 4)]
    assert [r[0] for r in mysql_schema.execute("SELECT id FROM parent_log ORDER BY id")] == [
        2,
        3,
        4,
    ]

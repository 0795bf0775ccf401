"""Table folders in the config: each table gets its own, `path` sets one, sharing is refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbarchive.build import build_context
from dbarchive.cli import cli
from dbarchive.config import ArchiveJob, SourceSettings, job_from_dict
from dbarchive.errors import ConfigError


def _table(name: str, **settings: Any) -> dict[str, Any]:
    return {"name": name, "timestamp_column": "ts", **settings}


def _job(
    *tables: dict[str, Any], source: str | None = "mysql://u@db/app", **src: Any
) -> ArchiveJob:
    data: dict[str, Any] = {"destination": {"url": "/srv/archive"}, "tables": list(tables)}
    if source is not None:
        data["source"] = {"url": source, **src}
    return job_from_dict(data)


def test_names_that_once_shared_a_folder_get_one_each() -> None:
    """'ev ents' and 'ev_ents', and one name in two schemas: four tables, four folders."""
    job = _job(
        _table("ev ents"), _table("ev_ents"), _table("events", schema="audit"), _table("events")
    )
    assert [job.folder(t) for t in job.tables] == ["ev%20ents", "ev_ents", "audit@events", "events"]


def test_a_table_in_the_default_schema_named_explicitly_keeps_the_plain_folder() -> None:
    """schema = the source's own database is the default schema: no '<schema>@' prefix."""
    job = _job(_table("events", schema="app"))
    assert job.folder(job.tables[0]) == "events"


def test_path_sets_the_folder() -> None:
    """path replaces the mapped name (normalised: no trailing '/')."""
    job = _job(_table("ev ents", path="payments/ev-ents/"))
    assert job.folder(job.tables[0]) == "payments/ev-ents"


@pytest.mark.parametrize(
    ("tables", "named"),
    [
        ([_table("ev ents", path="ev_ents"), _table("ev_ents")], ["'ev ents'", "'ev_ents'"]),
        ([_table("a", path="x/y"), _table("b", path="x/y/")], ["'a'", "'b'"]),
        ([_table("orders", path="events"), _table("events", schema="app")], ["'orders'", "'app.events'"]),
    ],
)  # fmt: skip
def test_two_tables_in_one_folder_are_refused_naming_both(
    tables: list[dict[str, Any]], named: list[str]
) -> None:
    """One folder for two tables would let one overwrite the other's days: a ConfigError."""
    with pytest.raises(ConfigError, match="same archive folder") as err:
        _job(*tables)
    for label in named:
        assert label in str(err.value)
    assert 'path = "…"' in str(err.value)


def test_one_table_listed_twice_is_refused_with_its_default_schema_spelled_out() -> None:
    """`events` and `app.events` in a source whose database is app are one table: with two
    paths both archived it, and its purges went through one of them (a re-test)."""
    with pytest.raises(ConfigError, match="table 'events' is listed twice"):
        _job(_table("events", path="x1"), _table("events", schema="app", path="x2"))


def test_a_folder_inside_another_tables_folder_is_refused() -> None:
    """'events/' would list 'events/archive/…' too: the days of two tables would mix."""
    with pytest.raises(ConfigError, match="lies inside") as err:
        _job(_table("events"), _table("orders", path="events/archive"))
    assert "'orders' ('events/archive/')" in str(err.value)
    assert "'events' ('events/')" in str(err.value)


def test_the_folders_are_checked_again_once_the_source_is_known() -> None:
    """Airflow supplies the database after loading: 'app.events' then is 'events' → refused."""
    job = _job(_table("events"), _table("events", schema="app"), source=None)
    assert [job.folder(t) for t in job.tables] == ["events", "app@events"]
    job = job.model_copy(update={"source": SourceSettings(url="mysql://u@db/app")})
    with pytest.raises(ConfigError, match="same archive folder"):
        build_context(job)


@pytest.mark.parametrize(
    ("path", "message"),
    [("/srv/x", "relative"), ("a/../b", "'..'"), ("_tmp/x", "hidden"), ("a b", "holds ' '")],
)
def test_a_bad_path_is_a_config_error_naming_the_field(path: str, message: str) -> None:
    """path is validated on load like every other setting."""
    with pytest.raises(ConfigError, match=message) as err:
        _job(_table("events", path=path))
    assert "tables.0.path" in str(err.value)


def test_an_old_folder_starting_with_underscore_may_be_kept_by_its_own_table() -> None:
    """'événements' used to live in '_v_nements': path may say so; another table may not."""
    job = _job(_table("événements", path="_v_nements"))
    assert job.folder(job.tables[0]) == "_v_nements"
    with pytest.raises(ConfigError, match="hidden"):
        _job(_table("events", path="_v_nements"))


def test_a_name_in_two_schemas_must_be_qualified() -> None:
    """-t events is ambiguous when 'events' is configured in two schemas; schema.name is not."""
    job = _job(_table("events"), _table("events", schema="audit"))
    assert job.table("audit.events").schema_name == "audit"
    assert job.table("app.events").schema_name is None
    with pytest.raises(ConfigError, match=re.escape("app.events, audit.events")):
        job.table("events")


def test_the_cli_exits_2_and_touches_nothing(tmp_path: Path) -> None:
    """plan with two tables in one folder: exit 2, both named, the destination not created."""
    dest = tmp_path / "archive"
    config = tmp_path / "archive.toml"
    config.write_text(
        f'[source]\nurl = "mysql://u@127.0.0.1:1/app"\n[destination]\nurl = "{dest}"\n'
        '[[tables]]\nname = "ev ents"\ntimestamp_column = "ts"\npath = "ev_ents"\n'
        '[[tables]]\nname = "ev_ents"\ntimestamp_column = "ts"\n'
    )
    result = CliRunner().invoke(cli, ["plan", "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert "'ev ents' and 'ev_ents'" in result.output
    assert not dest.exists()


def test_a_local_folder_name_longer_than_a_file_name_may_be_is_refused_with_the_way_out() -> None:
    """45 CJK letters escape to 405 bytes: a local archive could not make the folder (its
    export crashed on "File name too long"; an outside trial). Refused on load, naming path;
    with a path, or on S3 (keys of 1024 bytes), the name is fine."""
    name = "日" * 45
    with pytest.raises(ConfigError, match=r"405 bytes long .* path = "):
        _job(_table(name))
    assert _job(_table(name, path="cjk_events")).folder  # a folder of its own
    on_s3 = job_from_dict(
        {"source": {"url": "mysql://u@db/app"}, "destination": {"url": "s3://b/p"},
         "tables": [_table(name)]}
    )  # fmt: skip
    assert len(on_s3.folder(on_s3.tables[0])) == 405


def test_a_renamed_table_outside_the_default_schema_keeps_its_old_folder() -> None:
    """other.sch_a renamed to sch_b: the README's recipe (path = its old folder, formerly =
    its old name) was refused for the '@' of 'other@sch_a', and its old days were out of reach
    (an outside trial). Its own former folders are taken; another table's '@' folder is not."""
    job = _job(_table("sch_b", schema="other", formerly=["sch_a"], path="other@sch_a"))
    assert job.folder(job.tables[0]) == "other@sch_a"
    moved = _job(_table("sch_b", schema="other", formerly=["old.sch_a"], path="old@sch_a"))
    assert moved.folder(moved.tables[0]) == "old@sch_a"
    with pytest.raises(ConfigError, match="holds '@'"):
        _job(_table("sch_b", schema="other", formerly=["sch_a"], path="other@sch_c"))

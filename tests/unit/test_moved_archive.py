"""An archive in the folder an earlier version gave its table is kept there: refused with the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dbarchive.config import ArchiveJob, job_from_dict
from dbarchive.errors import ConfigError
from dbarchive.identity import refuse_moved_archive
from dbarchive.storage.local import LocalStorage

DAY_KEY = "year=2026/month=03/day=0{}/_manifest.json"


def _job(*tables: dict[str, Any]) -> ArchiveJob:
    return job_from_dict(
        {
            "source": {"url": "mysql://u@db/app"},
            "destination": {"url": "/srv/archive"},
            "tables": [{"timestamp_column": "ts", **t} for t in tables],
        }
    )


def _manifest(
    storage: LocalStorage, folder: str, day: int, table: str, schema: str = "app"
) -> None:
    """A manifest as earlier versions wrote it (only what the check reads matters)."""
    body = {"manifest_version": 1, "table": table, "schema": schema, "files": []}
    storage.put_bytes(f"{folder}/{DAY_KEY.format(day)}", json.dumps(body).encode())


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(str(tmp_path))


def test_a_moved_table_with_its_days_in_the_old_folder_is_told_to_set_path(
    storage: LocalStorage,
) -> None:
    """'ev ents' used to live in ev_ents/: refused, naming the days and path = "ev_ents"."""
    _manifest(storage, "ev_ents", 1, "ev ents")
    _manifest(storage, "ev_ents", 2, "ev ents")
    before = sorted(o.key for o in storage.list_objects(""))
    job = _job({"name": "ev ents"})
    with pytest.raises(ConfigError) as err:
        refuse_moved_archive(storage, job, job.tables[0])
    message = str(err.value)
    assert "'ev ents'" in message and "2 day(s) (2026-03-01 … 2026-03-02)" in message
    assert "'ev_ents/'" in message and "'ev%20ents/'" in message
    assert 'add path = "ev_ents"' in message
    assert sorted(o.key for o in storage.list_objects("")) == before


def test_an_old_folder_now_owned_by_another_table_asks_for_a_move(storage: LocalStorage) -> None:
    """Both tables configured (the folder they shared): 'ev_ents' keeps it, the days must move."""
    _manifest(storage, "ev_ents", 1, "ev ents")
    _manifest(storage, "ev_ents", 2, "ev_ents")
    job = _job({"name": "ev ents"}, {"name": "ev_ents"})
    with pytest.raises(ConfigError, match="1 day\\(s\\) \\(2026-03-01 … 2026-03-01\\)") as err:
        refuse_moved_archive(storage, job, job.tables[0])
    assert "now table 'ev_ents''s: move these days' folders" in str(err.value)
    assert "to 'ev%20ents/'" in str(err.value)
    refuse_moved_archive(storage, job, job.tables[1])  # its folder did not move


def test_a_table_of_another_schema_finds_its_days_by_the_manifests_schema(
    storage: LocalStorage,
) -> None:
    """audit.events used to share events/ with app.events: only audit's days count."""
    _manifest(storage, "events", 1, "events", schema="app")
    job = _job({"name": "events", "schema": "audit"})
    refuse_moved_archive(storage, job, job.tables[0])  # app's days are not audit's
    _manifest(storage, "events", 2, "events", schema="audit")
    with pytest.raises(ConfigError, match='add path = "events"'):
        refuse_moved_archive(storage, job, job.tables[0])


@pytest.mark.parametrize(
    "table",
    [
        {"name": "ev ents", "path": "ev_ents"},  # the fix: it keeps the old folder
        {"name": "ev_ents"},  # a safe name never moved
    ],
)
def test_tables_whose_folder_did_not_move_are_not_looked_at(
    storage: LocalStorage, table: dict[str, Any]
) -> None:
    """With path set, or a name that maps to the same folder as before: nothing is refused."""
    _manifest(storage, "ev_ents", 1, "ev ents")
    job = _job(table)
    refuse_moved_archive(storage, job, job.tables[0])


def test_once_the_new_folder_holds_days_the_old_one_is_not_read(storage: LocalStorage) -> None:
    """A table already archiving under its new name is past the move (no listing of the old)."""
    _manifest(storage, "ev_ents", 1, "ev ents")
    _manifest(storage, "ev%20ents", 2, "ev ents")
    job = _job({"name": "ev ents"})
    refuse_moved_archive(storage, job, job.tables[0])

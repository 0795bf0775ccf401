"""The manifest's source record: written, read back, absent (None) in older manifests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from dbarchive.checksum import RowDigest
from dbarchive.manifest import MANIFEST_VERSION, Manifest, SourceRecord


def _manifest(source: SourceRecord | None) -> Manifest:
    return Manifest(
        table="ev ents", schema="app", day=dt.date(2026, 10, 6), timezone="UTC", window_start="",
        window_end="", query_window=("", ""), format="csv", compression="gzip", columns=(),
        key_columns=("id",), timestamp_column="created_at", scan="key", files=(),
        digest=RowDigest(), started_at="", finished_at="", tool_version="test", source=source,
    )  # fmt: skip


def test_the_source_record_round_trips() -> None:
    """id and server come back as written, under "source" (a version 2 field)."""
    source = SourceRecord("payments-prod", {"server_uuid": "3e11fa47", "hostname": "db-1"})
    data = json.loads(_manifest(source).dumps())
    assert data["manifest_version"] == MANIFEST_VERSION == 2
    assert data["source"] == {"id": "payments-prod", "server": source.server}
    assert Manifest.loads(_manifest(source).dumps()).source == source


def test_an_older_manifest_has_no_source_record() -> None:
    """A manifest written before sources were recorded reads back with source None."""
    data = json.loads(_manifest(None).dumps())
    del data["source"]
    data["manifest_version"] = 1
    assert Manifest.loads(json.dumps(data).encode()).source is None


def test_the_server_is_run_information_not_content() -> None:
    """Another server reading the same rows writes the same content (idempotence checks)."""
    a = _manifest(SourceRecord("p", {"server_id": "1"}))
    b = dataclasses.replace(a, source=SourceRecord("p", {"server_id": "2"}))
    assert a.content() == b.content()
    assert a.content() != dataclasses.replace(a, source=SourceRecord("q")).content()


@pytest.mark.parametrize("source", [{"id": 7}, {"id": "p", "server": {"server_id": 1}}, [1]])
def test_a_malformed_source_record_is_not_a_manifest(source: object) -> None:
    """Wrong types are refused on reading, like any other malformed field."""
    data = json.loads(_manifest(None).dumps())
    data["source"] = source
    with pytest.raises((TypeError, AttributeError)):
        Manifest.loads(json.dumps(data).encode())

"""Object names: Hive-style partitions, zero padding, safe table folders."""

from __future__ import annotations

import datetime as dt

import pytest

from dbarchive.layout import Layout, PartitionPath, is_part_name, part_name, table_dir


def test_hive_partition_keys() -> None:
    """Keys are <table>/year=YYYY/month=MM/day=DD/part-NNNNN.csv.gz, manifest beside them."""
    p = PartitionPath("events", dt.date(2026, 3, 5))
    assert p.part_key(0, "csv.gz") == "events/year=2026/month=03/day=05/part-00000.csv.gz"
    assert p.manifest_key == "events/year=2026/month=03/day=05/_manifest.json"


def test_plain_layout() -> None:
    """The seed system's YYYY/MM/DD layout is one option away."""
    p = PartitionPath("events", dt.date(2026, 12, 31), Layout.PLAIN)
    assert p.prefix == "events/2026/12/31/"


def test_extension_is_lower_case() -> None:
    """File extensions are lower case whatever the caller passes."""
    assert part_name(12, "CSV.GZ") == "part-00012.csv.gz"
    with pytest.raises(ValueError, match=">= 0"):
        part_name(-1, "csv")


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("events", "events"),
        ("logs`; DROP TABLE x", "logs___DROP_TABLE_x"),
        ("a/b", "a_b"),
        ("..", "_.._"),
    ],
)
def test_odd_table_names_make_safe_folders(name: str, folder: str) -> None:
    """Slashes, backticks, spaces and dot-names never split or escape a key."""
    assert table_dir(name) == folder


def test_part_name_recognition() -> None:
    """Only data files count as parts, never the manifest or temp files."""
    assert is_part_name("part-00001.csv.zst")
    assert not is_part_name("_manifest.json")
    assert not is_part_name(".part-00001.csv.gz.dbarchive-tmp-1")


def test_work_unit_names() -> None:
    """A unit's files are part-UUUUU-NNNNN (sorting by unit, then file); records are hidden."""
    p = PartitionPath("events", dt.date(2026, 3, 5))
    unit = p.for_unit(2)
    assert unit.prefix == p.prefix
    assert unit.part_key(1, "csv.gz") == "events/year=2026/month=03/day=05/part-00002-00001.csv.gz"
    assert p.unit_record_key(2) == "events/year=2026/month=03/day=05/_unit-00002.json"
    assert p.unit_plan_key.endswith("/day=05/_units.json")
    assert p.verify_marker_key.endswith("/day=05/_verified.json")
    assert is_part_name("part-00002-00001.csv.gz")
    assert not is_part_name("_unit-00002.json")
    assert sorted([unit.part_key(10, "csv"), p.for_unit(10).part_key(0, "csv"), unit.part_key(9, "csv")]) == [
        unit.part_key(9, "csv"), unit.part_key(10, "csv"), p.for_unit(10).part_key(0, "csv")
    ]  # fmt: skip
    with pytest.raises(ValueError, match=">= 0"):
        p.for_unit(-1)

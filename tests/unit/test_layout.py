"""Object names: Hive-style partitions, zero padding, escaped (injective) table folders."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbarchive.layout import (
    Layout,
    PartitionPath,
    check_folder_path,
    claimed_generation,
    generation_of,
    is_part_name,
    is_staged_name,
    legacy_table_dir,
    table_dir,
)


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
    p = PartitionPath("t", dt.date(2026, 3, 5)).for_generation(1, staged=False)
    assert p.part_key(12, "CSV.GZ").endswith("/part-g0001-00012.csv.gz")
    with pytest.raises(ValueError, match=">= 0"):
        p.part_key(-1, "csv")


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("events", "events"),
        ("ev_ents", "ev_ents"),
        ("ev ents", "ev%20ents"),
        ("logs`; DROP TABLE x", "logs%60%3B%20DROP%20TABLE%20x"),
        ("a/b", "a%2Fb"),
        ("100%", "100%25"),
        ("événements", "%C3%A9v%C3%A9nements"),
        ("a@b", "a%40b"),
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("_._", "_._"),
    ],
)
def test_odd_table_names_are_escaped(name: str, folder: str) -> None:
    """Slashes, backticks, spaces, '%' and dot-names are escaped as %XX, never replaced."""
    assert table_dir(name) == folder


def test_a_table_of_another_schema_is_schema_at_table() -> None:
    """Outside the default schema a folder is <schema>@<table>, each part escaped."""
    assert table_dir("events", "audit") == "audit@events"
    assert table_dir("ev ents", "a@b") == "a%40b@ev%20ents"
    assert table_dir("audit@events") == "audit%40events"  # a default-schema name never has '@'


_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-$"


@given(st.text(alphabet=_SAFE, min_size=1, max_size=64).filter(lambda n: n not in {".", ".."}))
def test_names_of_safe_characters_keep_their_folder(name: str) -> None:
    """Names that were safe before escaping keep exactly the folder they had."""
    assert table_dir(name) == legacy_table_dir(name) == name


def _decode(folder: str) -> tuple[str | None, str]:
    """(schema, table) back from a folder: the proof that the mapping loses nothing."""
    schema, sep, table = folder.rpartition("@")
    return (unquote(schema, errors="strict") if sep else None, unquote(table, errors="strict"))


_NAMES = st.text(min_size=1, max_size=64)


@given(st.one_of(st.none(), _NAMES), _NAMES)
def test_folder_mapping_is_injective(schema: str | None, table: str) -> None:
    """Every (schema, table) decodes back from its folder, so no two share one; a folder is one
    key segment (no '/') that does not start a hidden name unless the name itself did."""
    folder = table_dir(table, schema)
    assert _decode(folder) == (schema, table)
    assert "/" not in folder and folder not in {".", ".."}
    assert re.fullmatch(r"[A-Za-z0-9_.\-$%@]+", folder)


def test_names_that_used_to_share_a_folder_no_longer_do() -> None:
    """Before escaping, 'ev ents' and 'ev_ents' (and one name in two schemas) shared a folder."""
    assert legacy_table_dir("ev ents") == legacy_table_dir("ev_ents") == "ev_ents"
    assert table_dir("ev ents") != table_dir("ev_ents")
    assert table_dir("events") != table_dir("events", "audit")


def test_a_partition_may_live_in_a_given_folder() -> None:
    """PartitionPath.folder replaces the folder the name maps to, for every key, units too."""
    p = PartitionPath("ev ents", dt.date(2026, 3, 5), folder="payments/events")
    assert p.manifest_key == "payments/events/year=2026/month=03/day=05/_manifest.json"
    assert p.for_unit(1).part_key(0, "csv") == (
        "payments/events/year=2026/month=03/day=05/part-00001-00000.csv"
    )
    assert PartitionPath("ev ents", p.day).prefix == "ev%20ents/year=2026/month=03/day=05/"


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/abs", "relative"),
        ("", "relative"),
        ("a//b", "empty"),
        ("a/../b", "'..'"),
        ("./a", "'.'"),
        ("_hidden", "hidden"),
        ("a/.b", "hidden"),
        ("a b", "holds ' '"),
        ("a\\b", "holds"),
    ],
)
def test_a_bad_path_is_refused_saying_why(path: str, why: str) -> None:
    """A path is a relative key prefix of plain segments, none hidden, none navigating."""
    with pytest.raises(ValueError, match=re.escape(why)):
        check_folder_path(path)


def test_a_path_is_normalised_and_may_keep_an_old_hidden_folder() -> None:
    """A trailing '/' is dropped; an old folder starting with '_' is allowed for its own table."""
    assert check_folder_path("payments/events/") == "payments/events"
    assert check_folder_path("_v_nements", own_names=("_v_nements",)) == "_v_nements"
    with pytest.raises(ValueError, match="hidden"):
        check_folder_path("_v_nements", own_names=("other",))


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


def test_generation_names() -> None:
    """Generation G's files are part-gGGGG-…, staged ones hidden behind _staged-; each generation
    has its create-only manifest; files from before generations are generation 0."""
    p = PartitionPath("events", dt.date(2026, 3, 5))
    g3 = p.for_generation(3, staged=True)
    key = g3.part_key(0, "csv.gz")
    assert key == "events/year=2026/month=03/day=05/part-g0003-00000.csv.gz"
    assert g3.write_key(key) == "events/year=2026/month=03/day=05/_staged-part-g0003-00000.csv.gz"
    assert p.for_generation(3, staged=False).write_key(key) == key
    unit = g3.for_unit(7)
    assert unit.part_key(1, "csv").endswith("/part-g0003-00007-00001.csv")
    assert unit.unit_part_prefix.endswith("/_staged-part-g0003-00007-")
    assert p.generation_manifest_key(3).endswith("/day=05/_manifest-g0003.json")
    assert [generation_of(n) for n in ("part-g0003-00007-00001.csv", "_staged-part-g0012-00000.csv",
            "part-00001.csv.gz", "part-00002-00001.csv", "_manifest.json")] == [3, 12, 0, 0, None]  # fmt: skip
    assert is_staged_name("_staged-part-g0003-00000.csv.gz")
    assert not is_staged_name("part-g0003-00000.csv.gz")
    assert not is_part_name("_staged-part-g0003-00000.csv.gz")  # hidden: never a published part
    assert claimed_generation("_manifest-g0042.json") == 42
    assert claimed_generation("_manifest.json") is None
    with pytest.raises(ValueError, match=">= 1"):
        p.for_generation(0, staged=False)


def test_the_next_generation_passes_published_files_no_claim_names() -> None:
    """A first export killed after storing files (no claim yet) leaves published names behind;
    names are written once, so the next export takes the number after them. A higher staged
    generation is an export in flight, and a work unit's files belong to its plan's generation:
    neither counts."""
    from dbarchive.steps.publish import highest_taken

    day = "events/year=2026/month=03/day=05/"
    assert highest_taken([]) == 0
    assert highest_taken([day + "part-00000.csv"]) == 0  # from before generations
    assert highest_taken([day + "part-g0001-00000.csv", day + "part-g0001-00001.csv"]) == 1
    assert highest_taken([day + "_manifest-g0002.json", day + "part-g0001-00000.csv"]) == 2
    assert highest_taken([day + "part-g0003-00004-00000.csv", day + "_manifest-g0001.json"]) == 1
    assert highest_taken([day + "_staged-part-g0009-00000.csv", day + "_manifest.json"]) == 0

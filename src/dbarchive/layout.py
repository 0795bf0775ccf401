"""Every object name in the archive is built here, and only here.

A partition is one table-day: ``<table>/year=YYYY/month=MM/day=DD/`` (Hive style, the default) or
``<table>/YYYY/MM/DD/`` (the seed system's plain layout). Data files are ``part-NNNNN.<ext>``, or
``part-UUUUU-NNNNN.<ext>`` when the day is exported in work units (key ranges, unit ``UUUUU``); the
commit marker is ``_manifest.json``. Work units also keep ``_units.json`` (the day's plan) and
``_unit-UUUUU.json`` (one landed unit); ``_verified.json`` records a passed verification. With
``export.strategy = "aurora-outfile"`` Aurora writes a unit to ``_aurora-UUUUU.part_NNNNN`` (and
``_aurora-UUUUU.manifest``), staged until dbarchive has verified it and ``_outfile-UUUUU.json``
records the statement that wrote it. Names start with ``_`` or ``.`` only for files that Athena,
Hive and Spark must skip (they treat such names as hidden), which is why the manifest and temporary
names use them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

MANIFEST_NAME = "_manifest.json"
PURGE_MARKER_NAME = "_purge.json"
VERIFY_MARKER_NAME = "_verified.json"
UNIT_PLAN_NAME = "_units.json"
_PART_RE = re.compile(r"^part-(\d{5,})(?:-\d{5,})?\.")


class Layout(StrEnum):
    """How the day of a partition is spelled in its path."""

    HIVE = "hive"
    PLAIN = "plain"


@dataclass(frozen=True)
class PartitionPath:
    """The location of one table-day inside the destination."""

    table: str
    day: dt.date
    layout: Layout = Layout.HIVE
    unit: int | None = None  # set: data files of this work unit only (``part-UUUUU-NNNNN``)

    @property
    def prefix(self) -> str:
        """The folder of the partition, ending in ``/``."""
        return f"{table_dir(self.table)}/{day_dir(self.day, self.layout)}/"

    def part_key(self, index: int, extension: str) -> str:
        """The key of data file number ``index`` (0-based), e.g. ``part-00000.csv.gz``."""
        if self.unit is not None:
            return f"{self.unit_part_prefix}{index:05d}.{extension.lower()}"
        return f"{self.prefix}{part_name(index, extension)}"

    def for_unit(self, unit: int) -> PartitionPath:
        """The same partition, naming data files of work unit ``unit``."""
        if unit < 0:
            raise ValueError("unit index must be >= 0")
        return PartitionPath(self.table, self.day, self.layout, unit)

    @property
    def unit_part_prefix(self) -> str:
        """What every data file key of this work unit starts with (``…/part-UUUUU-``)."""
        assert self.unit is not None
        return f"{self.prefix}part-{self.unit:05d}-"

    def unit_record_key(self, unit: int) -> str:
        """The key of the record written once work unit ``unit`` has landed and verified."""
        return f"{self.prefix}_unit-{unit:05d}.json"

    def outfile_prefix(self, unit: int) -> str:
        """The file prefix Aurora writes work unit ``unit`` under (it appends ``.part_NNNNN``)."""
        return f"{self.prefix}_aurora-{unit:05d}"

    def outfile_manifest_key(self, unit: int) -> str:
        """Where Aurora writes its manifest of work unit ``unit`` (after every data file)."""
        return f"{self.outfile_prefix(unit)}.manifest"

    def outfile_record_key(self, unit: int) -> str:
        """The key of the record that Aurora's statement for work unit ``unit`` completed."""
        return f"{self.prefix}_outfile-{unit:05d}.json"

    @property
    def unit_plan_key(self) -> str:
        """The key of the day's work-unit plan (its key ranges)."""
        return f"{self.prefix}{UNIT_PLAN_NAME}"

    @property
    def verify_marker_key(self) -> str:
        """The key of the record of the last verification that passed."""
        return f"{self.prefix}{VERIFY_MARKER_NAME}"

    @property
    def manifest_key(self) -> str:
        """The key of the partition's commit marker."""
        return f"{self.prefix}{MANIFEST_NAME}"

    @property
    def purge_marker_key(self) -> str:
        """The key of the record of the partition's purge (started, then done)."""
        return f"{self.prefix}{PURGE_MARKER_NAME}"


def table_dir(table: str) -> str:
    """The folder of a table: its name, with anything unsafe in an S3 key or a path replaced.

    Table names come from the config and are valid MySQL identifiers, which may still hold
    ``/``, spaces or backticks; those would split or break a key, so they become ``_``.
    """
    safe = re.sub(r"[^A-Za-z0-9_.\-$]", "_", table)
    if safe in {"", ".", ".."}:
        safe = f"_{safe}_"
    return safe


def day_dir(day: dt.date, layout: Layout = Layout.HIVE) -> str:
    """The day part of a partition path, zero-padded so keys sort by date."""
    if layout is Layout.HIVE:
        return f"year={day.year:04d}/month={day.month:02d}/day={day.day:02d}"
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


def part_name(index: int, extension: str) -> str:
    """The file name of data file ``index``; ``extension`` is lower case without a leading dot."""
    if index < 0:
        raise ValueError("part index must be >= 0")
    return f"part-{index:05d}.{extension.lower()}"


_HIVE_DAY = re.compile(r"/year=(\d{4})/month=(\d{2})/day=(\d{2})/[^/]+$")
_PLAIN_DAY = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/[^/]+$")


def day_of_key(key: str, layout: Layout = Layout.HIVE) -> dt.date | None:
    """The partition day an object key belongs to, or None if it is not inside a partition."""
    m = (_HIVE_DAY if layout is Layout.HIVE else _PLAIN_DAY).search(key)
    if m is None:
        return None
    return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def is_part_name(name: str) -> bool:
    """Whether a file name is one of our data files (not a manifest, not a temporary file)."""
    return _PART_RE.match(name) is not None

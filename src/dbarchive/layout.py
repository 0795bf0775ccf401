"""Every object name in the archive is built here, and only here.

A partition is one table-day: ``<table>/year=YYYY/month=MM/day=DD/`` (Hive style, the default) or
``<table>/YYYY/MM/DD/`` (the seed system's plain layout). Data files are ``part-NNNNN.<ext>``, or
``part-UUUUU-NNNNN.<ext>`` when the day is exported in work units (key ranges, unit ``UUUUU``),
each prefixed by its generation (``part-gGGGG-…``; archives from before generations have none and
are generation 0). A re-export writes its files as ``_staged-part-…`` until they are published; each
generation's manifest is claimed once as ``_manifest-gGGGG.json``, and the commit marker
``_manifest.json`` is a copy of the committed one (docs/design/publication.md). Work units also keep ``_units.json`` (the day's plan) and
``_unit-UUUUU.json`` (one landed unit); ``_verified.json`` records a passed verification. With
``export.strategy = "aurora-outfile"`` Aurora writes a unit to ``_aurora-UUUUU.part_NNNNN`` (and
``_aurora-UUUUU.manifest``), staged until dbarchive has verified it and ``_outfile-UUUUU.json``
records the statement that wrote it. Names start with ``_`` or ``.`` only for files that Athena,
Hive and Spark must skip (they treat such names as hidden), which is why the manifest and temporary
names use them.

A table's folder is an injective function of (schema, table): characters outside
``A-Za-z0-9_.-$`` are escaped Hive-style as ``%XX`` (UTF-8 bytes, ``%`` itself too), so two names
never share a folder and names of only those characters keep the folder they always had; a table
of another schema than the source's default is ``<schema>@<table>`` (``@`` never appears
unescaped in a name's folder). A table may instead set its folder (``path``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from enum import StrEnum

MANIFEST_NAME = "_manifest.json"
PURGE_MARKER_NAME = "_purge.json"
VERIFY_MARKER_NAME = "_verified.json"
UNIT_PLAN_NAME = "_units.json"
STAGED_PREFIX = "_staged-"
_PART_RE = re.compile(r"^part-(?:g(\d{4,})-)?(\d{5,})(?:-\d{5,})?\.")
_UNIT_PART_RE = re.compile(r"^part-(?:g\d{4,}-)?\d{5,}-\d{5,}\.")
_GENERATION_MANIFEST_RE = re.compile(r"^_manifest-g(\d{4,})\.json$")
# Characters a table name keeps in its folder; every other character is escaped as %XX.
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-$")
_LEGACY_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-$]")
SCHEMA_SEPARATOR = "@"  # <schema>@<table>: escaped inside names, so it cannot occur in one


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
    generation: int | None = None  # set: data files of this generation (``part-gGGGG-…``)
    staged: bool = False  # data files are written under hidden names until published
    folder: str | None = None  # the table's folder (``ArchiveJob.folder``); None: table_dir(table)

    @property
    def folder_prefix(self) -> str:
        """The table's folder, ending in ``/``."""
        folder = table_dir(self.table) if self.folder is None else self.folder
        return f"{folder}/"

    @property
    def prefix(self) -> str:
        """The folder of the partition, ending in ``/``."""
        return f"{self.folder_prefix}{day_dir(self.day, self.layout)}/"

    def part_key(self, index: int, extension: str) -> str:
        """The published key of data file number ``index`` (0-based), e.g.
        ``part-g0001-00000.csv.gz``."""
        if index < 0:
            raise ValueError("part index must be >= 0")
        return f"{self.prefix}{self._name_start}{index:05d}.{extension.lower()}"

    def write_key(self, key: str) -> str:
        """The key a data file is written under: ``key`` itself, or its staged (hidden) name."""
        return staged_key(key) if self.staged else key

    def for_unit(self, unit: int) -> PartitionPath:
        """The same partition, naming data files of work unit ``unit``."""
        if unit < 0:
            raise ValueError("unit index must be >= 0")
        return replace(self, unit=unit)

    def for_generation(self, generation: int, staged: bool) -> PartitionPath:
        """The same partition, naming data files of ``generation`` (staged: hidden until published)."""
        if generation < 1:
            raise ValueError("generation must be >= 1")
        return replace(self, generation=generation, staged=staged)

    @property
    def _name_start(self) -> str:
        generation = "" if self.generation is None else f"g{self.generation:04d}-"
        unit = "" if self.unit is None else f"{self.unit:05d}-"
        return f"part-{generation}{unit}"

    @property
    def unit_part_prefix(self) -> str:
        """What every written data file key of this work unit starts with (``…/part-UUUUU-``,
        staged or not)."""
        assert self.unit is not None
        return self.write_key(f"{self.prefix}{self._name_start}")

    def generation_manifest_key(self, generation: int) -> str:
        """The create-only manifest that claims (and records) ``generation`` of the partition."""
        return f"{self.prefix}_manifest-g{generation:04d}.json"

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


def table_dir(table: str, schema: str | None = None) -> str:
    """The folder of a table: its name escaped, prefixed by ``<schema>@`` outside the default schema.

    Table names are MySQL identifiers, which may hold ``/``, spaces, backticks or any Unicode
    character; each such byte becomes ``%XX`` (``%`` too), so the mapping is injective: ``ev ents``
    is ``ev%20ents``, ``ev_ents`` stays ``ev_ents``. ``schema`` is given only for a schema other
    than the source's default one, whose tables' folders never contain ``@``.
    """
    folder = escape_name(table)
    return folder if schema is None else f"{escape_name(schema)}{SCHEMA_SEPARATOR}{folder}"


def escape_name(name: str) -> str:
    """``name`` with every character outside ``A-Za-z0-9_.-$`` as ``%XX`` of its UTF-8 bytes.

    ``.`` and ``..`` alone would be path navigation, so they are escaped whole (``%2E``); an
    unescaped name never holds ``%``, so no other name can map to that.
    """
    if name in {".", ".."}:
        return "%2E" * len(name)
    return "".join(c if c in _SAFE else _percent(c) for c in name)


def _percent(char: str) -> str:
    return "".join(f"%{b:02X}" for b in char.encode("utf-8"))


def legacy_table_dir(table: str) -> str:
    """The folder earlier versions gave ``table``: any unsafe character became ``_`` (so ``ev ents``
    and ``ev_ents`` shared ``ev_ents``) and the schema was ignored. Used only to find archives
    written there."""
    safe = _LEGACY_UNSAFE.sub("_", table)
    if safe in {"", ".", ".."}:
        safe = f"_{safe}_"
    return safe


def check_folder_path(path: str, own_names: tuple[str, ...] = ()) -> str:
    """A table's ``path`` setting, normalised (no trailing ``/``); ValueError saying what is wrong.

    It is a relative key prefix of segments made of ``A-Za-z0-9_.-$``, none empty, ``.`` or
    ``..``, and none starting with ``_`` or ``.`` (Athena, Hive and Spark skip such names, and
    dbarchive keeps its own objects there) — unless it is one of ``own_names`` (the folder the
    table's name maps to now or mapped to before escaping, which may start with ``_``).
    """
    folder = path[:-1] if path.endswith("/") else path
    if folder in own_names:
        return folder
    if not folder or folder.startswith("/"):
        raise ValueError(f"path {path!r} must be a relative folder like 'payments/events'")
    for segment in folder.split("/"):
        if segment in {"", ".", ".."}:
            raise ValueError(f"path {path!r} has an empty, '.' or '..' segment; name each folder")
        if segment[0] in "_.":
            raise ValueError(
                f"path {path!r}: segment {segment!r} starts with {segment[0]!r}, which query "
                "engines skip as hidden; start it with a letter or digit"
            )
        bad = sorted({c for c in segment if c not in _SAFE})
        if bad:
            raise ValueError(
                f"path {path!r} holds {''.join(bad)!r}; use letters, digits, '_', '.', '-', '$' "
                "and '/' between folders"
            )
    return folder


def day_dir(day: dt.date, layout: Layout = Layout.HIVE) -> str:
    """The day part of a partition path, zero-padded so keys sort by date."""
    if layout is Layout.HIVE:
        return f"year={day.year:04d}/month={day.month:02d}/day={day.day:02d}"
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


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


def generation_of(name: str) -> int | None:
    """The generation of a data file (staged or not) by its name; 0 for files from before
    generations; None if the name is not a data file's."""
    m = _PART_RE.match(name.removeprefix(STAGED_PREFIX))
    if m is None:
        return None
    return int(m.group(1)) if m.group(1) else 0


def is_unit_part_name(name: str) -> bool:
    """Whether a file name is a published data file of a work unit (``part-gGGGG-UUUUU-NNNNN``)."""
    return _UNIT_PART_RE.match(name) is not None


def is_staged_name(name: str) -> bool:
    """Whether a file name is a staged (not yet published) data file."""
    return name.startswith(STAGED_PREFIX) and is_part_name(name.removeprefix(STAGED_PREFIX))


def staged_key(key: str) -> str:
    """The hidden name a data file is written under before it is published."""
    folder, _, name = key.rpartition("/")
    return f"{folder}/{STAGED_PREFIX}{name}" if folder else f"{STAGED_PREFIX}{name}"


def claimed_generation(name: str) -> int | None:
    """The generation a ``_manifest-gGGGG.json`` file name claims, or None for other names."""
    m = _GENERATION_MANIFEST_RE.match(name)
    return int(m.group(1)) if m else None

"""The ``SELECT … INTO OUTFILE S3`` statement of one work unit, as pure SQL text.

Aurora MySQL (not RDS MySQL, not MariaDB) writes the rows of one key range or time slice of a
day to S3 itself. The statement is built so that the bytes it writes are the archive's own CSV
dialect (``formats/csv.py``) and need no rewriting:

- **Each field is quoted in SQL**: ``IFNULL(CONCAT('"', REPLACE(E, '"', '""'), '"'), '\\N')``
  where ``E`` is the column's canonical expression (``sources/canonical.py``, the text the row
  digest hashes). The ``\\N`` is spelled ``_utf8mb4 X'5C4E'`` so no ``sql_mode`` changes it.
- **``FIELDS TERMINATED BY ',' ENCLOSED BY '' ESCAPED BY ''``**: MySQL then writes each field as
  the SELECT produced it — with an empty ``ESCAPED BY`` nothing is escaped and with an empty
  ``ENCLOSED BY`` nothing is enclosed (the quoting above does both). Were ``ESCAPED BY`` set, a
  NULL would come out as that character followed by ``N``, and a quote inside ``ENCLOSED BY '"'``
  as ``\\"`` rather than ``""``.
- **``LINES TERMINATED BY X'0A'``**: ``\\n`` after every row, in hex for the same reason.
- **``FORMAT CSV HEADER``**: one header line of the select-list labels; each label is the column
  name already quoted the way the archive's header quotes it (`` AS `"id"` ``), so that line is
  the archive's header line. **Assumed, not verified against Aurora**: that under ``FORMAT CSV``
  Aurora keeps ``ENCLOSED BY ''``/``ESCAPED BY ''`` (writes fields as they are) and writes the
  header in each part. If it does otherwise, the verification of the unit fails and nothing is
  published (``export.py``).
- **``CHARACTER SET utf8mb4``**, **``MANIFEST ON``** (Aurora writes ``<prefix>.manifest`` last,
  listing its parts: the proof the statement completed) and **``OVERWRITE ON``** (a retried
  statement replaces what a failed one left).
- **Read like the stream export**: the key strategy reads ``[low, high]`` of the primary key
  with the day as a guard, ``ORDER BY`` the key (``FORCE INDEX`` on it); the time strategy reads
  a slice of the time index ``ORDER BY ts, key``. The order matters: the purge walks the archive
  in the scan order.

Aurora splits a statement's output into files of about 6 GB (``part_00000``, ``part_00001``…);
the range planner keeps a unit near ``max_file_mib``, so a unit is normally one file, and AWS
advises splitting exports above 25 GB into several statements, which the units are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dbarchive.checksum import sql_digest_select
from dbarchive.formats.csv import header_line
from dbarchive.sources.canonical import (
    Column,
    canonical_expression,
    key_parameter,
    netstring_expression,
    quote_identifier,
)
from dbarchive.sources.charsets import guard_expression
from dbarchive.sources.mysql_sql import day_predicate, filter_clause
from dbarchive.sources.sqltext import bind
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo

if TYPE_CHECKING:
    from dbarchive.sources.mysql import MySqlSource

NULL_LITERAL = "_utf8mb4 X'5C4E'"  # the two characters \N
EXPORT_OPTIONS = (
    "CHARACTER SET utf8mb4 FORMAT CSV HEADER\n"
    "FIELDS TERMINATED BY ',' ENCLOSED BY '' ESCAPED BY ''\n"
    "LINES TERMINATED BY X'0A'\n"
    "MANIFEST ON OVERWRITE ON"
)
# The same field and line options without what only Aurora knows (FORMAT, MANIFEST, OVERWRITE):
# what ``SELECT … INTO OUTFILE '<path>'`` takes on MySQL and MariaDB, for emulations.
LOCAL_OPTIONS = (
    "CHARACTER SET utf8mb4\n"
    "FIELDS TERMINATED BY ',' ENCLOSED BY '' ESCAPED BY ''\n"
    "LINES TERMINATED BY X'0A'"
)


@dataclass(frozen=True)
class S3Target:
    """Where Aurora writes: ``s3-<region>://bucket/key`` (``s3://`` = the cluster's region)."""

    bucket: str
    key: str  # the file prefix: Aurora appends ``.part_NNNNN`` and ``.manifest``
    region: str | None = None

    @property
    def uri(self) -> str:
        scheme = f"s3-{self.region}" if self.region else "s3"
        return f"{scheme}://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class OutfileStatement:
    """One unit's SELECT (placeholders and their values) and where its output goes."""

    select_sql: str  # SELECT … FROM … WHERE … ORDER BY …, values as %s
    params: tuple[object, ...]
    target: S3Target
    header: bytes  # the first line Aurora writes in each part

    def aurora_sql(self) -> tuple[str, tuple[object, ...]]:
        """The statement Aurora runs: ``… INTO OUTFILE S3 '<uri>' <options>``."""
        return f"{self.select_sql}\nINTO OUTFILE S3 %s\n{EXPORT_OPTIONS}", (
            *self.params,
            self.target.uri,
        )

    def local_sql(self, path: str) -> tuple[str, tuple[object, ...]]:
        """The same SELECT into a file on the database server (MySQL/MariaDB, for emulation)."""
        return f"{self.select_sql}\nINTO OUTFILE %s\n{LOCAL_OPTIONS}", (*self.params, path)


class OutfileRunner(Protocol):
    """Who runs a unit's statement: Aurora itself (``export.AuroraRunner``), or an emulation
    that plays Aurora's part on MySQL/MariaDB (the test suite's)."""

    def require_support(self, source: MySqlSource) -> None:
        """Raise ConfigError with the fix unless the server can run the statement."""

    def run(self, source: MySqlSource, statement: OutfileStatement) -> int:
        """Run it to completion (parts, then Aurora's manifest); returns the rows written."""


def header_label(name: str) -> str:
    """A column's label in the header: its name quoted like any archive value (``"id"``)."""
    return '"' + name.replace('"', '""') + '"'


def field_expression(col: Column) -> str:
    """The select-list entry whose text is the column's archive field, quoted or ``\\N``."""
    e = canonical_expression(col)
    quoted = f"CONCAT('\"', REPLACE({e}, '\"', '\"\"'), '\"')"
    return f"IFNULL({quoted}, {NULL_LITERAL}) AS {quote_identifier(header_label(col.name))}"


def _predicate(info: TableInfo, window: DayWindow, scan: ScanPlan) -> tuple[str, list[object]]:
    """``FROM … WHERE …`` of the unit's rows (as the stream export reads them) and its values."""
    day = day_predicate(info)
    where = filter_clause(info.where)
    params: list[object] = [window.start_param, window.end_param]
    if scan.strategy == "key":
        assert scan.low_key is not None and scan.high_key is not None
        k = info.key[0]
        key = quote_identifier(k.name)
        index = quote_identifier(info.key_index)
        bounds = [key_parameter(k, scan.low_key), key_parameter(k, scan.high_key)]
        return (
            f"FROM {info.qualified} FORCE INDEX ({index})\n"
            f"WHERE {key} >= %s AND {key} <= %s AND {day}{where}",
            [*bounds, *params],
        )
    index = f" FORCE INDEX ({quote_identifier(info.ts_index)})" if info.ts_index else ""
    return f"FROM {info.qualified}{index}\nWHERE {day}{where}", params


def _order(info: TableInfo, scan: ScanPlan) -> str:
    columns: Sequence[Column] = info.key if scan.strategy == "key" else (info.ts, *info.key)
    return ", ".join(quote_identifier(c.name) for c in columns)


def unit_statement(
    info: TableInfo, window: DayWindow, scan: ScanPlan, target: S3Target
) -> OutfileStatement:
    """The statement exporting exactly the rows a unit's stream export would read.

    ``window``/``scan`` are the unit's (``units/plan.py`` ``unit_scan``): the key strategy's
    key bounds, or the time strategy's narrowed window.
    """
    from_where, params = _predicate(info, window, scan)
    select_list = ",\n  ".join(field_expression(c) for c in info.columns)
    sql = f"SELECT\n  {select_list}\n{from_where}\nORDER BY {_order(info, scan)}"
    return OutfileStatement(sql, tuple(params), target, header_line([c.name for c in info.columns]))


def unit_digest_sql(
    info: TableInfo, window: DayWindow, scan: ScanPlan
) -> tuple[str, tuple[object, ...]]:
    """The database's row digest of the same rows, computed by the server (four numbers back)."""
    from_where, params = _predicate(info, window, scan)
    return sql_digest_select(netstring_expression(list(info.columns)), from_where), tuple(params)


def unit_unconverted_sql(
    info: TableInfo, window: DayWindow, scan: ScanPlan
) -> tuple[str, tuple[object, ...]] | None:
    """The key and flag of the unit's first row whose non-UTF-8 text does not convert (Aurora
    would have written it as '?', and the digest agrees with the '?'), if the table has such
    columns (``sources/charsets.py``); None if it has none."""
    if not info.checked_text:
        return None
    from_where, params = _predicate(info, window, scan)
    keys = ", ".join(canonical_expression(c) for c in info.key)
    guard = guard_expression(info.checked_text)
    return f"SELECT {keys}, {guard} {from_where} AND ({guard}) IS NOT NULL LIMIT 1", tuple(params)


def sql_literal(value: object) -> str:
    """A value as SQL literal text, for statements shown or embedded in stored procedures.

    Strings with a backslash are refused: how MySQL reads one depends on ``sql_mode``
    (``NO_BACKSLASH_ESCAPES``), and nothing dbarchive embeds needs one.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"no literal for {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return f"X'{value.hex().upper()}'"
    text = str(value)
    if "\\" in text:
        raise ValueError(f"refusing to embed a backslash in SQL text: {text!r}")
    if not isinstance(value, str):
        return text  # Decimal
    return "'" + text.replace("'", "''") + "'"


def render(sql: str, params: Sequence[object]) -> str:
    """``sql`` as the server receives it: each ``%s`` placeholder replaced by its value's
    literal (for display and golden tests)."""
    return bind(sql, params, sql_literal)

"""ArchiveWalk: match rows read from the database against the archive, in the archive's order.

The purge deletes a database row only if this walk finds the identical row (same SHA-256 of the
canonical text) in the archive, in a file whose size and SHA-256 matched the manifest before its
first row was read (``purge._walk`` reads them ``checked_first``). Both sides are in the same order (the export's ORDER BY), so one
forward pass over the archive files suffices: archive rows that sort before the current database
row are gone from the database (purged earlier, or deleted by someone else) and are skipped; a
database row the archive does not hold is reported unarchived and never deleted.

Ordering is compared on typed values where that matches MySQL exactly — integers, DATE /
DATETIME / TIMESTAMP text (fixed width, so byte order is time order), binary strings as hex and
NO PAD binary text. A text key under any other collation compares only through the columns
before it: scanned by time, the rows sharing a time value are gathered and matched by key
(``find_in_group``); scanned by the text key itself, the walk runs in strict mode: the next
archive row must be the very same row.

A day that grew after its purge began holds several generations (docs/design/publication.md),
each in scan order on its own: :class:`NewestVersions` walks one stream per generation and takes,
for each database row, the archived row of its key from the newest generation that holds it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dbarchive.checksum import Value
from dbarchive.errors import VerificationError
from dbarchive.formats.csv import row_hex_digests
from dbarchive.sources.canonical import Column

OrderKey = tuple[int | bytes, ...]


# Text that sorts byte by byte as MySQL sorts the column: DATE/DATETIME/TIMESTAMP (fixed width),
# BINARY/VARBINARY as upper-case hex (the binary collation compares bytes, every byte counts, a
# prefix first), and UTF-8 text under a NO PAD binary collation (code point order = UTF-8 byte
# order; a PAD SPACE one compares 'a' and 'a ' equal, so it is not here).
_BYTE_ORDERED_TYPES = {"date", "datetime", "timestamp", "binary", "varbinary"}
_BYTE_ORDERED_COLLATIONS = {"utf8mb4_nopad_bin", "utf8mb3_nopad_bin", "utf8mb4_0900_bin"}


def _typed(col: Column, text: bytes) -> int | bytes | None:
    if col.is_integer:
        return int(text)
    if col.data_type in _BYTE_ORDERED_TYPES or col.collation in _BYTE_ORDERED_COLLATIONS:
        return text
    return None


def order_prefix(columns: Sequence[Column], values: Sequence[Value]) -> tuple[OrderKey, bool]:
    """The row's leading scan-order values that compare like MySQL's, and whether that is all of
    them (a time column before a text key: the time only)."""
    out: list[int | bytes] = []
    for col, value in zip(columns, values, strict=True):
        typed = None if value is None else _typed(col, value)
        if typed is None:
            return tuple(out), False
        out.append(typed)
    return tuple(out), True


def order_key(columns: Sequence[Column], values: Sequence[Value]) -> OrderKey | None:
    """The row's position in the scan order, or None if it cannot be compared like MySQL does."""
    prefix, whole = order_prefix(columns, values)
    return prefix if whole else None


# The most archived rows sharing one time value that the walk holds at once to match a text key
# among them: bounded memory (~20 MB), far above what a log table writes in one microsecond.
GROUP_ROWS = 100_000


@dataclass
class _ArchiveRow:
    digest: str
    order: OrderKey | None
    key: list[Value]
    prefix: OrderKey = ()


@dataclass(frozen=True)
class SourceRow:
    """A database row as the purge reads it: its hash, its scan-order values and its key."""

    digest: str
    order: OrderKey | None
    key: tuple[Value, ...]
    prefix: OrderKey = ()  # the comparable leading part of the order, when not all of it is


class ArchiveWalk:
    """Walks the archive rows once, forward, matching database rows in the same order."""

    def __init__(
        self,
        chunks: Iterator[list[list[Value]]],
        order_columns: Sequence[Column],
        order_positions: Sequence[int],
        key_positions: Sequence[int],
    ) -> None:
        self._chunks = chunks
        self._order_columns = tuple(order_columns)
        self._order_positions = tuple(order_positions)
        self._key_positions = tuple(key_positions)
        self._rows: list[list[Value]] = []
        self._digests: list[str] = []
        self._next = 0
        self._current: _ArchiveRow | None = None
        self._exhausted = False
        self._group: dict[tuple[Value, ...], str] = {}
        self._group_prefix: OrderKey | None = None
        self.skipped = 0

    def close(self) -> None:
        """Stop reading the archive (ends a read-ahead thread behind the chunks)."""
        _close(self._chunks)

    def _peek(self) -> _ArchiveRow | None:
        if self._current is None and not self._exhausted:
            while self._next >= len(self._rows):
                chunk = next(self._chunks, None)
                if chunk is None:
                    self._exhausted = True
                    return None
                # Hash a whole chunk at once (in C when built): the walk's main cost.
                self._rows, self._digests, self._next = chunk, row_hex_digests(chunk), 0
            values = self._rows[self._next]
            prefix, whole = order_prefix(
                self._order_columns, [values[i] for i in self._order_positions]
            )
            self._current = _ArchiveRow(
                self._digests[self._next],
                prefix if whole else None,
                [values[i] for i in self._key_positions],
                prefix,
            )
            self._next += 1
        return self._current

    def _advance(self) -> None:
        self._current = None

    def match(self, row: SourceRow) -> bool:
        """Whether the archive holds exactly this row; consumes archive rows up to it."""
        if row.order is None:
            return self.find_strict(row) == row.digest
        return self.find(row) == row.digest

    def find(self, row: SourceRow) -> str | None:
        """The hash of the archived row at ``row``'s position in the scan order (its key), or None
        if the archive holds no row there; consumes archive rows up to it. Comparable orders only."""
        assert row.order is not None
        while (
            (arch := self._peek()) is not None and arch.order is not None and arch.order < row.order
        ):
            self.skipped += 1
            self._advance()
        arch = self._peek()
        if arch is None or arch.order != row.order:
            return None
        self._advance()
        return arch.digest

    def find_in_group(self, row: SourceRow) -> str | None:
        """Like :meth:`find`, for a row comparable only in its prefix (a time before a text key):
        the archive rows of that prefix are gathered by key and the row's is taken from them."""
        if self._group_prefix != row.prefix:
            self._open_group(row.prefix)
        return self._group.pop(tuple(row.key), None)

    def _open_group(self, prefix: OrderKey) -> None:
        self.skipped += len(self._group)  # archived rows of the last prefix gone from the database
        self._group, self._group_prefix = {}, prefix
        while (arch := self._peek()) is not None and arch.prefix < prefix:
            self.skipped += 1
            self._advance()
        while (arch := self._peek()) is not None and arch.prefix == prefix:
            if len(self._group) >= GROUP_ROWS:
                raise VerificationError(
                    f"more than {GROUP_ROWS:,} archived rows of this day share one time value and "
                    "the table's key cannot be ordered like MySQL orders it, so the purge of this "
                    "day stops here"
                )
            self._group[tuple(arch.key)] = arch.digest
            self._advance()

    def find_strict(self, row: SourceRow) -> str | None:
        """The hash of ``row``'s key as archived, without a comparable order: the first archive
        row ahead with its key (the row as archived: the same, or changed since), skipping the
        rows before it (gone from the database). If the archive ends first, the day stops: a row
        the archive lacks consumed the rest of it, so the purge of this day cannot go on safely.
        """
        key = tuple(row.key)
        while (arch := self._peek()) is not None:
            self._advance()
            if tuple(arch.key) == key:
                return arch.digest
            self.skipped += 1
        raise VerificationError(
            "a database row of this day is not in its archive and the table's key cannot be "
            "ordered like MySQL orders it, so the purge of this day stops here; set the table's "
            "scan = 'time' for the days archived next (its rows are then matched among those of "
            "the same time)"
        )


class IntKeyWalk:
    """The walk for a single integer key, a chunk at a time: the purge's fast path.

    It matches the same way as :class:`ArchiveWalk` (same key and same row SHA-256) but keeps the
    archive rows as two lists and compares a whole chunk through one dict, instead of one Python
    object per row. Archive rows below the chunk's first key can no longer match (the database is
    read in ascending key order), so they are dropped as they come: memory stays bounded by the
    archive rows inside the chunk's key range plus one read chunk.
    """

    def __init__(self, blocks: Iterator[tuple[list[Value], list[str]]]) -> None:
        self._blocks = blocks
        self._keys: list[int] = []
        self._digests: list[str] = []
        self._exhausted = False
        self.skipped = 0

    def close(self) -> None:
        """Stop reading the archive (ends a read-ahead thread behind the blocks)."""
        _close(self._blocks)

    def _drop_below(self, low: int) -> None:
        cut = bisect_left(self._keys, low)
        if cut:
            del self._keys[:cut], self._digests[:cut]
            self.skipped += cut

    def _fill(self, low: int, high: int) -> None:
        while True:
            self._drop_below(low)
            if self._exhausted or (self._keys and self._keys[-1] >= high):
                return
            block = next(self._blocks, None)
            if block is None:
                self._exhausted = True
                return
            keys, digests = block
            self._keys += map(int, keys)  # type: ignore[arg-type]
            self._digests += digests

    def match_chunk(self, keys: Sequence[int], digests: Sequence[str]) -> list[bool]:
        """Whether the archive holds each (key, row hash); ``keys`` ascending, as read."""
        if not keys:
            return []
        archived = self.chunk_digests(keys[0], keys[-1])
        hits = [archived.get(k) == d for k, d in zip(keys, digests, strict=True)]
        self.skipped += len(archived) - sum(hits)
        return hits

    def chunk_digests(self, low: int, high: int) -> dict[int, str]:
        """The archived row hash of every key in ``[low, high]``; the walk then moves past
        ``high`` (the database is read in ascending key order, chunk after chunk)."""
        self._fill(low, high)
        cut = bisect_right(self._keys, high)
        archived = dict(zip(self._keys[:cut], self._digests[:cut], strict=True))
        del self._keys[:cut], self._digests[:cut]
        return archived


def _close(source: Iterator[object]) -> None:
    close = getattr(source, "close", None)
    if close is not None:
        close()


Walk = ArchiveWalk | IntKeyWalk


class NewestVersions:
    """The archive's newest version of each key, over one walk per generation (newest first).

    :meth:`lookup` answers, for database rows read in the scan order, the hash of each row's key
    as archived — the newest generation holding the key decides — or None if no generation holds
    it. With one generation it is the plain walk. With several, an integer key walks each
    generation (a key's place is the key); any other scan walks the oldest generation and looks
    the later ones up by key (``later``, ``matching.later_versions``): a row moved to another
    time of its day sits elsewhere in each generation. Later generations too large to hold are
    walked by place, each.
    """

    def __init__(
        self, walks: list[Walk], later: dict[tuple[Value, ...], str] | None = None
    ) -> None:
        self._walks = walks
        self._later = later or {}  # key -> newest hash, of the generations after the walked one

    @property
    def skipped(self) -> int:
        return sum(w.skipped for w in self._walks)

    def close(self) -> None:
        for walk in self._walks:
            walk.close()

    def lookup_int_keys(self, keys: Sequence[int]) -> list[str | None]:
        """The archived hash of each key (ascending, as read), newest generation first."""
        if not keys:
            return []
        found: dict[int, str] = {}
        for walk in self._walks:
            assert isinstance(walk, IntKeyWalk)
            for key, digest in walk.chunk_digests(keys[0], keys[-1]).items():
                found.setdefault(key, digest)
        return [found.get(k) for k in keys]

    def lookup(self, rows: Sequence[SourceRow]) -> list[str | None]:
        """The archived hash of each row's key (rows in scan order), newest generation first."""
        out: list[str | None] = []
        for row in rows:
            later = self._later.get(tuple(row.key))
            if row.order is None and not row.prefix:
                out.append(later if later is not None else self._strict(row))
                continue
            digest = None
            for walk in self._walks:
                assert isinstance(walk, ArchiveWalk)
                found = walk.find(row) if row.order is not None else walk.find_in_group(row)
                digest = digest if digest is not None else found
            out.append(later if later is not None else digest)  # a later version wins
        return out

    def _strict(self, row: SourceRow) -> str | None:
        if len(self._walks) > 1:  # walked by place: strict mode cannot tell absent from later
            raise VerificationError(
                "this day's archive has several generations too large to match by key, and the "
                "table's key cannot be ordered like MySQL orders it, so its rows cannot be "
                "matched; set the table's scan = 'time' for the days archived next"
            )
        walk = self._walks[0]
        assert isinstance(walk, ArchiveWalk)
        return walk.find_strict(row)

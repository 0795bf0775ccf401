"""ArchiveWalk: match rows read from the database against the archive, in the archive's order.

The purge deletes a database row only if this walk finds the identical row (same SHA-256 of the
canonical text) in the archive. Both sides are in the same order (the export's ORDER BY), so one
forward pass over the archive files suffices: archive rows that sort before the current database
row are gone from the database (purged earlier, or deleted by someone else) and are skipped; a
database row the archive does not hold is reported unarchived and never deleted.

Ordering is compared on typed values where that matches MySQL exactly — integers, and DATE /
DATETIME / TIMESTAMP text (fixed width, so byte order is time order). For other key types (string
collations) the walk runs in strict mode: the next archive row must be the very same row.
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


def _typed(col: Column, text: bytes) -> int | bytes | None:
    if col.is_integer:
        return int(text)
    if col.data_type in {"date", "datetime", "timestamp"}:
        return text
    return None


def order_key(columns: Sequence[Column], values: Sequence[Value]) -> OrderKey | None:
    """The row's position in the scan order, or None if it cannot be compared like MySQL does."""
    out: list[int | bytes] = []
    for col, value in zip(columns, values, strict=True):
        typed = None if value is None else _typed(col, value)
        if typed is None:
            return None
        out.append(typed)
    return tuple(out)


@dataclass
class _ArchiveRow:
    digest: str
    order: OrderKey | None
    key: list[Value]


@dataclass(frozen=True)
class SourceRow:
    """A database row as the purge reads it: its hash, its scan-order values and its key."""

    digest: str
    order: OrderKey | None
    key: tuple[Value, ...]


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
            self._current = _ArchiveRow(
                self._digests[self._next],
                order_key(self._order_columns, [values[i] for i in self._order_positions]),
                [values[i] for i in self._key_positions],
            )
            self._next += 1
        return self._current

    def _advance(self) -> None:
        self._current = None

    def match(self, row: SourceRow) -> bool:
        """Whether the archive holds exactly this row; consumes archive rows up to it."""
        if row.order is None:
            return self._match_strict(row)
        while (
            (arch := self._peek()) is not None and arch.order is not None and arch.order < row.order
        ):
            self.skipped += 1
            self._advance()
        arch = self._peek()
        if arch is None or arch.order != row.order:
            return False
        self._advance()
        return arch.digest == row.digest

    def _match_strict(self, row: SourceRow) -> bool:
        """Skip archive rows until this exact row; if the archive ends first, stop the day.

        Without a comparable order an unmatched row would consume the rest of the archive, so
        the purge of this day cannot go on safely after it.
        """
        while (arch := self._peek()) is not None:
            self._advance()
            if arch.digest == row.digest:
                return True
            self.skipped += 1
        raise VerificationError(
            "a database row of this day is not in its archive and the table's key cannot be "
            "ordered like MySQL orders it, so the purge of this day stops here; export the day "
            "again if rows were added or changed"
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
        self._fill(keys[0], keys[-1])
        cut = bisect_right(self._keys, keys[-1])
        archived = dict(zip(self._keys[:cut], self._digests[:cut], strict=True))
        del self._keys[:cut], self._digests[:cut]
        hits = [archived.get(k) == d for k, d in zip(keys, digests, strict=True)]
        self.skipped += len(archived) - sum(hits)
        return hits


def _close(source: Iterator[object]) -> None:
    close = getattr(source, "close", None)
    if close is not None:
        close()

"""Column stats of a CSV part, gathered from the encoded chunks as they are written.

The question is which columns hold a line break (CR or LF) or the text ``\\N``: the Athena
definition warns about those columns (``ddl/athena.py``). Each chunk's bytes are scanned once,
field by field, in C (``_speedups.column_stats``, without the GIL; a column already found is
not looked at again): 0.1 µs a row on an 8-column log table, 1-2 % of the export
(``bench/write_stats.py``). Without the C extension the same answer comes from Python: a chunk
with one LF per row, no CR and no quoted ``"\\N"`` holds neither (told at memory speed), and
only another one is parsed.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from dbarchive.checksum import Value
from dbarchive.formats.csv import EncodedChunk, iter_row_chunks
from dbarchive.manifest import ColumnStats
from dbarchive.runtime.native import load_extension

_QUOTED_NULL_TEXT = b'"\\N"'
_NULL_TEXT = b"\\N"

_speedups = load_extension("_speedups")
_c_column_stats: Callable[[bytes, int, int], tuple[bytes, bytes]] | None = (
    None if _speedups is None else getattr(_speedups, "column_stats", None)
)


class ColumnStatsScan:
    """Accumulates the :class:`ColumnStats` of one part, chunk by chunk."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = tuple(names)
        self._line_breaks: dict[int, None] = {}  # positions found, in first-seen order
        self._null_text: dict[int, None] = {}

    def add(self, chunk: EncodedChunk) -> None:
        """Look at one chunk's values (see the module doc for how)."""
        if _c_column_stats is None:
            self.add_python(chunk)
            return
        breaks, null_text = _c_column_stats(chunk.data, len(self._names), chunk.rows)
        self._mark(breaks, self._line_breaks)
        self._mark(null_text, self._null_text)

    def _mark(self, flags: bytes, found: dict[int, None]) -> None:
        if any(flags):
            for i, flag in enumerate(flags):
                if flag:
                    found.setdefault(i, None)

    def add_python(self, chunk: EncodedChunk) -> None:
        """The pure-Python path (the reference the C scan is tested against)."""
        data = chunk.data
        breaks = data.count(b"\n") != chunk.rows or b"\r" in data
        null_text = _QUOTED_NULL_TEXT in data
        if not (breaks or null_text):
            return
        rows = [row for block in iter_row_chunks(io.BytesIO(data), len(data)) for row in block]
        if breaks:
            self._find(rows, self._line_breaks, _has_line_break)
        if null_text:
            self._find(rows, self._null_text, _is_null_text)

    def _find(
        self, rows: list[list[Value]], found: dict[int, None], test: Callable[[list[Value]], bool]
    ) -> None:
        for i in range(len(self._names)):
            if i not in found and test([row[i] for row in rows]):
                found[i] = None

    def result(self) -> ColumnStats:
        return ColumnStats(
            tuple(self._names[i] for i in self._line_breaks),
            tuple(self._names[i] for i in self._null_text),
        )


def _has_line_break(values: list[Value]) -> bool:
    joined = b"".join([v for v in values if v])
    return b"\n" in joined or b"\r" in joined


def _is_null_text(values: list[Value]) -> bool:
    return _NULL_TEXT in values

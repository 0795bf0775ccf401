"""RowDigest: an order-independent count + checksum of rows, the same in SQL and in Python.

Each row's canonical field texts (see ``sources/canonical.py``) are encoded as netstrings — a NULL
is ``-1:``, any other value ``<byte length>:<bytes>`` — so no separator can be ambiguous and NULL
differs from every string. The row's SHA-256 gives two 64-bit lanes ``a`` and ``b``; a set of rows
digests to ``(count, XOR of a, XOR of b, SUM of a)``. XOR makes it order-independent; the SUM lane
and the count catch a row archived twice, which XOR alone would cancel. MySQL/MariaDB compute the
same four numbers with SHA2/CONV/BIT_XOR/SUM (``sql_digest_select``), which is what lets verify
compare an archive with the rows still in the database before anything is deleted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Value = bytes | None

_NULL = b"-1:"
_MASK64 = (1 << 64) - 1


def row_netstring(values: Sequence[Value]) -> bytes:
    """The exact bytes whose SHA-256 is a row's hash (NULL -> ``-1:``, else ``len:bytes``)."""
    return b"".join([_NULL if v is None else b"%d:%b" % (len(v), v) for v in values])


def row_lanes(values: Sequence[Value]) -> tuple[int, int]:
    """The two 64-bit lanes (big-endian bits 0..63 and 64..127) of one row's SHA-256."""
    d = hashlib.sha256(row_netstring(values)).digest()
    return int.from_bytes(d[:8], "big"), int.from_bytes(d[8:16], "big")


@dataclass
class RowDigest:
    """Running ``(count, x1, x2, s1)`` over a set of rows; merge-able and order-independent."""

    count: int = 0
    x1: int = 0
    x2: int = 0
    s1: int = 0

    def add_lanes(self, a: int, b: int) -> None:
        """Add one row given its two lanes (the hot path computes them inline)."""
        self.count += 1
        self.x1 ^= a
        self.x2 ^= b
        self.s1 += a

    def add_row(self, values: Sequence[Value]) -> None:
        """Add one row of canonical field texts."""
        a, b = row_lanes(values)
        self.add_lanes(a, b)

    def add_rows(self, rows: Iterable[Sequence[Value]]) -> RowDigest:
        """Add many rows; returns self so it chains."""
        for row in rows:
            self.add_row(row)
        return self

    def add_sums(self, count: int, x1: int, x2: int, s1_high: int, s1_low: int) -> None:
        """Fold in the sums the C code returns for a batch of rows (its SUM lane in two halves)."""
        self.count += count
        self.x1 ^= x1
        self.x2 ^= x2
        self.s1 += (s1_high << 64) | s1_low

    def merge(self, other: RowDigest) -> None:
        """Fold another digest of disjoint rows into this one."""
        self.count += other.count
        self.x1 ^= other.x1
        self.x2 ^= other.x2
        self.s1 += other.s1

    def add_hex(self, sha256_hex: str) -> None:
        """Add one row given its SHA-256 as hex text (what the server's ``SHA2`` returns)."""
        self.add_lanes(int(sha256_hex[:16], 16), int(sha256_hex[16:32], 16))

    def without(self, subset: RowDigest) -> RowDigest:
        """The digest of these rows minus ``subset`` (rows known to be among them): XOR undoes
        XOR, and the count and sum subtract. Raises ValueError if ``subset`` cannot be a part."""
        if subset.count > self.count or subset.s1 > self.s1:
            raise ValueError(f"{subset.describe()} is not part of {self.describe()}")
        return RowDigest(
            self.count - subset.count, self.x1 ^ subset.x1, self.x2 ^ subset.x2, self.s1 - subset.s1
        )

    def to_json(self) -> dict[str, Any]:
        """Lanes as decimal strings: JSON readers lose precision on integers over 2**53."""
        return {"rows": self.count, "x1": str(self.x1), "x2": str(self.x2), "s1": str(self.s1)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowDigest:
        """Inverse of :meth:`to_json`."""
        digest = cls(int(data["rows"]), int(data["x1"]), int(data["x2"]), int(data["s1"]))
        if not (0 <= digest.x1 <= _MASK64 and 0 <= digest.x2 <= _MASK64 and digest.s1 >= 0):
            raise ValueError("row digest lanes out of range")
        return digest

    def describe(self) -> str:
        """A short, human-comparable form for reports."""
        return f"rows={self.count} x1={self.x1:016x} x2={self.x2:016x} s1={self.s1}"


def sql_digest_select(row_expression: str, from_where: str) -> str:
    """The SQL that computes ``(cnt, x1, x2, s1)`` for the rows of ``from_where``.

    ``row_expression`` is the netstring CONCAT of the canonical fields (see ``canonical.py``);
    ``from_where`` is ``FROM <table> WHERE …`` with placeholders. The inner LIMIT forces MariaDB
    to materialize the derived table, so SHA2 runs once per row instead of three times.
    """
    return (
        "SELECT COUNT(*), COALESCE(BIT_XOR(a), 0), COALESCE(BIT_XOR(b), 0), COALESCE(SUM(a), 0) "
        "FROM (SELECT CAST(CONV(SUBSTRING(h, 1, 16), 16, 10) AS UNSIGNED) AS a, "
        "CAST(CONV(SUBSTRING(h, 17, 16), 16, 10) AS UNSIGNED) AS b "
        f"FROM (SELECT SHA2({row_expression}, 256) AS h {from_where} "
        "LIMIT 18446744073709551615) d0) d"
    )

"""Canonical text ⇄ Arrow values, exactly: what makes a Parquet archive verifiable.

The row digest hashes each value's canonical text (``sources/canonical.py``), the text the server
prints. The Parquet writer parses that text into typed Arrow arrays (``to_arrow``); verify,
purge and restore render the typed values back (``to_canonical``) and must get the very same
bytes, or the digest differs. Most types render through Arrow's own casts; three need care:

- DOUBLE / FLOAT: the server prints the shortest round-trip digits (the same digits as Python's
  ``repr``) but in its own notation: plain for decimal exponents -15..14 and where the digits
  run past the point (``1341900360203264.2``: dtoa's ``my_gcvt`` rule), else ``1.5e-16``,
  ``1e15`` (no ``+``, no padding). :func:`mysql_double_text` reproduces that layout. DOUBLE(M,D)
  pads those same digits to D places.
- DECIMAL: Arrow switches to scientific notation for tiny values (``1E-30``); MySQL never does.
- DATETIME(n): Arrow always prints six fraction digits; MySQL prints ``n``.

Each rule is property-tested against the text MariaDB itself prints (tests/integration).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Sequence
from decimal import Decimal, localcontext
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dbarchive.checksum import Value
from dbarchive.errors import SourceError
from dbarchive.formats.lake_types import LakeType

ArrowValues = Any  # a pyarrow Array or ChunkedArray of one column
_PLAIN_EXPONENTS = range(-15, 15)  # the server prints these decimal exponents without 'e'
_FIXED_PRECISION = 400  # digits enough for any DOUBLE(M,D) in plain notation (1.8e308, D <= 30)


def arrow_type(t: LakeType) -> pa.DataType:
    """The Arrow (and so Parquet) type of a lake type."""
    if t.kind == "decimal":
        return pa.decimal128(t.precision, t.scale)
    if t.kind == "timestamp":
        return pa.timestamp("us")
    if t.kind == "timestamp_utc":
        return pa.timestamp("us", tz="UTC")
    simple: dict[str, Callable[[], pa.DataType]] = {
        "int8": pa.int8, "int16": pa.int16, "int32": pa.int32, "int64": pa.int64,
        "float32": pa.float32, "float64": pa.float64, "date": pa.date32,
        "string": pa.string, "binary": pa.binary,
    }  # fmt: skip
    return simple[t.kind]()


def mysql_double_text(value: float) -> bytes:
    """The text MySQL/MariaDB print for a DOUBLE (and for ``CAST(float AS DOUBLE)``)."""
    if value == 0:
        return b"0"
    text = repr(abs(value))
    mantissa, _, exp_text = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + (int(exp_text) if exp_text else 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    exponent = point - 1
    sign = "-" if value < 0 else ""
    if exponent in _PLAIN_EXPONENTS or len(digits) > point > 0:
        if point <= 0:
            body = "0." + "0" * -point + digits
        elif point >= len(digits):
            body = digits + "0" * (point - len(digits))
        else:
            body = digits[:point] + "." + digits[point:]
    else:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + f"e{exponent}"
    return (sign + body).encode()


def to_arrow(t: LakeType, values: Sequence[Value], column: str) -> ArrowValues:
    """Typed Arrow values from canonical texts; SourceError names a value Parquet cannot hold."""
    if t.kind == "binary":
        return pa.array([None if v is None else binascii.a2b_hex(v) for v in values], pa.binary())
    raw = pa.array(values, pa.binary())
    try:
        text = raw.cast(pa.string())
        if t.kind == "string":
            return text
        if t.kind == "float32":  # the text is the float's exact double: narrowing is exact
            return text.cast(pa.float64()).cast(pa.float32(), safe=False)
        if t.kind == "timestamp_utc":
            return text.cast(pa.timestamp("us")).cast(arrow_type(t))
        return text.cast(arrow_type(t))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SourceError(
            f"column {column!r} holds a value Parquet cannot store as {arrow_type(t)} ({exc}); "
            "zero or invalid dates are the usual cause: archive this table with format = 'csv' "
            "or exclude the column"
        ) from None


def to_canonical(t: LakeType, array: ArrowValues) -> list[Value]:
    """The canonical text of each value (None for NULL), byte for byte what the server prints."""
    render = _RENDERERS[t.text]
    return render(t, array)


def _as_bytes(array: ArrowValues) -> list[Value]:
    out: list[Value] = array.cast(pa.binary()).to_pylist()
    return out


def _render_cast(t: LakeType, array: ArrowValues) -> list[Value]:
    return _as_bytes(array.cast(pa.string()))


def _render_decimal(t: LakeType, array: ArrowValues) -> list[Value]:
    texts = _as_bytes(array.cast(pa.string()))
    return [
        v if v is None or b"E" not in v else format(Decimal(v.decode()), "f").encode()
        for v in texts
    ]


def _render_string(t: LakeType, array: ArrowValues) -> list[Value]:
    return _as_bytes(array)


def _render_zerofill(t: LakeType, array: ArrowValues) -> list[Value]:
    return [None if v is None else v.rjust(t.width, b"0") for v in _render_cast(t, array)]


def _render_year(t: LakeType, array: ArrowValues) -> list[Value]:
    return [None if v is None else b"%04d" % v for v in array.to_pylist()]


def _render_double(t: LakeType, array: ArrowValues) -> list[Value]:
    return [None if v is None else mysql_double_text(v) for v in array.to_pylist()]


def _render_fixed(t: LakeType, array: ArrowValues) -> list[Value]:
    """DOUBLE(M,D): the shortest round-trip digits in plain notation, padded (or rounded) to D
    places — not the binary value's exact digits (``%.*f`` printed 1e25 as 1000…0905969664)."""
    places = Decimal(1).scaleb(-t.scale)
    with localcontext(prec=_FIXED_PRECISION):
        return [
            None if v is None else format(Decimal(repr(v)).quantize(places), "f").encode()
            for v in array.to_pylist()
        ]


def _render_datetime(t: LakeType, array: ArrowValues) -> list[Value]:
    naive = array.cast(pa.timestamp("us")).cast(pa.string())  # 'YYYY-MM-DD HH:MM:SS.ffffff'
    stop = 19 + (t.scale + 1 if t.scale else 0)
    return _as_bytes(pc.utf8_slice_codeunits(naive, 0, stop))


def _render_hex(t: LakeType, array: ArrowValues) -> list[Value]:
    return [None if v is None else binascii.b2a_hex(v).upper() for v in array.to_pylist()]


_RENDERERS: dict[str, Callable[[LakeType, ArrowValues], list[Value]]] = {
    "int": _render_cast,
    "zerofill": _render_zerofill,
    "year": _render_year,
    "decimal": _render_decimal,
    "double": _render_double,
    "fixed": _render_fixed,
    "date": _render_cast,
    "datetime": _render_datetime,
    "string": _render_string,
    "hex": _render_hex,
}

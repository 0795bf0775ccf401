"""Rows that reuse an archived key: another row, not the archived one changed.

A log table rotated by ``RENAME TABLE t TO t_old; CREATE TABLE t LIKE t_old`` (or whose
AUTO_INCREMENT counter was reset) numbers its new rows from 1 again. A late row of an archived day
then has a key the day's archive holds for another row, and growth would take it for that row
changed since: the archived row would count as its older version, and restore would give back the
new row only. The sign that keys are being reused is the counter itself: in a table whose counter
only grows it is past every key ever given, so past every archived key.
"""

from __future__ import annotations

import re
from typing import Any

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.manifest import Manifest
from dbarchive.sources.table import TableInfo

_COUNTER = re.compile(rb"\bAUTO_INCREMENT=(\d+)", re.IGNORECASE)


def counter_behind(ctx: Context, info: TableInfo, old: Manifest) -> int | None:
    """The table's AUTO_INCREMENT counter if it is not past the day's archived keys (keys are
    being reused), else None (also for a key that is not one AUTO_INCREMENT integer).

    Read from the table's definition, which gives the live counter."""
    if not (len(info.key) == 1 and info.key[0].is_integer and old.max_key):
        return None
    counter = key_counter(ctx.source.create_statement(info), info.key[0].name)
    return counter if counter is not None and counter <= int(old.max_key[0]) else None


def key_counter(create: bytes, column: str) -> int | None:
    """The next AUTO_INCREMENT value of a ``SHOW CREATE TABLE`` statement whose ``column`` is
    AUTO_INCREMENT (1 when the table has not used it yet), else None."""
    declared = re.search(
        rb"^\s*`" + re.escape(column.encode()) + rb"`[^\n]*\bAUTO_INCREMENT\b",
        create,
        re.IGNORECASE | re.MULTILINE,
    )
    if declared is None:
        return None
    found = _COUNTER.search(create)  # the table option (the column says AUTO_INCREMENT alone)
    return int(found[1]) if found else 1


def reuse_refusal(spec: TableSpec, old: Manifest, key: tuple[Any, ...], counter: int) -> str:
    """Why the growth stops: ``key`` is archived for another row."""
    shown = "/".join(_bytes(v).decode(errors="replace") for v in key)
    top = old.max_key[0] if old.max_key else "?"
    return (
        f"{spec.name} {old.day}: key {shown} is archived in this day with other values, and the "
        f"table's AUTO_INCREMENT counter ({counter}) is not past the day's archived keys (up to "
        f"{top}): the table was re-created or its counter reset, so this is another row reusing "
        "the key, and taking it for the archived row changed would hide that row from restore. "
        "The day's rows the archive lacks are kept (none deleted); give them keys past the "
        f"archived ones (UPDATE … SET id = …) and set the counter past them too (ALTER TABLE "
        f"{spec.name} AUTO_INCREMENT = …): the next run archives them as late rows"
    )


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()

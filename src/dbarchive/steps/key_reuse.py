"""Rows that reuse an archived key: another row, not the archived one changed.

A log table rotated by ``RENAME TABLE t TO t_old; CREATE TABLE t LIKE t_old`` (or whose
AUTO_INCREMENT counter was reset) numbers its new rows from 1 again. A late row of an archived day
then has a key the day's archive holds for another row, and growth would take it for that row
changed since: the archived row would count as its older version, and restore would give back the
new row only. The sign that keys are being reused is the counter itself: in a table whose counter
only grows it is past every key ever given, so past every archived key — of this day, and of every
day archived since (a rotated table's counter soon passes an old day's small keys, but not the
keys the old table gave last).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from typing import Any

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.layout import MANIFEST_NAME
from dbarchive.manifest import Manifest
from dbarchive.sources.table import TableInfo
from dbarchive.steps import upload

_COUNTER = re.compile(rb"\bAUTO_INCREMENT=(\d+)", re.IGNORECASE)


class ReuseCheck:
    """Whether the table's keys are being reused, asked of one day's growth: only when it meets a
    key archived with other values (rare), and once — the answer reads every manifest of the
    days archived since."""

    def __init__(self, ctx: Context, spec: TableSpec, info: TableInfo, old: Manifest) -> None:
        self._ctx, self._spec, self._info, self._old = ctx, spec, info, old

    @cached_property
    def counter_behind(self) -> tuple[int, int] | None:
        """(the counter, the highest archived key it is not past), or None: keys are not being
        reused (or the key is not one AUTO_INCREMENT integer)."""
        return self._ask()

    def _ask(self) -> tuple[int, int] | None:
        info, old = self._info, self._old
        if not (len(info.key) == 1 and info.key[0].is_integer and old.max_key):
            return None
        counter = key_counter(self._ctx.source.create_statement(info), info.key[0].name)
        if counter is None:
            return None
        if counter <= (top := int(old.max_key[0])):
            return counter, top
        top = max(top, newest_archived_key(self._ctx, self._spec, old.day))
        return (counter, top) if counter <= top else None


def newest_archived_key(ctx: Context, spec: TableSpec, since: dt.date) -> int:
    """The highest integer key archived for the table on ``since`` or any later day (0 if none);
    a manifest that cannot be read is passed over (its own day's work reports it)."""
    listed = upload.days_holding(
        ctx.storage, ctx.folder(spec), ctx.job.destination.layout, MANIFEST_NAME
    )
    days = {day for day in listed if day >= since}
    top = 0
    for day in sorted(days):
        try:
            manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, day))
        except VerificationError:
            continue
        if manifest is not None and manifest.max_key:
            try:
                top = max(top, int(manifest.max_key[0]))
            except ValueError:
                continue  # not an integer key then (the column changed since)
    return top


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


def reuse_refusal(
    spec: TableSpec, old: Manifest, key: tuple[Any, ...], behind: tuple[int, int]
) -> str:
    """Why the growth stops: ``key`` is archived for another row."""
    shown = "/".join(_bytes(v).decode(errors="replace") for v in key)
    counter, top = behind
    return (
        f"{spec.name} {old.day}: key {shown} is archived in this day with other values, and the "
        f"table's AUTO_INCREMENT counter ({counter}) is not past the keys archived from this day "
        f"on (up to {top}): the table was re-created or its counter reset, so this is another row reusing "
        "the key, and taking it for the archived row changed would hide that row from restore. "
        "The day's rows the archive lacks are kept (none deleted); give them keys past the "
        f"archived ones (UPDATE … SET id = …) and set the counter past them too (ALTER TABLE "
        f"{spec.name} AUTO_INCREMENT = …): the next run archives them as late rows"
    )


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()

"""``export.strategy = "stream"`` (the default): dbarchive reads each unit's rows and writes its
files itself (``units/export.py`` ``stream_unit``), on any MySQL or MariaDB."""

from __future__ import annotations

import datetime as dt

from dbarchive.checks.result import CheckResult
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.throttle import Throttle
from dbarchive.units.export import stream_unit
from dbarchive.units.records import DayUnits, UnitRecord


class StreamExport:
    """Rows through this process: nothing to require of the server, nothing to land later."""

    name = "stream"

    def require_support(self, ctx: Context) -> None:
        return None

    def export_unit(
        self, ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None
    ) -> UnitRecord:
        return stream_unit(ctx, spec, plan, index, throttle)

    def issue_unit(
        self, ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None
    ) -> UnitRecord | int:
        return stream_unit(ctx, spec, plan, index, throttle)

    def land_units(self, ctx: Context, spec: TableSpec, plan: DayUnits) -> None:
        return None

    def first_statement(self, ctx: Context, spec: TableSpec, day: dt.date) -> str | None:
        return None

    def checks(self, ctx: Context) -> list[CheckResult]:
        return []


STRATEGY = StreamExport()

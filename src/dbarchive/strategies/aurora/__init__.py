"""Aurora MySQL's server-side export, ``SELECT … INTO OUTFILE S3``, as an export strategy.

With ``export.strategy = "aurora-outfile"`` the database writes each work unit (a key range or
time slice of a day, planned by ``ranges.py`` through ``units/``) straight to S3, so no
row passes through dbarchive while exporting. What dbarchive still does:

- ``statement.py``: builds the statement (pure) so Aurora's bytes are the archive's CSV dialect;
- ``export.py``: runs it per unit (through an ``OutfileRunner``: Aurora, or an emulation), then
  has ``parts.py`` read Aurora's manifest and verify every part it lists, compares them with the
  database's digest of the same range, and records the unit once ``parts.py`` has moved the
  parts into the partition (a server-side copy, or an optional streaming re-compression into
  ``.csv.gz``); the day's ``_manifest.json`` is still written last, by ``units/``;
- ``checks.py``: what the server needs (Aurora, the privilege or role, the S3 role parameter,
  the bucket's region), and the clear refusal everywhere else;
- ``procedures.py``: the database-side mode — stored procedures that export a day and delete
  expired rows in chunks, for teams that keep that design (no verification: see its docstring).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from dbarchive.strategies.aurora import checks, export

if TYPE_CHECKING:
    from dbarchive.checks.result import CheckResult
    from dbarchive.config import TableSpec
    from dbarchive.context import Context
    from dbarchive.throttle import Throttle
    from dbarchive.units.records import DayUnits, UnitRecord


class AuroraOutfile:
    """``export.strategy = "aurora-outfile"``: Aurora writes each unit; dbarchive lands it."""

    name = "aurora-outfile"

    def require_support(self, ctx: Context) -> None:
        export.require_support(ctx)

    def export_unit(
        self, ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None
    ) -> UnitRecord:
        return export.export_unit(ctx, spec, plan, index, throttle)

    def issue_unit(
        self, ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None
    ) -> UnitRecord | int:
        return export.issue_unit(ctx, spec, plan, index, throttle).rows  # no row read here

    def land_units(self, ctx: Context, spec: TableSpec, plan: DayUnits) -> None:
        export.land_units(ctx, spec, plan)

    def first_statement(self, ctx: Context, spec: TableSpec, day: dt.date) -> str | None:
        return export.first_statement(ctx, spec, day)

    def checks(self, ctx: Context) -> list[CheckResult]:
        return checks.outfile_checks(ctx)


STRATEGY = AuroraOutfile()

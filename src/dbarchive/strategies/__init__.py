"""Export strategies: who reads a work unit's rows and writes its files, chosen by name.

``export.strategy = "stream"`` (the default): dbarchive reads the rows and writes the files
(``stream.py``). ``"aurora-outfile"``: Aurora MySQL writes them to S3 itself and dbarchive verifies
and lands them (``aurora/``). The core (work units, the plan, ``check``) knows only the
:class:`ExportStrategy` protocol and :func:`strategy_for`; a new strategy is a module exposing
``STRATEGY`` and one line in ``_REGISTRY`` — the registry imports it by name, so no module of the
core imports a concrete strategy.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dbarchive.checks.result import CheckResult
    from dbarchive.config import TableSpec
    from dbarchive.context import Context
    from dbarchive.throttle import Throttle
    from dbarchive.units.records import DayUnits, UnitRecord


class ExportStrategy(Protocol):
    """What the work-unit flow (``units/``) asks of a strategy, unit by unit."""

    name: str

    def require_support(self, ctx: Context) -> None:
        """Refuse (ConfigError, nothing written) a server this strategy cannot use."""

    def export_unit(
        self, ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None
    ) -> UnitRecord:
        """Write, verify and record unit ``index`` of the plan; safe to repeat and to kill."""

    def issue_unit(
        self, ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None
    ) -> UnitRecord | int:
        """An export task's share of a unit (Airflow): the whole unit (its record), or only the
        statement that writes it, landed later by :meth:`land_units` (the rows it wrote)."""

    def land_units(self, ctx: Context, spec: TableSpec, plan: DayUnits) -> None:
        """Before the day is published: verify and place what :meth:`issue_unit` left."""

    def first_statement(self, ctx: Context, spec: TableSpec, day: dt.date) -> str | None:
        """The first statement of a day, for ``plan`` (None: the stream export's chunk SQL)."""

    def checks(self, ctx: Context) -> list[CheckResult]:
        """What the server needs for this strategy (``dbarchive check``)."""


_REGISTRY = {
    "stream": "dbarchive.strategies.stream",
    "aurora-outfile": "dbarchive.strategies.aurora",
}


def strategy_named(name: str) -> ExportStrategy:
    """The strategy registered as ``name`` (``config`` validates the names)."""
    module = importlib.import_module(_REGISTRY[name])
    strategy: ExportStrategy = module.STRATEGY
    return strategy


def strategy_for(spec: TableSpec) -> ExportStrategy:
    """The strategy of a table (``export.strategy``)."""
    return strategy_named(spec.export.strategy)


def registered() -> list[str]:
    """Every strategy name, in registration order."""
    return list(_REGISTRY)

"""What every settings model shares: frozen pydantic models, zone names, amounts of time
(``"2 months"``, ``"10 minutes"``) and the retention they make."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from dbarchive.dates import duration_text

# Durations are written "<whole number> <unit>": these are the units each setting takes.
AMOUNT_RE = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$", re.I)


RETENTION_UNITS = {
    **dict.fromkeys(("day", "days", "d"), "days"),
    **dict.fromkeys(("week", "weeks", "w"), "weeks"),
    **dict.fromkeys(("month", "months", "m"), "months"),
}


SETTLE_SECONDS = {  # no bare "m": in retention it means months
    **dict.fromkeys(("second", "seconds", "sec", "secs", "s"), 1),
    **dict.fromkeys(("minute", "minutes", "min", "mins"), 60),
    **dict.fromkeys(("hour", "hours", "hr", "hrs", "h"), 3600),
    **dict.fromkeys(("day", "days", "d"), 86_400),
}


MAX_SETTLE = dt.timedelta(days=7)


MIB = 1024 * 1024


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like 'UTC' or 'Europe/Berlin'"
        ) from exc
    return name


class Retention(Frozen):
    """How long rows stay in MySQL: a number of days, weeks or calendar months."""

    amount: int = Field(ge=1)
    unit: Literal["days", "weeks", "months"]

    @classmethod
    def parse(cls, text: str) -> Retention:
        parsed = amount(text, RETENTION_UNITS)
        if parsed is None:
            raise ValueError(f"retention {text!r} is not like '60 days', '8 weeks' or '2 months'")
        return cls(amount=parsed[0], unit=parsed[1])

    @property
    def shortest(self) -> dt.timedelta:
        """The least time the retention keeps a day (a month: at least 28 days)."""
        per_unit = {"days": 1, "weeks": 7, "months": 28}[self.unit]
        return dt.timedelta(days=self.amount * per_unit)

    def cutoff(self, today: dt.date) -> dt.date:
        """The first day that is kept: rows of days before it may be purged."""
        if self.unit == "days":
            return today - dt.timedelta(days=self.amount)
        if self.unit == "weeks":
            return today - dt.timedelta(weeks=self.amount)
        month_index = today.year * 12 + today.month - 1 - self.amount
        year, month = divmod(month_index, 12)
        first_next = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
        last_day = (first_next - dt.timedelta(days=1)).day
        return dt.date(year, month + 1, min(today.day, last_day))

    def __str__(self) -> str:
        return f"{self.amount} {self.unit if self.amount != 1 else self.unit.removesuffix('s')}"


def amount(text: str, units: dict[str, Any]) -> tuple[int, Any] | None:
    """``"10 minutes"`` → ``(10, units["minutes"])``; None when the text is not like that."""
    m = AMOUNT_RE.match(text)
    unit = m.group(2).lower() if m else None
    if m is None or unit not in units:
        return None
    return int(m.group(1)), units[unit]


_ISO_DURATION = TypeAdapter(dt.timedelta)


def parse_duration(
    value: Any, *, name: str, like: str, meaning: str, most: dt.timedelta
) -> dt.timedelta:
    """A setting that is an amount of time (``"10 minutes"``, ``"0 seconds"``), from zero to
    ``most``. ``name``, ``like`` (examples) and ``meaning`` go into the error, so it says which
    setting is wrong and what it is for."""
    if isinstance(value, dt.timedelta):
        duration = value
    elif isinstance(value, str) and value.startswith("P"):  # ISO 8601, as a JSON dump writes it
        try:
            duration = _ISO_DURATION.validate_python(value)
        except ValidationError:
            raise ValueError(f"{name} {value!r} is not like {like} ({meaning})") from None
    else:
        parsed = amount(value, SETTLE_SECONDS) if isinstance(value, str) else None
        if parsed is None:
            raise ValueError(f"{name} {value!r} is not like {like} ({meaning})")
        duration = dt.timedelta(seconds=parsed[0] * parsed[1])
    if not dt.timedelta(0) <= duration <= most:
        raise ValueError(f"{name} {value!r} must be from '0 seconds' to '{duration_text(most)}'")
    return duration

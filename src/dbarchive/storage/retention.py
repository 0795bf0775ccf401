"""S3 Object Lock as dbarchive uses it: which objects are locked, in which mode, until when.

Retention is set per object, never through a bucket default (docs/design/publication.md): the
archive's content — published data files (``part-…``), generation manifests
(``_manifest-gGGGG.json``) and every version of the commit marker ``_manifest.json`` — is written
with a retain-until date and, if asked, a legal hold; temporary objects (``_staged-part-…``,
``_purge.json``, ``_units.json``, ``_unit-….json``, ``_verified.json``, ``_aurora-…``,
``_outfile-…``, the check's probe) are written without, so they stay deletable. The decision is
made here, by name, for every write of a backend, so no caller can forget it; a record that is
content under another name (the deletion ledger) is written with ``Storage.put_retained``.

The retain-until date counts from the moment the object is written, by this machine's clock (S3
itself refuses a date that is not in the future by its own): the archive's files are kept at least
``retain`` after they were written, as a bucket default would keep them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Literal

from dbarchive.layout import MANIFEST_NAME, claimed_generation, is_part_name

LockMode = Literal["COMPLIANCE", "GOVERNANCE"]
PeriodUnit = Literal["days", "years"]
MODES: tuple[LockMode, ...] = ("COMPLIANCE", "GOVERNANCE")
_PERIOD = re.compile(r"^\s*(\d+)\s*(day|days|year|years)\s*$", re.IGNORECASE)
DAYS_PER_YEAR = 365.25  # comparing a period in years with one in days (leap years counted)


@dataclass(frozen=True)
class Period:
    """A retention period as S3 expresses a bucket's default: whole days or whole years."""

    amount: int
    unit: PeriodUnit

    @classmethod
    def parse(cls, text: str) -> Period:
        """``"7 years"``, ``"1 year"``, ``"400 days"``; ValueError saying what is accepted."""
        m = _PERIOD.match(text)
        if m is None:
            raise ValueError(
                f"retention period {text!r}: write a whole number of days or years, e.g. "
                '"7 years" or "400 days" (S3 Object Lock counts in days or years, not months)'
            )
        amount = int(m.group(1))
        if amount < 1:
            raise ValueError(f"retention period {text!r} must be at least 1 day")
        unit: PeriodUnit = "years" if m.group(2).lower().startswith("year") else "days"
        return cls(amount, unit)

    @property
    def days(self) -> float:
        """The period's length in days (a year is 365.25), to compare periods of either unit."""
        return self.amount * (DAYS_PER_YEAR if self.unit == "years" else 1)

    def after(self, start: dt.datetime) -> dt.datetime:
        """``start`` plus the period: calendar years (29 February → 1 March), or days."""
        if self.unit == "days":
            return start + dt.timedelta(days=self.amount)
        year = start.year + self.amount
        try:
            return start.replace(year=year)
        except ValueError:  # 29 February in a year without one: the later day keeps it longer
            return start.replace(year=year, month=3, day=1)

    def __str__(self) -> str:
        unit = self.unit if self.amount != 1 else self.unit[:-1]
        return f"{self.amount} {unit}"


@dataclass(frozen=True)
class ObjectLock:
    """What every archive object is written with: a mode, a period and optionally a legal hold."""

    mode: LockMode
    period: Period
    legal_hold: bool = False

    def retain_until(self, now: dt.datetime | None = None) -> dt.datetime:
        """The retain-until date of an object written ``now`` (default: this instant, UTC),
        rounded up to the second (S3 keeps whole seconds: never a moment shorter)."""
        start = now or dt.datetime.now(dt.UTC)
        until = self.period.after(start)
        return until.replace(microsecond=0) + dt.timedelta(
            seconds=math.ceil(until.microsecond / 1e6)
        )

    def describe(self) -> str:
        hold = ", legal hold on" if self.legal_hold else ""
        return f"{self.mode} for {self.period} from each write{hold}"


def is_archive_content(key: str) -> bool:
    """Whether an object is part of the archive (locked where Object Lock is on): a published
    data file, a generation manifest or the commit marker. Staged files and operational records
    are not."""
    name = key.rsplit("/", 1)[-1]
    return is_part_name(name) or name == MANIFEST_NAME or claimed_generation(name) is not None


__all__ = ["MODES", "LockMode", "ObjectLock", "Period", "is_archive_content"]

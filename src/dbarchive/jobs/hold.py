"""Legal hold (S3 Object Lock) on archived days: ``dbarchive hold --table T --from D1 --to D2``.

A legal hold keeps an object version from being deleted, whatever its retention says, until the
hold is released; it has no end date. A litigation hold is placed on what the committed manifest
of each day names — every data file's version, the version of the generation's
``_manifest-gGGGG.json`` and the committed ``_manifest.json`` — and on every other stored version
of the day's data files and manifests (older generations), so a release reaches all an earlier
hold held. Setting or clearing it changes nothing else (no data, no manifest), and a version
already in the asked state is left as it is, so the command can be run again; the result says
what changed. A generation written later (late rows) is held as it is published, when the
manifest it replaces was held (``steps/legal_hold.py``); an erasure refuses a day holding a held
version.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import ConfigError
from dbarchive.steps.legal_hold import day_versions
from dbarchive.steps.upload import read_manifest
from dbarchive.storage.base import locking


@dataclass(frozen=True)
class HeldObject:
    """One object version whose legal hold was looked at."""

    key: str
    version_id: str | None
    changed: bool  # False: it already was in the asked state


@dataclass
class HoldResult:
    """What ``hold`` did to the days of one table."""

    table: str
    on: bool  # True: hold set; False: released
    objects: list[HeldObject] = field(default_factory=list)
    days: list[dt.date] = field(default_factory=list)  # archived days whose objects were held
    not_archived: list[dt.date] = field(default_factory=list)

    @property
    def changed(self) -> list[HeldObject]:
        return [o for o in self.objects if o.changed]

    def summary(self) -> str:
        verb = "set on" if self.on else "released from"
        already = len(self.objects) - len(self.changed)
        text = (
            f"{self.table}: legal hold {verb} {len(self.changed)} object version(s) of "
            f"{len(self.days)} archived day(s)"
        )
        if already:
            text += f"; {already} already {'held' if self.on else 'not held'}"
        if self.not_archived:
            text += f"; not archived (nothing to hold): {', '.join(map(str, self.not_archived))}"
        return text


def hold_days(
    ctx: Context, spec: TableSpec, first: dt.date, last: dt.date, on: bool = True
) -> HoldResult:
    """Set (``on``) or release the legal hold of every object the committed manifests of
    ``first``..``last`` name. ConfigError for a destination that cannot hold (a local folder);
    StorageError if the bucket refuses (no Object Lock on it, or no s3:PutObjectLegalHold)."""
    if last < first:
        raise ConfigError(f"--to {last} is before --from {first}; give the days in order")
    storage = locking(ctx.storage)
    if storage is None:
        raise ConfigError(
            f"{spec.name}: the destination {ctx.storage.url} cannot hold objects; legal hold is "
            "S3 Object Lock's, on an s3:// destination whose bucket has Object Lock enabled"
        )
    if not storage.has_object_lock():  # AWS refuses the hold; some S3 stores keep and ignore it
        raise ConfigError(
            f"{spec.name}: the bucket of {ctx.storage.url} does not have Object Lock enabled, so "
            "a legal hold there would not keep anything from being deleted; hold an archive in "
            "a bucket created with Object Lock enabled. Nothing was changed"
        )
    result = HoldResult(spec.name, on)
    day = first
    while day <= last:
        partition = ctx.partition(spec, day)
        manifest = read_manifest(ctx.storage, partition)
        if manifest is None:
            result.not_archived.append(day)
        else:
            result.days.append(day)
            for key, version in day_versions(storage, manifest, partition):
                changed = storage.set_legal_hold(key, version, on)
                result.objects.append(HeldObject(key, version, changed))
        day += dt.timedelta(days=1)
    return result

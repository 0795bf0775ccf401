"""One probed requirement and how a probe turns a refusal into one (shared by every check)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dbarchive.errors import DbArchiveError, SourceError, StorageError


@dataclass(frozen=True)
class CheckResult:
    """One probed requirement: ``ok``, what was found, and what to do if it is missing.

    ``advisory``: a recommendation (the bucket's security settings), not something a run needs;
    it fails ``check`` only with ``--strict``.
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # ok, but something the user should know (``fix`` says what to do)
    advisory: bool = False


def run_probe(name: str, action: Callable[[], str], fix: str) -> CheckResult:
    """Run one probe; any DbArchiveError means the requirement is missing.

    ``fix`` is the hint for a refused privilege or permission, and is given only for that
    cause: any other failure (no such table, no key, an unreachable server) is said by the
    error's own message, which names its fix.
    """
    try:
        return CheckResult(name, True, action())
    except DbArchiveError as exc:
        own = isinstance(exc, Missing) or denied(exc)
        return CheckResult(name, False, str(exc).splitlines()[0], fix if own else "")


class Missing(SourceError):
    """What a probe itself found missing (a read-only server, a tight statement limit): the
    probe's fix applies."""


def denied(exc: DbArchiveError) -> bool:
    """A refused privilege or permission (not a missing table, bucket or server)."""
    if getattr(exc, "mysql_code", None) in DENIED:
        return True
    return isinstance(exc, StorageError) and "access denied" in str(exc)


DENIED = {1044, 1142, 1143, 1227}  # no privilege on the database / table / column / at all

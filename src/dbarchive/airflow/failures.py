"""Which failures Airflow should retry: the one mapping of dbarchive's error tree onto Airflow.

A retry helps only when the cause can go away by itself. A missing bucket, a refused login, an
unknown table or a bad config stays what it is, and three tries with exponential backoff only
delay the alert by half an hour (issue 21: a missing bucket alerted after 25 minutes). Those
are *permanent*: the task raises ``AirflowFailException`` and fails at once, whatever its
``retries``. Everything else keeps Airflow's retries: a lost connection, a lock wait or deadlock,
S3 throttling, the run lock held by another run, a stop after ``max_runtime``, an overloaded
server, a day that has not settled, and verification mismatches (late rows: the next try or
run exports them again).

    error (dbarchive.errors)                 exit code   in Airflow
    ConfigError                              2           fail now
      DayNotSettled                          2           retry
      ReplicaBehind (read_url lags)          9           retry
    SourceError, no server error number      3           fail now   (unknown table/column/key,
                                                                     missing index, bad filter)
    SourceError, login/privilege/unknown     3           fail now   (1044 1045 1049 1054 1142
                                                                     1143 1146 1176 1227 1698
                                                                     2026 TLS)
    SourceError, any other server error      3           retry      (lost, unreachable, lock wait)
    StorageError from S3 NoSuchBucket,       4           fail now
      AccessDenied/403, bad keys, no creds
    StorageError, any other                  4           retry      (unreachable, SlowDown, 5xx)
    VerificationError                        5           retry
    StopRequested                            6           retry      (carries on where it stopped)
    CriticalLoad                             7           retry
    AlreadyRunning, RunLockLost              8           retry
    MapTooLong (a list over max_map_length)  2           fail now
"""

from __future__ import annotations

import copy
import errno
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dbarchive.airflow._compat import AirflowFailException
from dbarchive.errors import (
    ConfigError,
    DayNotSettled,
    DbArchiveError,
    ReplicaBehind,
    SourceError,
    StorageError,
    VerificationError,
)

# MySQL errors no retry can fix: the login, the grants, the database, table, column or index
# named, the SQL of a filter, the TLS certificate.
PERMANENT_MYSQL = frozenset(
    {1044, 1045, 1049, 1054, 1064, 1142, 1143, 1146, 1176, 1227, 1698, 2026}
)
# S3 error codes no retry can fix.
PERMANENT_S3 = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "403",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
        "InvalidBucketName",
        "AccountProblem",
    }
)
_PERMANENT_OS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


class MapTooLong(ConfigError):
    """A task would hand Airflow more items to map over than ``[core] max_map_length``."""


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying cannot help (see the module docstring's table)."""
    if isinstance(exc, DayNotSettled | ReplicaBehind):
        return False  # the day settles, the replica catches up
    if isinstance(exc, ConfigError):
        return True
    if isinstance(exc, SourceError):
        return exc.mysql_code is None or exc.mysql_code in PERMANENT_MYSQL
    if isinstance(exc, StorageError):
        return _permanent_storage_cause(exc)
    return False


def _permanent_storage_cause(exc: StorageError) -> bool:
    """The botocore (or OS) error beneath a StorageError says whether it lasts."""
    from_botocore = _botocore_kind(exc)
    if from_botocore is not None:
        return from_botocore
    cause = exc.__cause__
    return isinstance(cause, OSError) and cause.errno in _PERMANENT_OS


def _botocore_kind(exc: StorageError) -> bool | None:
    """True/False for a botocore cause (permanent or not), None when there is none."""
    cause = exc.__cause__
    if cause is None or not type(cause).__module__.startswith("botocore"):
        return None
    from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

    if isinstance(cause, NoCredentialsError | PartialCredentialsError):
        return True
    if isinstance(cause, ClientError):
        code = str(cause.response.get("Error", {}).get("Code", ""))
        if code in {"404", "NotFound"}:  # HeadBucket's reply for a missing bucket
            return "bucket" in str(exc) and "does not exist" in str(exc)
        return code in PERMANENT_S3
    return False


def report_error(
    messages: Sequence[str], codes: Sequence[int], causes: Sequence[DbArchiveError | None] = ()
) -> DbArchiveError:
    """The error of a table report (``api.run``/``api.purge`` record errors, not exceptions).

    Where every failure kept its cause and each is permanent (a missing grant: retried, it only
    delayed the page; an outside trial), the first cause's kind with every message. Else by exit
    code: a config error (2) fails now; a database or storage code (3, 4) may be a lost
    connection as well as a missing table, so it is retried.
    """
    text = "; ".join(messages)
    first = causes[0] if causes else None
    if first is not None and all(c is not None and is_permanent(c) for c in causes):
        error = copy.copy(first)
        error.args = (text,)
        return error
    if set(codes) == {ConfigError.exit_code}:
        return ConfigError(text)
    if set(codes) == {VerificationError.exit_code}:
        return VerificationError(text)
    return DbArchiveError(text)


@contextmanager
def failing_fast() -> Iterator[None]:
    """Turn a permanent dbarchive error into ``AirflowFailException`` (no retry); let every
    other exception through unchanged, so Airflow retries it."""
    try:
        yield
    except DbArchiveError as exc:
        if not is_permanent(exc):
            raise
        raise AirflowFailException(  # type: ignore[no-untyped-call, unused-ignore]
            f"{exc} [{type(exc).__name__}: permanent, not retried]"
        ) from exc

"""Every error dbarchive raises on purpose, in one tree.

    DbArchiveError                 base: a message that says what went wrong and what to do
    ├── ConfigError                the config file or an option is invalid (nothing was touched)
    │   └── DayNotSettled          a day asked for has not ended (plus ``settle``): not archived
    ├── SourceError                the MySQL source: connection, privileges, unknown table/column
    │   ├── NoUsableKeyError       the table has no primary/unique key to page by
    │   ├── UnconvertibleTextError a text value has no UTF-8 form: its row is never archived
    │   └── ReplicaBehind          the read endpoint has not applied the day yet: nothing read from it
    ├── StorageError               the destination: unreachable, bucket missing, write refused
    ├── VerificationError          an archive does not match what it claims or what the source holds
    ├── StopRequested              a stop file, signal or run-time limit asked the job to stop cleanly
    └── AlreadyRunning             another run holds this table's lock; this one did nothing
        └── RunLockLost            this run's lock vanished mid-run (its session was killed): stopped

Messages never contain secrets: passwords are taken from the environment and never formatted.
"""

from __future__ import annotations

import datetime as dt


class DbArchiveError(Exception):
    """Base of every error dbarchive raises on purpose; ``exit_code`` is what the CLI returns."""

    exit_code = 1
    # What a day's purge had done when this error (or a stop request) ended it: a PurgeResult.
    partial: object = None


class ConfigError(DbArchiveError):
    """The configuration is invalid; the message names the file, the field and the fix."""

    exit_code = 2


class DayNotSettled(ConfigError):
    """A day was asked for that has not ended in its table's zone plus the ``settle`` time.

    Nothing was written. ``settles_at`` (aware, UTC) is when it may be archived.
    """

    def __init__(
        self,
        message: str,
        table: str = "",
        day: dt.date | None = None,
        settles_at: dt.datetime | None = None,
    ) -> None:
        super().__init__(message)  # keyword defaults: the error still pickles (Airflow, threads)
        self.table, self.day, self.settles_at = table, day, settles_at


class SourceError(DbArchiveError):
    """The MySQL source refused or failed: connection, privileges, unknown table or column."""

    exit_code = 3
    mysql_code: int | None = None  # the server's error number, when there is one
    sqlstate: str | None = None  # its SQLSTATE, where the session told it ('45000': a SIGNAL)


class NoUsableKeyError(SourceError):
    """The table has no primary key or NOT NULL unique key, so it cannot be paged safely."""


class UnconvertibleTextError(SourceError):
    """A non-UTF-8 text value (e.g. byte 0x98 in cp1251) does not convert to UTF-8 and back: the
    archive cannot hold it exactly, so its row is neither archived nor deleted."""


class ReplicaBehind(SourceError):
    """The read endpoint (``[source] read_url``) has not applied the primary's writes up to the
    end of the day plus ``settle`` within ``read_lag_wait``: nothing was read from it for the day.

    ``table``/``day`` name what was to be read (empty when unknown).
    """

    exit_code = 9

    def __init__(self, message: str, table: str = "", day: dt.date | None = None) -> None:
        super().__init__(message)  # keyword defaults: the error still pickles (Airflow, threads)
        self.table, self.day = table, day


class StorageError(DbArchiveError):
    """The archive destination refused or failed: unreachable, missing bucket, denied write."""

    exit_code = 4


class VerificationError(DbArchiveError):
    """An archive does not match its manifest or the source rows: nothing may be deleted."""

    exit_code = 5


class StopRequested(DbArchiveError):
    """A stop file, a signal or the run-time limit asked the job to stop after the current chunk."""

    exit_code = 6


class AlreadyRunning(DbArchiveError):
    """Another run (an Airflow retry, a manual run) is working on this table right now."""

    exit_code = 8


class NameTaken(AlreadyRunning):
    """A name written once (a published data file, a day's commit marker) was written by another
    writer between this one's check and its write: a run that lost its lock, or was paused past
    it. This writer stored nothing over it."""


class RunLockLost(AlreadyRunning):
    """The table's run lock is no longer this run's (its MySQL session was killed or dropped, so
    another run may have started): the run stopped before committing anything more."""

"""Every error dbarchive raises on purpose, in one tree.

    DbArchiveError                 base: a message that says what went wrong and what to do
    ├── ConfigError                the config file or an option is invalid (nothing was touched)
    ├── SourceError                the MySQL source: connection, privileges, unknown table/column
    │   └── NoUsableKeyError       the table has no primary/unique key to page by
    ├── StorageError               the destination: unreachable, bucket missing, write refused
    ├── VerificationError          an archive does not match what it claims or what the source holds
    ├── StopRequested              a stop file, signal or run-time limit asked the job to stop cleanly
    └── AlreadyRunning             another run holds this table's lock; this one did nothing

Messages never contain secrets: passwords are taken from the environment and never formatted.
"""

from __future__ import annotations


class DbArchiveError(Exception):
    """Base of every error dbarchive raises on purpose; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class ConfigError(DbArchiveError):
    """The configuration is invalid; the message names the file, the field and the fix."""

    exit_code = 2


class SourceError(DbArchiveError):
    """The MySQL source refused or failed: connection, privileges, unknown table or column."""

    exit_code = 3
    mysql_code: int | None = None  # the server's error number, when there is one


class NoUsableKeyError(SourceError):
    """The table has no primary key or NOT NULL unique key, so it cannot be paged safely."""


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

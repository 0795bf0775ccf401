"""The read endpoint (``[source] read_url``): a replica or an Aurora reader endpoint that the export
and the verification read a day's rows from, so the primary does not pay for those reads.

What reads where:

- read endpoint: the export's rows (the driver and the C reader), its scan plan and the check that
  an archive is not replaced by fewer rows; work units' plans, rows and digests; the
  verification's digest of a day's rows; the daily job's "did this archived day change" counts
  and digests.
- primary (``url``): the table's description, the run lock, the purge (its locking reads, its
  row matching, its deletes), growth of a day whose purge has begun and the check that every row
  left of such a day is archived (they decide what the archive must hold, so they see the
  primary's truth), restore, partition drops, aurora-outfile's statements, and the heartbeat.

Before one of its sessions reads day D, it must have applied the primary's writes up to the end of
D plus ``settle`` (:class:`Requirement`): its heartbeat row (``heartbeat.py``) must show that
instant or later. If it does not, a fresh heartbeat is written on the primary and the replica's row
polled until it does, for at most ``read_lag_wait``; then :class:`ReplicaBehind` (exit 9), and
nothing is read from it for the day. Every session proves it — the driver's, the C reader's, and
each one opened again after a lost connection — because a reader endpoint may hand each new
session to another replica.

A replica that misses rows all the same (one written late, after the day's ``settle``) can never
cause a loss: the purge matches every row it deletes, on the primary, against the archive by its
hash, so such a row is kept, and growth, which reads the primary, archives it before the day's
next purge round.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import MySQLdb

from dbarchive.config import SourceSettings
from dbarchive.errors import ReplicaBehind, SourceError
from dbarchive.sources import mysql_direct, retry
from dbarchive.sources.heartbeat import NO_SUCH_TABLE, Heartbeat, parse_instant
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.mysql_session import _fetch_all, translate_error

Probe = Callable[[], dt.datetime | None]
_DENIED = {1142, 1143}  # no privilege on the table / column


@dataclass(frozen=True)
class Requirement:
    """What a read needs of the read endpoint: the primary's writes applied up to ``instant``."""

    instant: dt.datetime  # aware; compared with the primary's clock (the heartbeat's)
    table: str
    day: dt.date
    why: str  # "the end of 2026-11-24 in UTC plus settle = 10 minutes"
    # Told before each pause while waiting (events; may raise StopRequested to stop waiting).
    waiting: Callable[[str], None] = field(default=lambda message: None, compare=False)


class ReadSource(MySqlSource):
    """The read endpoint's sessions: every read of :class:`MySqlSource`, each session first
    proving it has applied the primary's writes up to the latest :class:`Requirement`."""

    def __init__(
        self,
        settings: SourceSettings,
        heartbeat: Heartbeat,
        wait: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings)
        self.heartbeat, self.wait = heartbeat, wait
        self._sleep, self._clock = sleep, clock
        self._need: Requirement | None = None
        # The newest heartbeat each open session was seen to have applied (sessions only move on).
        self._seen: dict[str, dt.datetime | None] = {"driver": None, "reader": None}

    def require_applied(self, need: Requirement) -> None:
        """Make every session read only once it has applied up to ``need.instant``, proving the
        open ones now (waiting up to ``wait`` seconds); ReplicaBehind if one has not."""
        self._need = need
        self.connect()  # a new session proves itself as it opens (_open)
        self._seen["driver"] = self._prove(self._driver_beat, need, "driver")
        if self._direct is not None:
            reader = self._direct
            self._seen["reader"] = self._prove(lambda: self._reader_beat(reader), need, "reader")

    def applied(self) -> dt.datetime | None:
        """The primary's writes this endpoint has applied up to, by its heartbeat row now (None:
        no row of this primary yet). Writes nothing (``dbarchive check``)."""
        return self._driver_beat()

    # -- every session proves itself as it opens ---------------------------------------------
    def _open(self) -> Any:
        conn = super()._open()
        self._seen["driver"] = None
        if self._need is not None:
            try:
                self._seen["driver"] = self._prove(
                    lambda: self._driver_beat(conn), self._need, "driver"
                )
            except BaseException:
                conn.close()
                raise
        return conn

    def _direct_reader(self) -> mysql_direct.DirectReader:
        fresh = self._direct is None
        reader = super()._direct_reader()
        if fresh:
            self._seen["reader"] = None
            if self._need is not None:
                try:
                    need = self._need
                    self._seen["reader"] = self._prove(
                        lambda: self._reader_beat(reader), need, "reader"
                    )
                except BaseException:
                    reader.close()
                    self._direct = None
                    raise
        return reader

    # -- the proof ---------------------------------------------------------------------------
    def _prove(self, probe: Probe, need: Requirement, session: str) -> dt.datetime:
        """The session's heartbeat once it is at least ``need.instant``: at once, or after
        writing a fresh one on the primary and polling for up to ``wait`` seconds."""
        known = self._seen.get(session)
        if known is not None and known >= need.instant:
            return known
        seen = probe()
        if seen is not None and seen >= need.instant:
            return seen
        deadline = self._clock() + self.wait
        written: dt.datetime | None = None
        delays = retry.backoff(first=0.05, cap=1.0)
        while True:
            if written is None or written < need.instant:  # the primary's clock may lag ours
                written = self.heartbeat.beat()
            seen = probe()
            if seen is not None and seen >= need.instant:
                return seen
            if self._clock() >= deadline:
                raise self._behind(need, seen)
            need.waiting(self._waiting_text(need, seen))
            self._sleep(next(delays))

    def _driver_beat(self, conn: Any = None) -> dt.datetime | None:
        """The heartbeat on ``conn`` (a session being opened), else on the driver's session
        through ``query`` (retried, reconnected — and a new session proves itself first)."""
        sql = self.heartbeat.table.read_sql(self.heartbeat.server_id)
        try:
            if conn is None:
                rows = self.query(sql, (), "reading the heartbeat")
            else:
                rows = _fetch_all(conn, sql, ())
        except MySQLdb.Error as exc:
            self._unless_absent(translate_error(exc, self.settings, "reading the heartbeat"))
            return None
        except SourceError as exc:
            self._unless_absent(exc)
            return None
        return parse_instant(rows[0][0]) if rows else None

    def _reader_beat(self, reader: mysql_direct.DirectReader) -> dt.datetime | None:
        sql = self.heartbeat.table.read_sql(self.heartbeat.server_id).encode()
        try:
            chunk = reader.chunk(sql, 1, [0])
        except mysql_direct.error_type() as exc:
            self._unless_absent(translate_error(exc, self.settings, "reading the heartbeat"))
            return None
        return parse_instant(chunk.last[0]) if chunk.last else None

    def _unless_absent(self, error: SourceError) -> None:
        """Raise ``error`` unless it says the heartbeat table is not there: a replica that has
        not applied its creation yet has "no heartbeat". A refused SELECT says what to grant."""
        if error.mysql_code == NO_SUCH_TABLE:
            return
        if error.mysql_code in _DENIED:
            table = self.heartbeat.table
            denied = SourceError(
                f"the read endpoint {self.settings.safe_url()} may not read {table.qualified}, "
                f"the heartbeat that proves it has applied the day ({error}); "
                f"{table.grants_fix()}"
            )
            denied.mysql_code = error.mysql_code
            raise denied from None
        raise error

    # -- what it says ------------------------------------------------------------------------
    def _waiting_text(self, need: Requirement, seen: dt.datetime | None) -> str:
        return (
            f"waiting up to {self.wait:g} s for the read endpoint {self.settings.safe_url()} to "
            f"apply the primary's writes up to {_text(need.instant)} ({need.why}); it is at "
            f"{_text(seen)}"
        )

    def _behind(self, need: Requirement, seen: dt.datetime | None) -> ReplicaBehind:
        table = self.heartbeat.table.qualified
        where = f"its row in {table}" if seen else f"no row of this primary in {table} yet"
        return ReplicaBehind(
            f"{need.table} {need.day}: the read endpoint {self.settings.safe_url()} has applied "
            f"the primary's writes up to {_text(seen)} ({where}), not yet up to "
            f"{_text(need.instant)}, {need.why}; waited {self.wait:g} s ([source] "
            "read_lag_wait). Nothing was read from it for this day: check its replication "
            "(SHOW REPLICA STATUS there) and run again, or raise read_lag_wait",
            need.table,
            need.day,
        )


def _text(instant: dt.datetime | None) -> str:
    if instant is None:
        return "no heartbeat"
    return f"{instant.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S.%f} UTC"

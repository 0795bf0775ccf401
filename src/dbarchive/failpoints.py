"""Named crash points, so tests can kill the process at an exact step (``DBARCHIVE_FAILPOINT``).

``DBARCHIVE_FAILPOINT=export.before-manifest`` kills the process with SIGKILL the first time that
point is reached; ``name:3`` on the third time; ``name:3:term`` (or ``:int``) sends SIGTERM (SIGINT)
instead, so a test knows exactly where a clean stop was asked for; ``name:3:stop`` sends SIGSTOP: the
process pauses right there (a test sees it with ``os.waitpid(pid, os.WUNTRACED)``), does whatever
it races against, then resumes it with SIGCONT — ordering without sleeping. Nothing happens when
the variable is unset, and checking it costs one dict lookup, so the points stay in production code.

The points, in the order a ``run`` meets them (tests/reliability/test_kill.py kills at each):

    export.after-gone-record  archived rows of the day left the database: the day is recorded
                             grown-only, the growth it leads to not begun
    export.chunk-read        a chunk of rows was read from MySQL (before it is written)
    storage.part-uploaded    one part of a multipart upload is stored (not yet visible)
    storage.before-complete  every part is stored; CompleteMultipartUpload not sent yet
    storage.before-create    a published data file (written once) is about to be created: its
                             PutObject / CompleteMultipartUpload (or link) not sent yet
    storage.after-complete   the data file is visible, its manifest entry not written yet
    export.part-committed    a data file is complete (the next one may be open)
    export.before-manifest   every data file is stored, the commit marker is not
    publish.checked          the last checks before the commit passed (no later claim, the lock
                             held, the committed manifest still the one built on); PUT not sent
    export.after-manifest    the partition is committed; stale parts not yet removed
    publish.after-lake-commit  (format = "iceberg") the day's snapshot is committed too
    purge.after-verify       the day verified against archive and database; nothing deleted yet
    purge.before-drop        a partition's days verified, its empty clone created; not exchanged
    purge.after-exchange     the partition exchanged into the clone and dropped; clone not proven
    purge.chunk-locked       a purge chunk's rows are locked FOR UPDATE, nothing deleted
    purge.statement-deleted  one DELETE statement of the chunk ran (``statement_rows``: more follow)
    purge.before-commit      the chunk's DELETE ran, its transaction is not committed
    purge.after-commit       the chunk is committed
    purge.before-record      the day's last chunk is committed, its purge record says "started"
    purge.after-record       the day's purge record says "purged"

Outside a run: ``verify.chunk-digested`` (a chunk of a day's database rows is digested by verify),
``verify.files-scheduled`` (verify's files thread is made, its ``with`` not yet entered) and
``restore.batch-inserted`` (a restore's INSERT batch is committed).

With ``[ledger] enabled``, a purge chunk's intent is stored just before ``purge.before-commit``,
and every ledger record (intent, resolution, drop, restore) passes

    ledger.record-stored     a ledger record is stored (its COMMIT, if it is an intent, not yet)

Reading an archive back (verify, purge, restore), on whichever thread reads it:

    archive.row-group-read   a row group of a Parquet part was read back
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}
_SIGNALS = {
    "kill": signal.SIGKILL,
    "term": signal.SIGTERM,
    "int": signal.SIGINT,
    "stop": signal.SIGSTOP,
}


def hit(name: str) -> None:
    """Die by SIGKILL here (or get the asked signal) if the environment asks for this point and
    this occurrence."""
    wanted = os.environ.get("DBARCHIVE_FAILPOINT")
    if not wanted:
        return
    point, _, rest = wanted.partition(":")
    if point != name:
        return
    nth, _, action = rest.partition(":")
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == int(nth or 1):
        os.kill(os.getpid(), _SIGNALS[action or "kill"])


def hits(name: str) -> int:
    """How many times this process reached the point while it was the one asked for (tests)."""
    return _hits.get(name, 0)

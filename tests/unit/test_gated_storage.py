"""GatedStorage: rows may stream before the destination is prepared; no byte passes the gate early."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbarchive.errors import StorageError
from dbarchive.storage.gated import HOLD_LIMIT, GatedStorage
from dbarchive.storage.local import LocalStorage


class _Gate:
    """A gate the test controls: ``is_ready`` says whether opening would wait."""

    def __init__(self, inner: LocalStorage, fail: bool = False) -> None:
        self.inner = inner
        self.is_ready = False
        self.fail = fail
        self.opened = 0
        self.files_when_opened: list[str] | None = None

    def ready(self) -> bool:
        return self.is_ready

    def open(self) -> None:
        if self.fail:
            raise StorageError("the destination is not usable")
        if self.files_when_opened is None:
            self.files_when_opened = _files(self.inner.root)
        self.opened += 1


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _gated(tmp_path: Path, **gate: bool) -> tuple[GatedStorage, _Gate, LocalStorage]:
    inner = LocalStorage(str(tmp_path))
    g = _Gate(inner, **gate)
    return GatedStorage(inner, g), g, inner


def test_writes_are_held_until_the_gate_is_ready(tmp_path: Path) -> None:
    """Before the gate is ready nothing reaches the inner storage, not even a temp file; the
    first write after it is ready opens the gate, then everything arrives in order."""
    storage, gate, inner = _gated(tmp_path)
    writer = storage.open_writer("t/part-0.csv")
    writer.write(b"a,1\n")
    writer.write(bytearray(b"b,2\n"))
    assert gate.opened == 0 and _files(tmp_path) == []
    gate.is_ready = True
    writer.write(b"c,3\n")
    assert gate.opened == 1 and gate.files_when_opened == []
    stored = writer.commit()
    assert inner.get_bytes("t/part-0.csv") == b"a,1\nb,2\nc,3\n"
    assert stored.size == 12


def test_a_held_buffer_reused_by_the_caller_is_not_changed(tmp_path: Path) -> None:
    """The writer keeps a copy of what it holds: a caller reusing its buffer changes nothing."""
    storage, gate, inner = _gated(tmp_path)
    writer = storage.open_writer("k")
    buffer = bytearray(b"first")
    writer.write(buffer)
    buffer[:] = b"XXXXX"
    gate.is_ready = True
    writer.commit()
    assert inner.get_bytes("k") == b"first"


def test_holding_stops_at_the_limit_and_then_waits_for_the_gate(tmp_path: Path) -> None:
    """Memory is bounded: past HOLD_LIMIT the writer opens the gate (waiting) instead of holding."""
    storage, gate, inner = _gated(tmp_path)
    writer = storage.open_writer("big")
    block = b"x" * (1024 * 1024)
    for _ in range(HOLD_LIMIT // len(block)):
        writer.write(block)
    assert gate.opened == 0
    writer.write(b"y")
    assert gate.opened == 1
    writer.commit()
    assert inner.stat("big") is not None
    assert inner.get_bytes("big") == block * (HOLD_LIMIT // len(block)) + b"y"


def test_commit_opens_the_gate_for_a_small_object(tmp_path: Path) -> None:
    """An object smaller than the limit, never past a ready gate, is passed on at commit."""
    storage, gate, inner = _gated(tmp_path)
    writer = storage.open_writer("small")
    writer.write(b"tiny")
    writer.commit()
    assert gate.opened == 1 and inner.get_bytes("small") == b"tiny"


def test_a_writer_opened_when_ready_goes_straight_through(tmp_path: Path) -> None:
    """Once the gate is ready, writers are the inner storage's own (no holding)."""
    storage, gate, inner = _gated(tmp_path)
    gate.is_ready = True
    writer = storage.open_writer("direct")
    assert gate.opened == 1
    writer.write(b"now")
    assert len(_files(tmp_path)) == 1  # the inner writer's temp file exists at once
    writer.commit()
    assert inner.get_bytes("direct") == b"now"


def test_abort_before_the_gate_leaves_nothing_and_never_opens_it(tmp_path: Path) -> None:
    """An export that fails while its writes are held aborts without touching storage at all."""
    storage, gate, _ = _gated(tmp_path)
    writer = storage.open_writer("k")
    writer.write(b"rows")
    writer.abort()
    assert gate.opened == 0 and _files(tmp_path) == []


def test_a_gate_that_refuses_keeps_everything_out(tmp_path: Path) -> None:
    """If opening the gate fails (e.g. S3 unreachable), its error is raised and nothing is written."""
    storage, _, _ = _gated(tmp_path, fail=True)
    writer = storage.open_writer("k")
    writer.write(b"rows")
    with pytest.raises(StorageError, match="not usable"):
        writer.commit()
    writer.abort()
    with pytest.raises(StorageError, match="not usable"):
        storage.put_bytes("manifest.json", b"{}")
    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.put_bytes("k", b"x"),
        lambda s: s.get_bytes("k"),
        lambda s: s.stat("k"),
        lambda s: list(s.list_objects("")),
        lambda s: s.delete_keys(["k"]),
        lambda s: s.abort_incomplete(""),
        lambda s: s.check(),
    ],
)
def test_every_other_operation_opens_the_gate_first(tmp_path: Path, call: object) -> None:
    """Reads and changes alike pass the gate first: nothing reaches the storage out of order."""
    storage, gate, _ = _gated(tmp_path)
    call(storage)  # type: ignore[operator]
    assert gate.opened == 1

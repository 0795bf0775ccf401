"""Aurora's half of ``SELECT … INTO OUTFILE S3``, played by MariaDB and the suite's S3 server.

Nothing here is Aurora: **the statement's own SELECT** (``OutfileStatement.local_sql``) runs in
dbarchive's session on MariaDB with ``INTO OUTFILE '<server-local path>'`` and the same field
and line options; the file is then cut where Aurora cuts (a new part once a part passes
``roll_bytes``, never inside a row), each part gets the header line (what ``FORMAT CSV HEADER``
is assumed to write), the parts go to S3 as ``<prefix>.part_NNNNN`` and Aurora's manifest
``<prefix>.manifest`` (``{"entries": [{"url": …}]}``) goes last. What is emulated, not tested:
Aurora's own FORMAT CSV / HEADER behaviour and its roll size.

Use it as ``ctx.outfile_runner = EmulatedAurora(...)``, or in another process (CLI, Airflow) with
``DBARCHIVE_OUTFILE_RUNNER=tests.integration.aurora_emulation:runner`` and the folder in
``DBARCHIVE_TEST_OUTFILE_DIR``. The fixtures give a folder the server may write into: the
shared server's if its ``secure_file_priv`` allows, else a private ``mariadbd`` started with
``--secure-file-priv`` set to it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import MySQLdb
import pytest

from dbarchive.context import Context
from dbarchive.sources.mysql import MySqlSource
from dbarchive.storage import Storage
from dbarchive.strategies.aurora.statement import OutfileStatement
from tests.integration import replication as servers
from tests.integration.mysql_fixtures import ROOT_URL, MySqlSchema

OUTFILE_DIR_ENV = "DBARCHIVE_TEST_OUTFILE_DIR"
ROLL_ENV = "DBARCHIVE_TEST_OUTFILE_ROLL"
AURORA_ROLL = 6 * 1000**3  # Aurora's default file size threshold, about 6 GB


def split_rows(data: bytes, roll_bytes: int) -> list[bytes]:
    """Cut archive CSV into parts of at least ``roll_bytes`` (the last may be smaller), only at
    the ``\\n`` that ends a row: one outside quotes (independent of dbarchive's parser)."""
    parts, start, row_start, quotes = [], 0, 0, 0
    while (nl := data.find(b"\n", row_start)) >= 0:
        quotes += data.count(b'"', row_start, nl)
        row_start = nl + 1
        if quotes % 2 == 0 and row_start - start >= roll_bytes:
            parts.append(data[start:row_start])
            start = row_start
    if start < len(data):
        parts.append(data[start:])
    return parts


class EmulatedAurora:
    """An OutfileRunner that plays Aurora's part on MariaDB (see the module docstring)."""

    def __init__(
        self,
        storage: Storage,
        destination_url: str,
        outdir: Path,
        roll_bytes: int = AURORA_ROLL,
        mangle: Callable[[int, bytes], bytes] | None = None,
    ) -> None:
        self.storage, self.outdir, self.roll = storage, outdir, roll_bytes
        root = urlparse(destination_url).path.strip("/")
        self.root = f"{root}/" if root else ""
        self.mangle = mangle  # (part number, bytes) -> what gets stored: a misbehaving Aurora
        self.list_reversed = False  # a manifest listing the parts last to first
        self.statements: list[str] = []

    def require_support(self, source: MySqlSource) -> None:
        return None  # the emulation runs on MariaDB by design

    def run(self, source: MySqlSource, statement: OutfileStatement) -> int:
        path = self.outdir / f"{uuid.uuid4().hex}.csv"
        sql, params = statement.local_sql(str(path))
        self.statements.append(statement.aurora_sql()[0])
        rows = source.execute(sql, params, "emulating INTO OUTFILE S3")
        try:
            data = path.read_bytes()
        finally:
            path.unlink(missing_ok=True)
        urls = []
        for number, part in enumerate(split_rows(data, self.roll) or [b""]):
            body = statement.header + part
            if self.mangle is not None:
                body = self.mangle(number, body)
            key = f"{statement.target.key}.part_{number:05d}"
            self.storage.put_bytes(key[len(self.root) :], body)
            urls.append(statement.target.uri + f".part_{number:05d}")
        if self.list_reversed:
            urls.reverse()
        manifest = {"entries": [{"url": url} for url in urls]}
        self.storage.put_bytes(
            f"{statement.target.key}.manifest"[len(self.root) :], json.dumps(manifest).encode()
        )
        return rows


def runner(ctx: Context) -> EmulatedAurora:
    """The ``DBARCHIVE_OUTFILE_RUNNER`` factory for processes the test does not hold."""
    return EmulatedAurora(
        ctx.storage,
        ctx.job.destination.url,
        Path(os.environ[OUTFILE_DIR_ENV]),
        int(os.environ.get(ROLL_ENV, AURORA_ROLL)),
    )


# --- a server that may write files into a folder this process reads ---


@dataclass(frozen=True)
class OutfileServer:
    """A MariaDB whose ``SELECT … INTO OUTFILE`` lands in ``outdir``; ``root_url`` has no db."""

    root_url: str
    outdir: Path
    private: bool


def _writable_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="dbarchive-outfile-"))
    folder.chmod(0o777)  # the server writes as its own user
    return folder


def _shared_server_writes_to(folder: Path) -> bool:
    """Whether the shared server's secure_file_priv lets it write into ``folder`` (probed)."""
    args = {"host": "127.0.0.1", "port": 3306, "user": "root"}
    parsed = urlparse(ROOT_URL)
    args.update(host=parsed.hostname or "127.0.0.1", port=parsed.port or 3306)
    conn = MySQLdb.connect(**args, autocommit=True)
    probe = folder / "probe.txt"
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 INTO OUTFILE %s", (str(probe),))
    except MySQLdb.Error:
        return False
    finally:
        conn.close()
    found = probe.exists()
    probe.unlink(missing_ok=True)
    return found


@pytest.fixture(scope="session")
def outfile_server() -> Iterator[OutfileServer]:
    """The shared server if it may write into a temp folder; else a private mariadbd started with
    ``--secure-file-priv`` on that folder (``DBARCHIVE_TEST_PRIVATE_OUTFILE=1`` forces it)."""
    folder = _writable_folder()
    forced = os.environ.get("DBARCHIVE_TEST_PRIVATE_OUTFILE") == "1"
    try:
        if not forced and _shared_server_writes_to(folder):
            yield OutfileServer(ROOT_URL, folder, private=False)
            return
        yield from _private_server(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _private_server(folder: Path) -> Iterator[OutfileServer]:
    if servers.MARIADBD is None or servers.INSTALL_DB is None:
        pytest.fail("mariadbd / mariadb-install-db not found: apt-get install mariadb-server")
    workdir = Path(tempfile.mkdtemp(prefix="dbarchive-outfile-server-"))
    server = None
    try:
        servers._install(workdir / "data", workdir)
        for _ in range(3):
            port = servers._free_port(set())
            server = servers._start("outfile", workdir, workdir / "data", port,
                                    [f"--secure-file-priv={folder}"])  # fmt: skip
            if servers._wait_ready(server):
                break
        else:
            pytest.fail("the private mariadbd found no free port")
        yield OutfileServer(f"mysql://root@127.0.0.1:{server.port}", folder, private=True)
    finally:
        if server is not None:
            servers._stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class OutfileSchema(MySqlSchema):
    """A throwaway database on the outfile server."""

    root_url: str = ROOT_URL

    @property
    def url(self) -> str:
        return f"{self.root_url}/{self.name}"


@pytest.fixture
def outfile_schema(outfile_server: OutfileServer) -> Iterator[OutfileSchema]:
    """A fresh database on the outfile server for one test; dropped afterwards."""
    parsed = urlparse(outfile_server.root_url)
    args: dict[str, Any] = {"host": parsed.hostname, "port": parsed.port or 3306, "user": "root"}
    name = f"dbat_{uuid.uuid4().hex[:12]}"
    admin = MySQLdb.connect(**args, charset="utf8mb4", autocommit=True)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn = MySQLdb.connect(**args, database=name, charset="utf8mb4", autocommit=True)
    try:
        yield OutfileSchema(name, conn, outfile_server.root_url)
    finally:
        conn.close()
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()

"""Opening sessions to MySQL: the only module that calls ``MySQLdb.connect`` or starts a C reader.

Every session — the source's, the C reader's, the lock session, the replicas the throttle
watches, the demo's — is opened here, so each gets the login of ``SourceSettings.connect_args``
and the TLS options of :func:`dbarchive.sources.tls.tls_policy`, and each is checked to be
encrypted when its ``ssl_mode`` demands it (``tests/unit/test_connection_sites.py`` fails if code
elsewhere opens a session itself).

Errors are the driver's own (``MySQLdb.Error`` / ``_mysqlread.Error`` with the MySQL error
number), so callers keep one translation (``sources.mysql.translate_error``); a session that is
not encrypted when it must be is closed and reported as the client library reports TLS failures
(error 2026).
"""

from __future__ import annotations

import os
from typing import Any

import MySQLdb

from dbarchive.config import SourceSettings
from dbarchive.runtime.native import load_extension
from dbarchive.sources import tls

_reader_module = load_extension("_mysqlread")


def open_session(settings: SourceSettings, database: bool = True, **options: Any) -> Any:
    """A driver (mysqlclient) session to ``settings``' server, TLS as configured.

    ``options`` go to ``MySQLdb.connect`` as they are (charset, autocommit, conv…);
    ``database=False`` connects without selecting the database (to create it).
    """
    policy = tls.tls_policy(settings)
    args = settings.connect_args()
    if not database:
        args.pop("database")
    if settings.auth == "iam" and tls.client_is_mysqls():
        # MySQL's client library sends a clear-text password (the IAM token, which RDS asks for
        # through mysql_clear_password) only when allowed; auth = "iam" is always inside
        # VERIFY_IDENTITY TLS. MariaDB's library needs no such switch. (Not run here: this
        # machine has MariaDB's library.)
        os.environ["LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN"] = "1"
    conn = MySQLdb.connect(**args, **tls.driver_options(policy), **options)
    refusal = tls.require_encrypted(policy, tls.is_encrypted(conn.client_flag))
    if refusal:
        conn.close()
        raise MySQLdb.OperationalError(tls.TLS_ERROR, refusal)
    return conn


def reader_available() -> bool:
    """Whether the C reader (``dbarchive._mysqlread``) was built and is not switched off."""
    return _reader_module is not None


def open_reader(settings: SourceSettings, init_command: str) -> Any:
    """A C reader session (``_mysqlread.Reader``), TLS as configured; the reader itself refuses
    an unencrypted session when the mode demands TLS."""
    assert _reader_module is not None, "check reader_available() first"
    args = settings.connect_args()
    policy = tls.tls_policy(settings)
    return _reader_module.Reader(
        host=args.get("host"),
        user=args.get("user"),
        password=args.get("password"),
        database=args.get("database"),
        port=int(args.get("port") or 0),
        unix_socket=args.get("unix_socket"),
        connect_timeout=int(args.get("connect_timeout") or 10),
        init_command=init_command,
        cleartext=settings.auth == "iam",
        **tls.reader_options(policy),
    )

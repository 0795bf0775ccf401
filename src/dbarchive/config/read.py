"""``[source] read_url`` and what goes with it: the read endpoint the export and the verification
read from (a replica, an Aurora reader endpoint), the heartbeat table that proves it is recent
enough, and how long to wait for it.

The read endpoint logs in and speaks TLS like the primary unless ``[source.read]`` says otherwise
(its fields are those of ``[source]``); ``SourceSettings.read_settings`` merges the two.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from urllib.parse import quote, unquote, urlparse

from pydantic import Field

from dbarchive.config.base import Frozen

DEFAULT_HEARTBEAT_TABLE = "dbarchive_heartbeat"
DEFAULT_READ_LAG_WAIT = dt.timedelta(minutes=5)
MAX_READ_LAG_WAIT = dt.timedelta(days=1)


class ReadEndpointOverrides(Frozen):
    """``[source.read]``: the read endpoint's own login and TLS, where they are not the primary's
    (e.g. another CA bundle, or IAM on the reader only). Unset fields are the primary's."""

    password_env: str | None = Field(default=None, min_length=1)
    ssl_mode: str | None = None  # checked as [source] ssl_mode once merged
    ssl_ca: str | None = Field(default=None, min_length=1)
    ssl_cert: str | None = Field(default=None, min_length=1, repr=False)
    ssl_key: str | None = Field(default=None, min_length=1, repr=False)
    auth: Literal["password", "iam"] | None = None
    region: str | None = Field(default=None, min_length=1)


def check_read_url(url: str | None, database: str) -> str | None:
    """``read_url`` as given, or with the primary's database when it names none; refuses another
    database (the tables are read under the names the primary gives them)."""
    if url is None:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in {"mysql", "mariadb"} or not (
        parsed.hostname or "unix_socket=" in (parsed.query or "")
    ):
        raise ValueError(
            "read_url must look like mysql://user@replica-host:3306/database (a replica or an "
            "Aurora reader endpoint)"
        )
    named = unquote(parsed.path.strip("/"))
    if not named:
        return parsed._replace(path="/" + quote(database, safe="")).geturl()
    if named != database:
        raise ValueError(
            f"read_url names the database {named!r}, url {database!r}: the read endpoint must "
            "hold the same database (a replica of it); name the same one, or none"
        )
    return url


def split_table_name(value: str) -> tuple[str | None, str]:
    """``heartbeat_table``: ``"name"`` (in the source database) or ``"schema.name"``."""
    schema, dot, name = value.partition(".")
    if not dot:
        schema, name = "", value
    if (dot and not schema) or not name or "." in name or len(name) > 64 or len(schema) > 64:
        raise ValueError(
            f"heartbeat_table {value!r} must be a table name, or schema.table (names without "
            "dots, up to 64 characters each)"
        )
    return schema or None, name

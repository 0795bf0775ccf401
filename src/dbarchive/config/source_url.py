"""The text of a ``[source] url``: the checks its login and query must pass, and the URL shown
without its password. Read by hand where urlparse would be fooled by a password holding an
unencoded ``/`` or ``@``."""

from __future__ import annotations

import re

# Options a [source] url may carry in its query; TLS has its own [source] keys.
_URL_OPTIONS = frozenset({"unix_socket"})


def require_encoded_login(url: str) -> None:
    """Refuse a user or password holding ``@`` or ``/`` unencoded: the URL would be read with
    another host, port or database (and its error would show part of the password)."""
    authority = url.partition("://")[2].split("?", 1)[0]
    userinfo, at, _rest = authority.rpartition("@")
    if at and ("@" in userinfo or "/" in userinfo or re.search(r"%(?![0-9A-Fa-f]{2})", userinfo)):
        raise ValueError(
            "its user or password holds '@', '/' or '%' unencoded: percent-encode them in the URL "
            "(@ → %40, / → %2F, : → %3A, % → %25), or give the password in "
            "$DBARCHIVE_MYSQL_PASSWORD (the variable [source] password_env names)"
        )


def require_known_options(query: str) -> None:
    """Refuse URL options dbarchive does not apply, rather than drop them: ``?ssl_mode=…``
    ignored would connect without the TLS checks it asks for."""
    names = sorted({p.split("=", 1)[0] for p in query.split("&") if p} - _URL_OPTIONS)
    if names:
        raise ValueError(
            f"its query has {', '.join(names)}, which dbarchive does not read from the URL; "
            "set TLS as [source] keys (ssl_mode, ssl_ca, ssl_cert, ssl_key); the URL takes "
            "only ?unix_socket=/path"
        )


def without_password(url: str) -> str:
    """``url`` with its password left out and all else kept (the query, e.g. ``unix_socket``):
    read back, it takes the password from the environment like a URL written without one."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url if sep else "<not a URL>"
    return f"{scheme}://{userinfo.split(':', 1)[0]}@{host}{slash}{path}"


def redacted(url: str) -> str:
    """``url`` without its password (and its query, which may hold options), for logs,
    messages and reprs. Read by hand, not by urlparse: a password holding an unencoded ``/``
    or ``@`` would be taken for the host."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<not a URL>"
    authority_and_path = rest.split("?", 1)[0].split("#", 1)[0]
    userinfo, at, tail = authority_and_path.rpartition("@")
    if not at:
        return f"{scheme}://{tail}"
    user = userinfo.split(":", 1)[0].split("/", 1)[0]
    return f"{scheme}://{user}@{tail}"

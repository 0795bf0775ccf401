"""The text of a ``[source] url``: the checks its login and query must pass, and the URL shown
without its password. Read by hand where urlparse would be fooled by a password holding an
unencoded ``/`` or ``@``."""

from __future__ import annotations

import re

# Options a [source] url may carry in its query; TLS has its own [source] keys.
_URL_OPTIONS = frozenset({"unix_socket"})


def require_encoded_login(url: str) -> None:
    """Refuse a user or password holding ``@``, ``/``, ``?``, ``#`` or a bare ``%`` unencoded: the
    URL would be read with another host, port, database or query, and its error would show part
    of the password. A login is never followed by a ``?`` or ``#`` before its path."""
    rest = url.partition("://")[2]
    before_query = rest.split("?", 1)[0].split("#", 1)[0]
    userinfo, at, _host = before_query.rpartition("@")
    if (
        (at and (re.search(r"[@/]", userinfo) or re.search(r"%(?![0-9A-Fa-f]{2})", userinfo)))
        or ("@" in rest and len(before_query) < len(rest.split("/", 1)[0]))  # '?', '#' in it
    ):
        raise ValueError(
            "its user or password holds '@', '/', '?', '#' or '%' unencoded: percent-encode "
            "them in the URL (@ → %40, / → %2F, ? → %3F, # → %23, : → %3A, % → %25), or "
            "give the password in $DBARCHIVE_MYSQL_PASSWORD (the variable [source] "
            "password_env names)"
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
    messages and reprs. Read by hand, not by urlparse: a password holding an unencoded ``/``,
    ``@``, ``?`` or ``#`` would be taken for the host, the path or the query."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<not a URL>"
    before_path = rest.split("/", 1)[0]
    before_query = rest.split("?", 1)[0].split("#", 1)[0]
    # A '?' or '#' before the path is in the login; else the login ends at the last '@' before
    # the query (a '/' or '@' in it).
    in_login = len(before_query) < len(before_path)
    head = before_path if in_login else before_query
    if "@" not in head:
        if in_login and "@" in rest:
            return f"{scheme}://{re.split(r'[:/?#@]', rest, maxsplit=1)[0]}@(the rest hidden)"
        return f"{scheme}://{before_query}"
    userinfo = head.rpartition("@")[0]
    tail = rest[len(userinfo) + 1 :].split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}://{re.split(r'[:/?#]', userinfo, maxsplit=1)[0]}@{tail}"

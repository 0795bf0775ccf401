"""Every MySQL session dbarchive opens goes through ``dbarchive.sources.connection``, which applies
the TLS settings of ``tls.tls_policy``: a scan of the package's syntax trees finds any other place
that opens one (the driver's ``connect``, the C reader's ``Reader``, or loading either module)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "src" / "dbarchive"
THE_ONE_MODULE = PACKAGE / "sources" / "connection.py"
_DRIVER_OPENERS = {"connect", "Connect", "Connection", "connection"}


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a name or attribute chain, '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def session_openers(source: str) -> list[str]:
    """Where ``source`` opens a MySQL session or loads a module that does: ``line: code``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        what = None
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            parts = name.split(".")
            driver = parts[0] in {"MySQLdb", "_mysql"} and parts[-1] in _DRIVER_OPENERS
            reader = parts[-1] == "Reader" and len(parts) > 1  # _mysqlread.Reader, _module.Reader
            if driver or reader:
                what = name
            elif any(
                isinstance(a, ast.Constant) and "_mysqlread" in str(a.value) for a in node.args
            ):
                what = f"{name}(… _mysqlread …)"  # load_extension / import_module
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = {a.name for a in node.names}
            if node.module.startswith("MySQLdb") and names & _DRIVER_OPENERS:
                what = f"from {node.module} import {', '.join(sorted(names))}"
            elif "_mysqlread" in node.module or "_mysqlread" in names:
                what = f"from {node.module} import …"
        elif isinstance(node, ast.Import) and any("_mysqlread" in a.name for a in node.names):
            what = "import …_mysqlread"
        if what:
            found.append(f"{getattr(node, 'lineno', 0)}: {what}")
    return found


def test_no_module_but_one_opens_a_mysql_session() -> None:
    """Only sources/connection.py calls MySQLdb.connect or starts a C reader."""
    offenders = {
        str(path.relative_to(PACKAGE)): sites
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != THE_ONE_MODULE and (sites := session_openers(path.read_text()))
    }
    assert offenders == {}, (
        "open MySQL sessions with dbarchive.sources.connection.open_session / open_reader, "
        f"which apply source.ssl_mode: {offenders}"
    )


def test_the_one_module_applies_the_tls_policy_wherever_it_opens_a_session() -> None:
    """Each function of connection.py that opens a session also calls tls.tls_policy."""
    tree = ast.parse(THE_ONE_MODULE.read_text())
    openers = [
        fn
        for fn in tree.body
        if isinstance(fn, ast.FunctionDef) and session_openers(ast.unparse(fn))
    ]
    assert {fn.name for fn in openers} == {"open_session", "open_reader"}
    for fn in openers:
        calls = {_dotted(n.func) for n in ast.walk(fn) if isinstance(n, ast.Call)}
        assert "tls.tls_policy" in calls, fn.name


@pytest.mark.parametrize(
    "code",
    [
        "import MySQLdb\nconn = MySQLdb.connect(**settings.connect_args())",
        "MySQLdb.connections.Connection(host='db')",
        "from MySQLdb import connect\nconnect(host='db')",
        "reader = _module.Reader(**args)",
        "from dbarchive import _mysqlread\n",
        "load_extension('_mysqlread')",
        "importlib.import_module('dbarchive._mysqlread')",
    ],
)
def test_the_scan_finds_each_way_of_opening_a_session(code: str) -> None:
    """The scan is not blind: each way of opening a session outside the module is found."""
    assert session_openers(code)


def test_the_scan_leaves_other_calls_alone() -> None:
    """Reading errors or cursors of the driver, or io readers, is not opening a session."""
    code = (
        "import io, MySQLdb\n"
        "io.BufferedReader(raw)\n"
        "except_type = MySQLdb.OperationalError\n"
        "conn.cursor()\n"
        "source.connect()\n"
    )
    assert session_openers(code) == []

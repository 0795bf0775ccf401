"""The package's shape, read from its imports (every ``import``, also inside functions).

- No import cycle between modules (a module-level or a deferred import alike: a deferred import
  hides a cycle from Python, not from the reader).
- The core never imports the shells (``cli``, ``airflow``) nor a concrete export strategy
  (``strategies.aurora``): it reaches strategies through their registry.
- Every module stays under ``MAX_LINES``.

Run ``python -m tests.unit.test_import_contract`` to print the graph's summary.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "dbarchive"
MAX_LINES = 400
SHELLS = ("dbarchive.cli", "dbarchive.airflow", "dbarchive.__main__")
STRATEGIES = ("dbarchive.strategies.aurora",)
# Who may import a concrete strategy: the registry, and the strategy itself.
STRATEGY_IMPORTERS = ("dbarchive.strategies",)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(node: ast.AST, here: str, is_package: bool, known: set[str]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield from _resolve(alias.name, known)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = here.split(".")
            anchor = anchor if is_package else anchor[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:  # ``from pkg import module`` names a module, or a name in pkg
            yield from _resolve(f"{base}.{alias.name}", known) or _resolve(base, known)


def _resolve(name: str, known: set[str]) -> list[str]:
    while name:
        if name in known:
            return [name]
        name = name.rpartition(".")[0]
    return []


def graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (itself and non-package modules left out)."""
    found = modules()
    known = set(found)
    edges: dict[str, set[str]] = {}
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(tree):
            if _type_checking_only(node):
                continue
            targets.update(_targets(node, name, is_package, known))
        edges[name] = targets - {name}
    return edges


def _type_checking_only(node: ast.AST) -> bool:
    return False  # imports under ``if TYPE_CHECKING`` still show a dependency: kept


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _inside(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def forbidden(edges: dict[str, set[str]]) -> list[str]:
    """Core → shell, and anything but the registry → a concrete strategy."""
    bad = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            if _inside(target, SHELLS) and not _inside(source, SHELLS):
                bad.append(f"{source} -> {target} (the core imports a shell)")
            if (
                _inside(target, STRATEGIES)
                and not _inside(source, STRATEGIES)
                and source not in STRATEGY_IMPORTERS
                and not _inside(source, SHELLS)
            ):
                bad.append(f"{source} -> {target} (a concrete strategy outside its registry)")
    return bad


# The core's entry points a shell reaches only through ``dbarchive.api``, so the CLI, Airflow and
# a user's code stop, wire and validate the same way.
ENTRY_POINTS = {
    "dbarchive.pipeline": {"export", "export_day", "export_day_as_configured", "plan_day"},
    "dbarchive.steps.verify": {"verify_day"},
    "dbarchive.jobs.restore": {"restore_day"},
    "dbarchive.jobs.status": {"table_status"},
    "dbarchive.jobs.daily": {"run", "run_table", "purge_table"},
    "dbarchive.build": {"build_throttle"},
    "dbarchive.jobs.audit": {"audit_table"},
}


def entry_points_bypassing_the_api() -> list[str]:
    """``from <core module> import <entry point>`` in a shell module."""
    bad = []
    for name, path in modules().items():
        if not _inside(name, SHELLS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in ENTRY_POINTS:
                hits = {a.name for a in node.names} & ENTRY_POINTS[node.module]
                bad += [f"{name} imports {node.module}.{hit}" for hit in sorted(hits)]
    return bad


def too_long() -> list[str]:
    return [
        f"{name}: {n} lines"
        for name, path in modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]


def test_no_import_cycles() -> None:
    """No module imports, directly or through others, a module that imports it."""
    assert cycles(graph()) == []


def test_the_core_imports_no_shell_and_no_concrete_strategy() -> None:
    """cli/airflow sit on top; a strategy is reached through strategies' registry only."""
    assert forbidden(graph()) == []


def test_the_shells_call_the_core_through_the_public_api() -> None:
    """cli/ and airflow/ call dbarchive.api (export, verify, run, purge, restore, status, plan,
    throttle_for), never the functions beneath it."""
    assert entry_points_bypassing_the_api() == []


# Who may hold SQL text: the source (the one place that talks to MySQL), and the modules whose
# subject is SQL itself. A step, a job or a shell asks the source by intent instead.
SPEAKS_SQL = (
    "dbarchive.sources",  # MySqlSource and its pure SQL text modules
    "dbarchive.checks",  # the preflight probes grants and server settings with real statements
    "dbarchive.strategies.aurora",  # SELECT … INTO OUTFILE S3 and its stored procedures
    "dbarchive.ddl",  # DDL for the lake's engines (Athena, Spark, DuckDB), not for MySQL
    "dbarchive.jobs.demo",  # creates and fills its own demo table
    "dbarchive.checksum",  # the row digest, defined once in SQL and in Python side by side
)
# Text that reads like SQL but is no statement dbarchive runs: (module, how it starts).
NOT_STATEMENTS = {
    (
        "dbarchive.cli.commands",
        "  SELECT event_type",
    ): "a DuckDB query the demo prints for the user",
}
_STATEMENT = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|ALTER|CREATE|DROP|TRUNCATE|RENAME|LOCK|UNLOCK"
    r"|SET|SHOW|EXPLAIN|GRANT|KILL)\s"
)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def sql_texts(name: str, path: Path) -> Iterator[str]:
    """``module:line: text`` of each string constant (or f-string) that starts a SQL statement,
    docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)  # its pieces are judged as one string
            first = node.values[0] if node.values else None
            text = first.value if isinstance(first, ast.Constant) else None
        elif isinstance(node, ast.Constant) and id(node) not in skip:
            text = node.value if isinstance(node.value, str) else None
        if text is None or not _STATEMENT.match(text):
            continue
        if not any(name == m and text.startswith(start) for m, start in NOT_STATEMENTS):
            yield f"{name}:{node.lineno}: {text.strip()[:60]!r}"


def sql_outside_the_source() -> list[str]:
    return [
        hit
        for name, path in modules().items()
        if not _inside(name, SPEAKS_SQL)
        for hit in sql_texts(name, path)
    ]


def test_no_sql_outside_the_modules_that_speak_it() -> None:
    """Steps, jobs, the pipeline and the shells hold no SQL statement: they call intent-named
    methods of the ``Source`` (``sources/protocol.py``), and its SQL lives in ``sources/``."""
    assert sql_outside_the_source() == []


def test_the_sql_check_sees_a_statement(tmp_path: Path) -> None:
    """The check can fail: a step with a statement in an f-string and one in a constant."""
    step = tmp_path / "step.py"
    step.write_text(
        '"""SELECT in a docstring is prose."""\n'
        'def f(t):\n    return f"DELETE FROM {t} WHERE 1", "  SELECT 1", "REPLACE", "SELECT"\n'
    )
    assert list(sql_texts("dbarchive.steps.step", step)) == [
        "dbarchive.steps.step:3: 'DELETE FROM'",
        "dbarchive.steps.step:3: 'SELECT 1'",
    ]


# The core: what may only use a source through ``sources.protocol.Source``.
SOURCE_USERS = (
    "dbarchive.steps",
    "dbarchive.jobs",
    "dbarchive.units",
    "dbarchive.pipeline",
    "dbarchive.context",
    "dbarchive.strategies.stream",
)


def source_protocol() -> set[str]:
    """The members ``Source`` lists (methods, properties and attributes)."""
    tree = ast.parse((PACKAGE / "sources" / "protocol.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Source")
    names = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    names |= {
        n.target.id
        for n in cls.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    return names


def source_calls() -> dict[str, set[str]]:
    """member -> the core modules that use it on a source (``ctx.source.x``, ``self.ctx.source.x``,
    or a local named ``source`` / ``src``)."""
    used: dict[str, set[str]] = {}
    for name, path in modules().items():
        if not _inside(name, SOURCE_USERS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            if (isinstance(owner, ast.Attribute) and owner.attr == "source") or (
                isinstance(owner, ast.Name) and owner.id in {"source", "src"}
            ):
                used.setdefault(node.attr, set()).add(name)
    return used


def test_the_core_uses_exactly_the_source_protocol() -> None:
    """Steps, jobs, work units and the pipeline use a source only through ``Source`` (so a new
    source implements that list and nothing else), and ``Source`` lists nothing they do not use.
    (mypy checks that ``MySqlSource`` implements it where steps take a ``Source``.)"""
    used = source_calls()
    outside = {
        member: sorted(users) for member, users in used.items() if member not in source_protocol()
    }
    assert outside == {}, "add these to sources/protocol.py, or call an intent-named method"
    assert sorted(source_protocol() - set(used)) == [], "no core module uses these any more"


def test_every_module_is_under_the_size_limit() -> None:
    """Split a module before it passes MAX_LINES (ARCHITECTURE.md)."""
    assert too_long() == []


def test_the_checker_sees_a_cycle_and_a_forbidden_import() -> None:
    """The checks above can fail: a planted cycle and a core → cli edge are reported."""
    edges = {"dbarchive.a": {"dbarchive.b"}, "dbarchive.b": {"dbarchive.a", "dbarchive.cli.x"}}
    assert cycles(edges) == [["dbarchive.a", "dbarchive.b"]]
    assert forbidden(edges) == ["dbarchive.b -> dbarchive.cli.x (the core imports a shell)"]


if __name__ == "__main__":
    g = graph()
    print(f"{len(g)} modules, {sum(len(t) for t in g.values())} import edges")
    print("cycles:", cycles(g) or "none")
    print("forbidden:", forbidden(g) or "none")
    print("shells bypassing dbarchive.api:", entry_points_bypassing_the_api() or "none")
    print("over", MAX_LINES, "lines:", too_long() or "none")
    print("SQL outside the source:", sql_outside_the_source() or "none")

"""A frontier setting run again with one thing changed: its commands' environment, or a server
variable held for its duration. Lets a diagnostic compare "the same tool, one difference" in the
same run, interleaved with the others.

Spec: ``NAME=BASE:VAR=VALUE[;VAR=VALUE]``. A VAR starting with ``@@`` is a global server variable
(``@@innodb_purge_threads=1``), set just before the measured command and put back after it;
any other VAR goes into the command's environment (a diagnostic build can read it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import data
import frontier


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``env`` added to os.environ (measure.run passes it to every command), then put back."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def server_globals(values: dict[str, str]) -> Iterator[None]:
    """Global server variables set to ``values`` (names without ``@@``), then put back."""
    conn = data.connect()
    cur = conn.cursor()
    saved = {}
    try:
        for name, value in values.items():
            cur.execute(f"SELECT @@GLOBAL.{name}")
            saved[name] = cur.fetchone()[0]
            cur.execute(f"SET GLOBAL {name} = {value}")
        yield
    finally:
        for name, value in saved.items():
            cur.execute(f"SET GLOBAL {name} = %s", (value,))
        conn.close()


def parse(spec: str, settings: dict[str, frontier.Setting]) -> frontier.Setting:
    """The setting a ``NAME=BASE:VAR=VALUE[;…]`` spec describes (see the module docstring)."""
    name, rest = spec.split("=", 1)
    base, changes = rest.split(":", 1)
    pairs = dict(pair.split("=", 1) for pair in changes.split(";"))
    env = {k: v for k, v in pairs.items() if not k.startswith("@@")}
    server = {k[2:]: v for k, v in pairs.items() if k.startswith("@@")}
    setting = settings[base]

    def go(ctx: Any, state: Any) -> dict[str, Any]:
        with environment(env), server_globals(server):
            return setting.run(ctx, state)

    label = f"{setting.label}, " + ", ".join(f"{k}={v}" for k, v in pairs.items())
    return frontier.Setting(name, label, setting.kind, setting.tool, go, setting.prepare)

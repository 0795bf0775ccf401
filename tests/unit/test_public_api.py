"""The public API is explicit (a sorted, importable ``__all__``) and cheap to import."""

from __future__ import annotations

import gc
import subprocess
import sys

import dbarchive
import dbarchive.cli


def test_all_is_sorted_and_importable() -> None:
    """Every name in __all__ exists, and the list is sorted."""
    assert list(dbarchive.__all__) == sorted(dbarchive.__all__)
    for name in dbarchive.__all__:
        assert hasattr(dbarchive, name), name


def test_every_lazy_name_is_public() -> None:
    """The lazy table and __all__ name the same things: nothing importable is undocumented."""
    assert set(dbarchive._HOME) | {"__version__"} == set(dbarchive.__all__)


def test_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(dbarchive, "no_such_name")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    """`import dbarchive` (and the CLI's entry module) stay light, so the CLI can pause the
    collector before pydantic, click and botocore load."""
    for statement in ("import dbarchive", "import dbarchive.cli"):
        loaded = _modules_after(statement)
        assert not loaded & {"pydantic", "click", "botocore", "MySQLdb", "dbarchive.config"}, (
            statement
        )


def test_loading_the_commands_leaves_the_collector_running() -> None:
    """The pause around the imports ends: a long export must still collect its cycles."""
    assert gc.isenabled()
    try:
        cli = dbarchive.cli._load_commands()
        assert gc.isenabled()
    finally:
        gc.unfreeze()  # give the test process's objects back to the collector
    assert "export" in cli.commands
    assert dbarchive.cli.cli is cli


def test_every_function_of_the_api_module_is_public() -> None:
    """What dbarchive.api defines for callers is importable from the package root too."""
    import inspect

    import dbarchive.api as api

    defined = {
        name
        for name, value in vars(api).items()
        if inspect.isfunction(value) and value.__module__ == api.__name__ and name[0] != "_"
    }
    assert defined <= set(dbarchive.__all__), defined - set(dbarchive.__all__)

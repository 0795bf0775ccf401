"""The public API is explicit: a sorted, importable ``__all__``."""

from __future__ import annotations

import dbarchive


def test_all_is_sorted_and_importable() -> None:
    """Every name in __all__ exists, and the list is sorted."""
    assert list(dbarchive.__all__) == sorted(dbarchive.__all__)
    for name in dbarchive.__all__:
        assert hasattr(dbarchive, name), name

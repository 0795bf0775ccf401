"""Storage: the interface (``base.py``) and the registry that opens a backend by URL scheme.

A new backend is a module beside ``local.py`` and ``s3.py`` and one line in :func:`open_storage`;
the contract test suite (tests/integration/test_storage_contract.py) runs against it unchanged.
"""

from __future__ import annotations

from urllib.parse import urlparse

from dbarchive.errors import ConfigError
from dbarchive.storage.base import (
    ObjectWriter,
    Storage,
    StorageOptions,
    StoredObject,
    write_whole,
)


def open_storage(url: str, options: StorageOptions | None = None) -> Storage:
    """Open the backend for ``url``: ``s3://bucket/prefix``, ``file:///path`` or a plain path."""
    options = options or StorageOptions()
    scheme = urlparse(url).scheme.lower()
    if scheme == "s3":
        from dbarchive.storage.s3 import S3Storage

        return S3Storage(url, options)
    if scheme in {"", "file"}:
        from dbarchive.storage.local import LocalStorage

        return LocalStorage(url)
    raise ConfigError(
        f"destination {url!r}: unsupported scheme {scheme!r}; use s3://bucket/prefix or a local path"
    )


__all__ = [
    "ObjectWriter",
    "Storage",
    "StorageOptions",
    "StoredObject",
    "open_storage",
    "write_whole",
]

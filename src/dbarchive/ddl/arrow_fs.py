"""A read-only view of a pyarrow filesystem in which ``.csv.zst`` parts are named ``.csv.zstd``.

pyarrow.dataset picks a CSV file's codec from its extension and knows ``gz`` and the codec names
(``zstd``, ``bz2``, ``lz4``…), not ``zst``: it read our zstd parts as text and failed on the
compressed bytes. Presenting them as ``….csv.zstd`` lets Arrow decompress them itself, streamed
as it reads (no copy of a whole file in memory or on disk); each open goes to the real name.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pyarrow.fs as pafs

_REAL = ".csv.zst"
_SHOWN = ".csv.zstd"


def shown(path: str) -> str:
    """The name a dataset sees for a stored path."""
    return path + "d" if path.endswith(_REAL) else path


def real(path: str) -> str:
    """The stored path of a name the dataset asks for."""
    return path[:-1] if path.endswith(_SHOWN) else path


def _renamed(info: pafs.FileInfo) -> pafs.FileInfo:
    if info.type != pafs.FileType.File or not info.path.endswith(_REAL):
        return info
    return pafs.FileInfo(shown(info.path), info.type, mtime_ns=info.mtime_ns, size=info.size)


class ZstdNamesHandler(pafs.FileSystemHandler):
    """Reads through ``inner``; writes are refused (the archive is changed only by dbarchive)."""

    def __init__(self, inner: pafs.FileSystem) -> None:
        self._inner = inner

    def get_type_name(self) -> str:
        return "dbarchive-zstd-names+" + self._inner.type_name

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: str | list[str]) -> list[pafs.FileInfo]:
        wanted = [paths] if isinstance(paths, str) else paths
        return [_renamed(i) for i in self._inner.get_file_info([real(p) for p in wanted])]

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        inner = pafs.FileSelector(selector.base_dir, selector.allow_not_found, selector.recursive)
        return [_renamed(i) for i in self._inner.get_file_info(inner)]

    def open_input_stream(self, path: str) -> Any:
        return self._inner.open_input_stream(real(path), compression=None)

    def open_input_file(self, path: str) -> Any:
        return self._inner.open_input_file(real(path))

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise OSError("the archive's dataset view is read-only")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
    delete_file = move = copy_file = _read_only
    open_output_stream = open_append_stream = _read_only


def zstd_names(filesystem: pafs.FileSystem) -> pafs.FileSystem:
    """``filesystem`` with ``.csv.zst`` parts shown as ``.csv.zstd`` (see the module doc)."""
    return pafs.PyFileSystem(ZstdNamesHandler(filesystem))

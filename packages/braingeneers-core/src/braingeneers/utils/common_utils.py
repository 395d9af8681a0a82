"""Legacy ``braingeneers.utils.common_utils`` helpers, delegating to :mod:`braingeneers.core`.

=====================  ==============================================================
legacy                 replacement
=====================  ==============================================================
``get_basepath``       :func:`braingeneers.core.get_default_endpoint` and ``s3://`` URIs
``path_join``          ``posixpath.join`` on an ``s3://braingeneers/`` URI
``file_exists``        :func:`braingeneers.core.exists`
``file_size``          :func:`braingeneers.core.size`
``file_list``          :func:`braingeneers.core.list_objects`
``checkout``           :func:`braingeneers.core.update` (conditional write)
``map2``               :mod:`concurrent.futures`
=====================  ==============================================================

Differences from 0.3, all fixes: ``file_list`` pages past 1000 keys and gives
ISO-8601 UTC times for S3 and local files alike; ``map2`` binds each argument
tuple positionally (0.3 silently dropped values for parameters with defaults);
``checkout`` needs no Redis: it reads the object and, on check-in, writes only
if nobody changed it since (else :class:`~braingeneers.core.errors.ConflictError`),
and an exception inside the ``with`` block writes nothing.
"""

from __future__ import annotations

import inspect
import io
import os
import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.pool import Pool, ThreadPool
from typing import Any

from braingeneers.core.conditional import update
from braingeneers.core.endpoint import MIRROR_BUCKET, current_endpoint
from braingeneers.core.errors import ConflictError, NotFoundError
from braingeneers.core.storage import exists, list_objects, size
from braingeneers.core.storage import open as _open
from braingeneers.utils._deprecation import warn_moved

__all__ = ["checkout", "file_exists", "file_list", "file_size", "get_basepath", "map2", "path_join"]

warn_moved("braingeneers.utils.common_utils", "braingeneers.core")


def get_basepath() -> str:
    """Return ``s3://braingeneers/`` under an S3 endpoint, or the local endpoint directory."""
    where = current_endpoint()
    return f"s3://{MIRROR_BUCKET}/" if where.root is None else str(where.root) + os.sep


def path_join(*parts: str) -> str:
    """Join ``parts`` onto :func:`get_basepath`, e.g. ``path_join("ephys", uuid, "metadata.json")``."""
    return posixpath.join(get_basepath(), *parts)


def file_exists(filename: str) -> bool:
    """Return whether the file or object exists."""
    return exists(filename)


def file_size(filename: str) -> int:
    """Return the size in bytes of a file or object."""
    return size(filename)


def file_list(filepath: str) -> list[tuple[str, str, int]]:
    """Return ``(name, last_modified, size)`` of the files directly in ``filepath``, newest first."""
    try:
        infos = list_objects(filepath, recursive=False)
    except NotFoundError:
        return []
    rows = [(posixpath.basename(i.uri.rstrip("/")), i.modified.isoformat(), i.size) for i in infos]
    return sorted(rows, key=lambda row: row[1], reverse=True)


def _call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return func(*args, **kwargs)


def map2(  # noqa: PLR0917 - the legacy signature
    func: Callable[..., Any],
    args: Iterable[Any] | None = None,
    kwargs: Sequence[dict[str, Any]] | None = None,
    fixed_values: dict[str, Any] | None = None,
    parallelism: bool | int = True,
    use_multithreading: bool = False,
) -> list[Any]:
    """Call ``func`` once per item of ``args`` (and/or ``kwargs``) and return the results in order.

    Parameters
    ----------
    func
        The function. Under a process pool it must be picklable (a module-level function).
    args
        One item per call: a tuple of positional arguments, or a single value.
    kwargs
        One dict of keyword arguments per call (same length as ``args`` when both are given).
    fixed_values
        Keyword arguments passed to every call.
    parallelism
        ``True``: a pool of ``os.cpu_count()`` workers; ``False`` or ``1``: run in this
        process (easy to debug); an integer: that many workers.
    use_multithreading
        Use threads instead of processes.
    """
    arg_list = [a if isinstance(a, tuple) else (a,) for a in (args or [])]
    kw_list = list(kwargs or [])
    if arg_list and kw_list and len(arg_list) != len(kw_list):
        raise ValueError(f"map2: {len(arg_list)} args but {len(kw_list)} kwargs; give one of each per call")
    count = max(len(arg_list), len(kw_list))
    arg_list = arg_list or [()] * count
    kw_list = kw_list or [{}] * count
    fixed = dict(fixed_values or {})
    calls = [(func, a, {**fixed, **k}) for a, k in zip(arg_list, kw_list, strict=True)]
    for _, a, k in calls[:1]:
        inspect.signature(func).bind(*a, **k)  # fail early, in the caller, on a wrong call shape
    workers = (os.cpu_count() or 1) if parallelism is True else int(parallelism)
    if workers <= 1 or count <= 1:
        return [_call(*c) for c in calls]
    pool_type = ThreadPool if use_multithreading else Pool
    with pool_type(min(workers, count)) as pool:
        return pool.starmap(_call, calls)


class _CheckedOut:
    """The object handed out by :func:`checkout`."""

    def __init__(self, value: str | bytes) -> None:
        self._value = value
        self._file: io.StringIO | io.BytesIO | None = None
        self.new_value: str | bytes | None = None

    def get_value(self) -> str | bytes:
        """Return the content that was checked out."""
        return self._value

    def get_file(self) -> io.StringIO | io.BytesIO:
        """Return a file holding the content; whatever it holds at the end is checked in."""
        self._file = io.BytesIO(self._value) if isinstance(self._value, bytes) else io.StringIO(self._value)
        return self._file

    def checkin(self, value: str | bytes | io.IOBase) -> None:
        """Set the content to write back when the ``with`` block ends."""
        if isinstance(value, io.IOBase):
            value.seek(0)
            value = value.read()
        if not isinstance(value, type(self._value)):
            kind = "bytes" if isinstance(self._value, bytes) else "str"
            raise TypeError(f"checkin expects {kind}, like the checked-out content")
        self.new_value = value

    def final(self) -> str | bytes | None:
        if self.new_value is not None:
            return self.new_value
        if self._file is not None:
            return self._file.getvalue()
        return None


@contextmanager
def checkout(s3_file: str, isbinary: bool = False) -> Iterator[_CheckedOut]:
    """Check out an object for editing; write it back at the end only if nobody changed it meanwhile.

    Raises
    ------
    ~braingeneers.core.errors.ConflictError
        Another writer changed the object while it was checked out.
    """
    with _open(s3_file, "rb") as handle:
        original: bytes = handle.read()
    value: str | bytes = original if isbinary else original.decode()
    obj = _CheckedOut(value)
    yield obj
    final = obj.final()
    if final is None:
        return
    data = final if isinstance(final, bytes) else final.encode()

    def replace(current: bytes | None) -> bytes:
        if current != original:
            raise ConflictError(f"{s3_file} changed while it was checked out; check it out again")
        return data

    update(s3_file, replace, attempts=1)

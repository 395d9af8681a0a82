"""Finding a batch's raw files for the metadata generators of the flat binary formats."""

from __future__ import annotations

import os
from collections.abc import Sequence

from braingeneers.core.errors import FormatError

__all__ = ["batch_folder", "find_files", "relative_path"]


def find_files(files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], suffix: str) -> list[str]:
    """Return the given files, or the ``*<suffix>`` files under a folder or ``s3://`` prefix (recursively).

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        Nothing matches.
    """
    from braingeneers.core import storage

    if isinstance(files, (str, os.PathLike)):
        where = os.fspath(files)
        uris = [o.uri for o in storage.list_objects(where) if o.uri.endswith(suffix)]
    else:
        where = "the file list"
        uris = [os.fspath(f) for f in files]
    if not uris:
        raise FormatError(f"{where}: no {suffix} files found")
    return uris


def batch_folder(files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], uris: list[str]) -> str:
    """Return the batch folder: the parent of ``original/`` when the paths have one, else the folder given.

    For a list of files without ``original/`` in their path, the first file's folder.
    """
    if isinstance(files, (str, os.PathLike)):
        text = os.fspath(files).replace("\\", "/").rstrip("/") + "/"
    else:
        text = uris[0].replace("\\", "/").rsplit("/", 1)[0] + "/"
    marker = "/original/"
    if marker in text:
        return text[: text.index(marker)]
    return text.rstrip("/")


def relative_path(uri: str, folder: str) -> str:
    """Return ``uri`` relative to the batch ``folder`` (``original/...``), or ``uri`` itself outside it."""
    text = uri.replace("\\", "/")
    prefix = folder.rstrip("/") + "/"
    return text[len(prefix) :] if text.startswith(prefix) else uri

"""Finding a batch's raw files of one kind, for the Axion and Hengenlab metadata generators."""

from __future__ import annotations

import os
from collections.abc import Sequence

from braingeneers.core.errors import FormatError

__all__ = ["find_files"]


def find_files(
    files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], suffix: str
) -> tuple[list[str], str]:
    """Return the ``*<suffix>`` files and their batch folder.

    ``files`` is a list of files, or a local folder or ``s3://`` prefix searched
    recursively. The batch folder is the parent of ``original/`` (see
    :func:`braingeneers.data.generators.batch_folder`), else the folder given.

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        Nothing matches.
    """
    from braingeneers.data.generators import batch_folder, list_files

    if isinstance(files, (str, os.PathLike)):
        root = os.fspath(files)
        uris = [u for u in list_files(root) if u.endswith(suffix)]
        if not uris:
            raise FormatError(f"{root}: no {suffix} files found")
        return uris, batch_folder(root.rstrip("/") + "/_")
    uris = [os.fspath(f) for f in files]
    if not uris:
        raise FormatError(f"no {suffix} files given")
    return uris, batch_folder(uris[0])

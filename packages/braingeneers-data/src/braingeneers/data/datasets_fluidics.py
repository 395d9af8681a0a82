"""Fluidics experiment parameters (the legacy ``datasets_fluidics`` module, kept thin).

The fluidics pipeline writes one ``parameters.txt`` per batch. The legacy function read it
from the lab server's file system; this one reads it from a folder you choose (default the
same server path, or ``BRAINGENEERS_FLUIDICS_ROOT``), and says where it looked when it is
missing.
"""

from __future__ import annotations

import os
from pathlib import Path

from braingeneers.core.errors import NotFoundError

__all__ = ["DEFAULT_ROOT", "get_fluidics_data"]

#: Where the lab server keeps the fluidics outputs (the legacy location).
DEFAULT_ROOT = "/public/groups/braingeneers/Fluidics/derived"


def get_fluidics_data(uuid: str, root: str | os.PathLike[str] | None = None) -> str:
    """Return a fluidics batch's ``parameters.txt`` with its line breaks removed (legacy behaviour).

    Parameters
    ----------
    uuid
        The batch UUID (``YYYY-MM-DD-f-<descriptor>``).
    root
        Folder holding ``<uuid>/parameters.txt``; default ``BRAINGENEERS_FLUIDICS_ROOT``, else
        the lab server's ``/public/groups/braingeneers/Fluidics/derived``.

    Raises
    ------
    ~braingeneers.core.errors.NotFoundError
        The file does not exist there.
    """
    base = Path(root or os.environ.get("BRAINGENEERS_FLUIDICS_ROOT", DEFAULT_ROOT))
    path = base / uuid / "parameters.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(
            f"{path} does not exist: pass root= (or set BRAINGENEERS_FLUIDICS_ROOT) to the folder "
            f"holding {uuid}/parameters.txt"
        ) from None
    return text.replace("\n", "")

"""Organoid imaging captures (the legacy ``datasets_imaging`` module, kept thin).

An imaging batch stores ``images/manifest.json`` (``captures``: capture timestamps,
``stack_size``: focal planes per camera) and one JPEG per capture, camera and focal plane at
``images/<timestamp>/cameraC<id>/<focal>.jpg``. The legacy module fetched them from a host that
no longer exists and needed scikit-image; this one reads them through the current endpoint
(``s3://braingeneers/archive/<uuid>/images/...`` on S3 or a local mirror) with no extra
dependency, and writes the JPEGs to a folder instead of displaying them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from braingeneers.core.errors import FormatError

__all__ = ["camera_ids", "get_timestamps", "image_uri", "import_json", "save_images"]

#: Ids of the 24 cameras of the imaging rig, 4 rows of 6 (11..16, 21..26, 31..36, 41..46).
camera_ids: list[int] = [10 * row + col for row in range(1, 5) for col in range(1, 7)]


def _prefix(uuid: str) -> str:
    return f"s3://braingeneers/archive/{uuid}/images"


def import_json(uuid: str) -> dict[str, Any]:
    """Return the batch's ``images/manifest.json``.

    Raises
    ------
    ~braingeneers.core.errors.NotFoundError
        No manifest on the current endpoint.
    ~braingeneers.core.errors.FormatError
        The manifest is not a JSON object with a ``captures`` list.
    """
    from braingeneers.core.storage import open as storage_open

    uri = f"{_prefix(uuid)}/manifest.json"
    with storage_open(uri, "r") as handle:
        try:
            manifest = json.load(handle)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{uri}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("captures"), list):
        raise FormatError(f"{uri}: expected a JSON object with a 'captures' list")
    return manifest


def get_timestamps(uuid: str) -> list[Any]:
    """Return the capture timestamps listed in the batch's manifest."""
    return list(import_json(uuid)["captures"])


def image_uri(uuid: str, timestamp: Any, camera: int, focal: int) -> str:
    """Return the URI of one JPEG: capture ``timestamp``, camera id, focal plane (1-based)."""
    return f"{_prefix(uuid)}/{timestamp}/cameraC{camera}/{focal}.jpg"


def save_images(
    uuid: str,
    timestamps: Sequence[Any] | None = None,
    cameras: Sequence[int] | None = None,
    focal_lengths: Sequence[int] | None = None,
    out: str | os.PathLike[str] = ".",
) -> list[Path]:
    """Copy JPEGs of a batch to ``out/<uuid>/images/<timestamp>/cameraC<id>/<focal>.jpg``.

    Parameters
    ----------
    uuid
        The imaging batch.
    timestamps, cameras, focal_lengths
        What to copy; default every capture, every camera of ``camera_ids`` and every
        focal plane ``1..stack_size`` of the manifest.
    out
        Destination folder.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from braingeneers.core.transfer import download

    manifest = import_json(uuid)
    stack = int(manifest.get("stack_size", 1))
    written: list[Path] = []
    for timestamp in manifest["captures"] if timestamps is None else timestamps:
        for camera in camera_ids if cameras is None else cameras:
            for focal in range(1, stack + 1) if focal_lengths is None else focal_lengths:
                target = Path(out) / uuid / "images" / str(timestamp) / f"cameraC{camera}" / f"{focal}.jpg"
                download(image_uri(uuid, timestamp, camera, focal), target)
                written.append(target)
    return written

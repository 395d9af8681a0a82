"""Write the legacy Raspi and Intan-derived flat binaries (see ``docs/formats/flat.md``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["write_intan", "write_raspi"]

_STEP_FRAMES = 65536


def _write_frames(data: np.ndarray, path: Path, header: bytes, dtype: str) -> Path:
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"data must be [channels, frames], got shape {data.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(header)
        for t0 in range(0, data.shape[1], _STEP_FRAMES):
            out.write(np.ascontiguousarray(data[:, t0 : t0 + _STEP_FRAMES].T).astype(dtype).tobytes())
    return path


def write_raspi(data: np.ndarray, path: str | os.PathLike[str], header_bytes: int = 0) -> Path:
    """Write ``[channels, frames]`` counts as a Raspi file: ``header_bytes`` zeros, then big-endian int16.

    The experiment's ``offset`` field must then be ``32 * header_bytes`` (the legacy convention).
    """
    return _write_frames(data, Path(path), bytes(header_bytes), ">i2")


def write_intan(data: np.ndarray, path: str | os.PathLike[str], header: bytes = bytes(8)) -> Path:
    """Write ``[channels, frames]`` counts as an Intan-derived file: 8-byte header, little-endian int16."""
    if len(header) != 8:
        raise ValueError("the Intan-derived header is 8 bytes")
    return _write_frames(data, Path(path), header, "<i2")

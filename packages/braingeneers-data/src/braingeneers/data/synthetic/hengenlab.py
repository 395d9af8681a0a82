"""Write small valid Hengenlab / eCube ``.bin`` files (and whole batches) with known content."""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

__all__ = ["ecube_file_name", "write_hengenlab", "write_hengenlab_batch"]

_STEP_FRAMES = 65536


def ecube_file_name(num_channels: int, when: datetime) -> str:
    """Return the eCube file name for a start time (``Headstages_192_Channels_int16_<date_time>.bin``)."""
    return f"Headstages_{num_channels}_Channels_int16_{when:%Y-%m-%d_%H-%M-%S}.bin"


def write_hengenlab(data: np.ndarray, path: str | os.PathLike[str], ecube_time: int = 0) -> Path:
    """Write int16 counts as an eCube ``.bin`` file and return its path.

    Parameters
    ----------
    data
        ``[n_channels, n_frames]`` counts in file row order; written little-endian, frame-interleaved.
    path
        Destination file (name it with :func:`ecube_file_name` so readers find the channel count).
    ecube_time
        The u64 timestamp written in the 8-byte header.
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"data must be [channels, frames], got shape {data.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", int(ecube_time)))
        for t0 in range(0, data.shape[1], _STEP_FRAMES):
            out.write(np.ascontiguousarray(data[:, t0 : t0 + _STEP_FRAMES].T).astype("<i2").tobytes())
    return path


def write_hengenlab_batch(
    folder: str | os.PathLike[str],
    data: np.ndarray,
    frames_per_file: int,
    *,
    experiment: str = "experiment1",
    uuid: str | None = None,
    channel_map: Sequence[int] | None = None,
    start: datetime | None = None,
) -> Path:
    """Write a recording as eCube files under ``<folder>/original/<experiment>/`` plus ``metadata.json``.

    ``data`` is ``[n_channels, n_frames]`` in file row order; ``channel_map`` (probe
    order → file row) is stored in the metadata. Files are named by start time and
    carry increasing eCube timestamps. Returns the ``metadata.json`` path.
    """
    from braingeneers.data.formats.hengenlab import SAMPLE_RATE, generate_metadata
    from braingeneers.data.metadata import save_metadata

    folder = Path(folder)
    if frames_per_file <= 0:
        raise ValueError("frames_per_file must be positive")
    when = start or datetime(2020, 4, 12, 10, 0, 0)
    # File names have 1-second resolution: space the files at least a second apart.
    seconds = max(1, math.ceil(frames_per_file / SAMPLE_RATE))
    for index, t0 in enumerate(range(0, data.shape[1], frames_per_file)):
        name = ecube_file_name(data.shape[0], when + timedelta(seconds=index * seconds))
        stamp = 1_000_000 + index * seconds * 10**9  # eCube timestamps count nanoseconds
        write_hengenlab(data[:, t0 : t0 + frames_per_file], folder / "original" / experiment / name, stamp)
    meta = generate_metadata(folder, uuid=uuid or folder.name, channel_map=channel_map)
    return Path(save_metadata(meta, folder / "metadata.json"))

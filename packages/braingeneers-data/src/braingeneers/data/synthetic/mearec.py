"""Write small MEArec-layout ``recordings_*.h5`` files (either orientation, float µV or int16 counts)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_mearec"]


def write_mearec(
    data: Any,
    path: str | os.PathLike[str],
    *,
    sample_rate: float = 32000.0,
    version: str = "1.9.0",
    positions: np.ndarray | None = None,
    gain_to_uv: float | None = None,
    spike_trains: Sequence[np.ndarray] | None = None,
) -> Path:
    """Write a MEArec recording and return its path.

    Parameters
    ----------
    data
        ``[channels, frames]``: float µV, or integer counts with ``gain_to_uv``.
    path
        Destination (MEArec names them ``recordings_<...>.h5``).
    sample_rate
        Stored as ``info/recordings/fs``.
    version
        ``mearec_version``; below 1.5.0 ``recordings`` is stored ``[channels, samples]``,
        from 1.5.0 on ``[samples, channels]``.
    positions
        ``[channels, 3]`` µm (default: a 2-column grid at 20 µm pitch in the y-z plane).
    gain_to_uv
        Stored as the ``gain_to_uV`` attribute of integer ``recordings``.
    spike_trains
        Frames of each unit's spikes, stored as ``spiketrains/<i>/times`` in seconds.
    """
    import h5py

    array = np.asarray(data)
    if array.ndim != 2:
        raise ValueError(f"data must be 2-D [channels, frames], not shape {array.shape}")
    channels = array.shape[0]
    if positions is None:
        positions = np.zeros((channels, 3))
        positions[:, 1] = (np.arange(channels) % 2) * 20.0
        positions[:, 2] = (np.arange(channels) // 2) * 20.0
    parts = [int("".join(ch for ch in p if ch.isdigit()) or 0) for p in version.split(".")[:3]]
    channels_first = tuple(parts) < (1, 5, 0)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(target, "w") as h5:
        h5.attrs["mearec_version"] = version
        stored = array if channels_first else np.ascontiguousarray(array.T)
        dataset = h5.create_dataset("recordings", data=stored)
        if gain_to_uv is not None:
            dataset.attrs["gain_to_uV"] = float(gain_to_uv)
        h5.create_dataset("channel_positions", data=np.asarray(positions, dtype=np.float64))
        h5.create_dataset("info/recordings/fs", data=float(sample_rate))
        h5.create_dataset("info/recordings/dtype", data=str(array.dtype))
        h5.create_dataset("info/recordings/duration", data=array.shape[1] / float(sample_rate))
        for i, frames in enumerate(spike_trains or []):
            h5.create_dataset(
                f"spiketrains/{i}/times", data=np.asarray(frames, dtype=np.float64) / sample_rate
            )
    return target

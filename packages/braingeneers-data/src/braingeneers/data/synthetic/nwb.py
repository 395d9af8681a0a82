"""Write small NWB-layout (HDF5) files holding one ElectricalSeries, with h5py only.

The file carries the groups, datasets and attributes the NWB reader uses
(``/acquisition/<series>`` with ``data``, ``conversion``, ``offset``,
``starting_time``/``rate``, ``electrodes`` and the electrodes table with ``id``,
``x``, ``y``, ``rel_x``, ``rel_y``); it is not a complete NWB file for pynwb
(no session metadata or specifications).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_nwb"]


def write_nwb(
    data: Any,
    path: str | os.PathLike[str],
    *,
    sample_rate: float = 20000.0,
    conversion: float = 6.294e-6,
    offset: float = 0.0,
    electrode_ids: Any = None,
    positions: Any = None,
    channel_conversion: np.ndarray | None = None,
    series_name: str = "ElectricalSeries",
    time_first: bool = True,
) -> Path:
    """Write an NWB ElectricalSeries and return the path.

    Parameters
    ----------
    data
        Counts ``[channels, frames]``.
    path
        Destination ``.nwb`` file.
    sample_rate
        ``starting_time`` ``rate`` attribute.
    conversion, offset
        Volts per count and volts added (NWB ``conversion`` and ``offset`` attributes).
    electrode_ids, positions
        Electrode table ``id`` and ``rel_x``/``rel_y`` (default ``0..n-1`` and a 17.5 µm row).
    channel_conversion
        Optional per-channel factors.
    series_name
        Name under ``/acquisition``.
    time_first
        Store ``data`` as ``[time, channels]`` (the NWB standard) rather than ``[channels, time]``.
    """
    import h5py

    array = np.asarray(data)
    if array.ndim != 2:
        raise ValueError(f"data must be 2-D [channels, frames], not shape {array.shape}")
    n = array.shape[0]
    ids = np.arange(n) if electrode_ids is None else np.asarray(electrode_ids)
    xy = np.stack([np.arange(n) * 17.5, np.zeros(n)], axis=1) if positions is None else np.asarray(positions)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(target, "w") as h5:
        h5.attrs["nwb_version"] = "2.7.0"
        h5.attrs["neurodata_type"] = "NWBFile"
        h5.attrs["namespace"] = "core"
        table = h5.create_group("general/extracellular_ephys/electrodes")
        table.attrs["neurodata_type"] = "DynamicTable"
        table.attrs["colnames"] = np.array([b"x", b"y", b"rel_x", b"rel_y", b"location"])
        table.create_dataset("id", data=ids.astype(np.int64))
        table.create_dataset("x", data=xy[:, 0].astype(np.float64))
        table.create_dataset("y", data=xy[:, 1].astype(np.float64))
        table.create_dataset("rel_x", data=xy[:, 0].astype(np.float64))
        table.create_dataset("rel_y", data=xy[:, 1].astype(np.float64))
        table.create_dataset("location", data=np.array([b"unknown"] * n))
        series = h5.create_group(f"acquisition/{series_name}")
        series.attrs["neurodata_type"] = "ElectricalSeries"
        series.attrs["namespace"] = "core"
        stored = np.ascontiguousarray(array.T) if time_first else array
        dataset = series.create_dataset("data", data=stored)
        dataset.attrs["conversion"] = float(conversion)
        dataset.attrs["offset"] = float(offset)
        dataset.attrs["resolution"] = -1.0
        dataset.attrs["unit"] = "volts"
        start = series.create_dataset("starting_time", data=0.0)
        start.attrs["rate"] = float(sample_rate)
        start.attrs["unit"] = "seconds"
        region = series.create_dataset("electrodes", data=np.arange(n, dtype=np.int64))
        region.attrs["neurodata_type"] = "DynamicTableRegion"
        region.attrs["table"] = table.ref
        if channel_conversion is not None:
            factors = series.create_dataset(
                "channel_conversion", data=np.asarray(channel_conversion, dtype=np.float32)
            )
            factors.attrs["axis"] = 1
    return target

"""Write small valid Maxwell ``.raw.h5`` files (MaxOne legacy and the new MaxOne/MaxTwo layouts).

The files follow the public layout (see the Maxwell format page in the docs):
legacy ``sig`` (1028 rows) + ``mapping`` + ``settings/lsb``; the new format's
``groups/routed/raw`` + ``settings/{mapping,lsb,gain,sampling}`` under one of
``data_store/dataNNNN``, ``wells/wellNNN/recNNNN`` or ``recordings/recNNNN/wellNNN``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "LAYOUTS",
    "LEGACY_ROWS",
    "MAXONE_COLUMNS",
    "PITCH_UM",
    "electrode_xy",
    "write_maxwell",
    "write_maxwell_batch",
    "write_stim_log",
]

#: Rows of the legacy ``sig`` dataset: 1024 channels + 4 auxiliary rows (1026/1027 = frame counter).
LEGACY_ROWS = 1028
#: Electrodes per row of the MaxOne array and their pitch in µm.
MAXONE_COLUMNS = 220
PITCH_UM = 17.5

LAYOUTS = ("legacy", "data_store", "wells", "recordings")


def electrode_xy(electrodes: np.ndarray) -> np.ndarray:
    """Return the x, y (µm) of MaxOne electrode ids ``[n, 2]`` (220 per row, 17.5 µm pitch)."""
    e = np.asarray(electrodes, dtype=np.int64)
    return np.stack([(e % MAXONE_COLUMNS) * PITCH_UM, (e // MAXONE_COLUMNS) * PITCH_UM], axis=1).astype(
        np.float64
    )


def _mapping(channels: np.ndarray, electrodes: np.ndarray) -> np.ndarray:
    xy = electrode_xy(electrodes)
    table = np.zeros(
        len(channels), dtype=[("channel", "<i4"), ("electrode", "<i4"), ("x", "<f8"), ("y", "<f8")]
    )
    table["channel"] = channels
    table["electrode"] = electrodes
    table["x"] = xy[:, 0]
    table["y"] = xy[:, 1]
    return table


def _check_counts(data: Any, where: str) -> tuple[int, int]:
    shape = tuple(getattr(data, "shape", ()))
    if len(shape) != 2:
        raise ValueError(f"{where}: data must be 2-D [channels, frames], not shape {shape}")
    return int(shape[0]), int(shape[1])


def _write_slabs(dataset: Any, data: Any, row_index: np.ndarray | None, slab: int) -> None:
    """Copy ``data[:, a:b]`` into ``dataset`` in frame slabs (so ``data`` may be a lazy array-like)."""
    frames = dataset.shape[1]
    for start in range(0, frames, slab):
        stop = min(start + slab, frames)
        block = np.asarray(data[:, start:stop])
        if block.size and (block.min() < 0 or block.max() > 0xFFFF):
            raise ValueError("Maxwell counts must fit uint16 (0..65535); add 512 to zero-centred data")
        block = block.astype(np.uint16)
        if row_index is None:
            dataset[:, start:stop] = block
        else:
            full = np.full((dataset.shape[0], stop - start), 512, dtype=np.uint16)
            full[row_index] = block
            frame_nos = np.arange(start, stop, dtype=np.uint64)
            full[LEGACY_ROWS - 2] = (frame_nos & 0xFFFF).astype(np.uint16)
            full[LEGACY_ROWS - 1] = ((frame_nos >> 16) & 0xFFFF).astype(np.uint16)
            dataset[:, start:stop] = full


def _dataset_options(compression: int | str | None, chunks: Any) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if compression is not None and chunks is not None:
        options["compression"] = compression
        if isinstance(compression, int):
            options["allow_unknown_filter"] = True
    if chunks is not None:
        options["chunks"] = chunks
    return options


def _chunks(rows: int, frames: int, chunks: Any) -> Any:
    if frames == 0 or rows == 0:
        return None
    if chunks == "time":
        return (max(rows, 1), max(1, min(frames, 2048)))
    if chunks == "row":
        return (1, max(1, min(frames, 65536)))
    if chunks in ("contiguous", False):
        return None
    return chunks


def write_maxwell(  # noqa: PLR0912, PLR0915 (four layouts, one writer)
    data: Any | Mapping[int, Any],
    path: str | os.PathLike[str],
    *,
    layout: str = "legacy",
    channels: Sequence[int] | np.ndarray | None = None,
    electrodes: Sequence[int] | np.ndarray | None = None,
    lsb: float = 6.294e-6,
    gain: float = 512.0,
    sample_rate: float = 20000.0,
    recording: int = 0,
    chunks: Any = "time",
    compression: int | str | None = None,
    gpio: Sequence[tuple[int, int]] | None = None,
    first_frame: int = 0,
) -> Path:
    """Write a Maxwell ``.raw.h5`` file and return its path.

    Parameters
    ----------
    data
        Raw counts as stored (uint16 range; the ADC midpoint is 512) shaped
        ``[channels, frames]``, or for MaxTwo a mapping ``{well: counts}`` (new
        layouts only). Any array-like with ``shape`` and ``[:, a:b]`` slicing
        works, so large files can be written from a lazy source.
    path
        Destination file (parents are created).
    layout
        ``"legacy"`` (MaxOne ``sig``, version 20160704) or the new format's
        ``"data_store"``, ``"wells"`` or ``"recordings"`` group layout (version 20190530).
    channels
        Channel numbers of the data rows (default ``0..n-1``); legacy: the ``sig`` rows they occupy.
    electrodes
        Electrode ids of the rows (default: ``channels * 7``), giving x, y on a 220-column, 17.5 µm grid.
    lsb
        Volts per count (``settings/lsb``).
    gain
        Amplifier gain (``settings/gain``).
    sample_rate
        ``settings/sampling`` (new layouts; the legacy format is always 20 kHz).
    recording
        Recording number of the new layouts (``rec0000`` / ``data0000``).
    chunks
        ``"time"`` (all rows x 2048 frames, as acquisition writes), ``"row"``
        (1 x 65536, a repacked "rowmajor" file), ``"contiguous"``, or an explicit tuple.
    compression
        An h5py compression (``"gzip"``) or filter id (401 needs the Maxwell plugin).
    gpio
        Legacy only: ``(frame number, bits)`` TTL events for the ``bits`` dataset.
    first_frame
        Frame number of the first sample (``frame_nos`` and the legacy frame counter).
    """
    import h5py

    if layout not in LAYOUTS:
        raise ValueError(f"unknown Maxwell layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    streams: dict[int, Any] = dict(data) if isinstance(data, Mapping) else {0: data}
    if layout == "legacy" and isinstance(data, Mapping):
        raise ValueError("the legacy layout holds one MaxOne recording; pass one array")
    with h5py.File(target, "w") as h5:
        if layout == "legacy":
            h5.create_dataset("version", data=np.array([b"20160704"]))
            rows, frames = _check_counts(streams[0], str(target))
            chans = np.arange(rows) if channels is None else np.asarray(channels, dtype=np.int64)
            if len(chans) != rows or (rows and (chans.min() < 0 or chans.max() >= 1024)):
                raise ValueError("legacy channels must be one number in 0..1023 per data row")
            elec = chans * 7 if electrodes is None else np.asarray(electrodes, dtype=np.int64)
            sig = h5.create_dataset(
                "sig",
                shape=(LEGACY_ROWS, frames),
                dtype=np.uint16,
                **_dataset_options(compression, _chunks(LEGACY_ROWS, frames, chunks)),
            )
            _write_slabs(sig, streams[0], chans, 65536)
            if first_frame:
                _fix_counter(sig, first_frame)
            h5.create_dataset("mapping", data=_mapping(chans, elec))
            h5.create_dataset("settings/lsb", data=np.array([lsb]))
            h5.create_dataset("settings/gain", data=np.array([gain]))
            if gpio is not None:
                bits = np.zeros(len(gpio), dtype=[("frameno", "<i8"), ("bits", "<i8")])
                for i, (frame, state) in enumerate(gpio):
                    bits[i] = (frame, state)
                h5.create_dataset("bits", data=bits)
            return target
        h5.create_dataset("version", data=np.array([b"20190530"]))
        for well, counts in streams.items():
            rows, frames = _check_counts(counts, f"{target} well {well}")
            chans = np.arange(rows) if channels is None else np.asarray(channels, dtype=np.int64)
            if len(chans) != rows:
                raise ValueError(f"{target}: {len(chans)} channel numbers for {rows} data rows")
            elec = chans * 7 if electrodes is None else np.asarray(electrodes, dtype=np.int64)
            if layout == "data_store":
                group = h5.create_group(f"data_store/data{recording + well:04d}")
                group.create_dataset("well_id", data=np.array([well], dtype=np.int64))
                group.create_dataset("recording_id", data=np.array([recording], dtype=np.int64))
                group.create_dataset("start_time", data=np.array([0], dtype=np.int64))
                group.create_dataset(
                    "stop_time", data=np.array([int(frames / sample_rate * 1000)], dtype=np.int64)
                )
            elif layout == "wells":
                group = h5.create_group(f"wells/well{well:03d}/rec{recording:04d}")
            elif layout == "recordings":
                group = h5.create_group(f"recordings/rec{recording:04d}/well{well:03d}")
            else:
                raise ValueError(f"unknown Maxwell layout {layout!r}")
            raw = group.create_dataset(
                "groups/routed/raw",
                shape=(rows, frames),
                dtype=np.uint16,
                **_dataset_options(compression, _chunks(rows, frames, chunks)),
            )
            _write_slabs(raw, counts, None, 65536)
            group.create_dataset(
                "groups/routed/frame_nos", data=np.arange(first_frame, first_frame + frames, dtype=np.uint64)
            )
            group.create_dataset("groups/routed/channels", data=chans.astype(np.int32))
            group.create_dataset("settings/mapping", data=_mapping(chans, elec))
            group.create_dataset("settings/lsb", data=np.array([lsb]))
            group.create_dataset("settings/gain", data=np.array([gain]))
            group.create_dataset("settings/sampling", data=np.array([sample_rate]))
    return target


def _fix_counter(sig: Any, first_frame: int) -> None:
    frames = sig.shape[1]
    frame_nos = np.arange(first_frame, first_frame + frames, dtype=np.uint64)
    sig[LEGACY_ROWS - 2, :] = (frame_nos & 0xFFFF).astype(np.uint16)
    sig[LEGACY_ROWS - 1, :] = ((frame_nos >> 16) & 0xFFFF).astype(np.uint16)


def write_stim_log(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write a Maxwell stimulation log CSV (one header line of the rows' keys) and return its path."""
    import csv

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    with open(target, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return target


def write_maxwell_batch(
    folder: str | os.PathLike[str],
    experiments: Mapping[str, Any],
    *,
    uuid: str | None = None,
    **options: Any,
) -> Path:
    """Write one Maxwell file per experiment under ``<folder>/original/data/`` plus ``metadata.json``.

    Parameters
    ----------
    folder
        The batch folder (created).
    experiments
        Experiment name → counts (or ``{well: counts}`` for MaxTwo layouts); each
        becomes ``original/data/<name>.raw.h5``.
    uuid
        The batch UUID (default: the folder's name).
    options
        Passed to :func:`write_maxwell` (``layout``, ``lsb``, ``chunks``, ...).

    Returns
    -------
    pathlib.Path
        The ``metadata.json`` written (generated from the files, so it is what
        ``braingeneers data generate-metadata`` would produce).
    """
    from braingeneers.data.formats.maxwell import generate_metadata
    from braingeneers.data.metadata import save_metadata

    root = Path(folder)
    for name, counts in experiments.items():
        write_maxwell(counts, root / "original" / "data" / f"{name}.raw.h5", **options)
    batch = generate_metadata(root, uuid=uuid or root.name)
    return Path(save_metadata(batch, root / "metadata.json"))

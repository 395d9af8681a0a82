"""The legacy electrophysiology API (same names and argument order), on top of the ``Recording`` API.

Differences from the old reader, all deliberate:

* ``load_data`` keeps the legacy contract: ``dtype='int16'`` (any integer dtype)
  returns the file's raw counts, and float dtypes return
  ``raw * voltage_scaling_factor`` from the metadata, **without** subtracting
  any ADC offset. The new API (:meth:`braingeneers.data.recording.Recording.read`)
  instead returns true µV, ``(raw - offset) * gain`` with the file's own gain:
  for Maxwell, legacy floats are ``raw * voltage_scaling_factor`` (1.0 in old
  metadata, i.e. counts; lsb·1e6 in generated metadata) while the new API gives
  ``(raw - 512) * lsb * 1e6``; for Axion, legacy floats are volts (the factor is
  V/count) while the new API gives µV.
* Reads spanning several files are exact for every format; ``length=-1`` (or
  ``None``) reads to the end; offsets and lengths accept numpy integers;
  out-of-range requests raise ``IndexError`` with the valid range.
* ``load_window`` returns µV from the file's scaling (the old hard-coded
  Maxwell constant was neither mV nor µV); ``load_windows`` handles odd window
  sizes and checks bounds against the whole experiment.
* Tables (mapping, stimulation logs) are pandas DataFrames as before; pandas is
  imported only by those functions (``pip install pandas``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, SupportsIndex

import numpy as np

from braingeneers.core.errors import FormatError, NotFoundError
from braingeneers.data import metadata as _metadata
from braingeneers.data.metadata import BatchMetadata, batch_prefix
from braingeneers.data.recording import Recording, _check_float16

__all__ = [
    "cached_load_data",
    "generate_metadata_axion",
    "generate_metadata_maxwell",
    "generate_metadata_mearec",
    "list_uuids",
    "load_data",
    "load_gpio_maxwell",
    "load_mapping_maxwell",
    "load_metadata",
    "load_stims_maxwell",
    "load_window",
    "load_windows",
    "save_metadata",
]

logger = logging.getLogger(__name__)

_OPEN_LIMIT = 8
_open: OrderedDict[str, Recording] = OrderedDict()
_open_lock = threading.Lock()


def load_metadata(batch_uuid: str | os.PathLike[str]) -> dict[str, Any]:
    """Return a batch's validated ``metadata.json`` as a dict (2022 list form converted to the dict form)."""
    meta = _metadata.load_metadata(batch_uuid)
    document = meta.to_dict()
    if meta.source and not meta.source.startswith("s3://"):
        document.setdefault("_source", meta.source)
    return document


def save_metadata(metadata: dict[str, Any] | BatchMetadata) -> str:
    """Validate and write ``metadata.json`` to ``ephys/<uuid>/`` (conflict-safe); return where it went."""
    if isinstance(metadata, dict):
        document = {k: v for k, v in metadata.items() if k != "_source"}
        source = metadata.get("_source")
        meta = BatchMetadata.from_dict(document, source=source)
    else:
        meta = metadata
    return _metadata.save_metadata(meta)


def list_uuids() -> list[str]:
    """Return every batch UUID under ``s3://braingeneers/ephys/``."""
    return _metadata.list_uuids()


def _batch(metadata: dict[str, Any] | BatchMetadata) -> BatchMetadata:
    if isinstance(metadata, BatchMetadata):
        return metadata
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict from load_metadata() or a BatchMetadata, not {metadata!r}")
    document = {k: v for k, v in metadata.items() if k != "_source"}
    return BatchMetadata.from_dict(document, source=metadata.get("_source"))


def _recording(batch: BatchMetadata, experiment: str | int) -> Recording:
    """Return an open Recording for (batch, experiment), reusing up to 8 recently used ones.

    The key includes the endpoint's generation: after ``set_default_endpoint`` the same batch
    is opened anew on the new endpoint instead of reading through readers bound to the old one.
    """
    from braingeneers.core.endpoint import endpoint_generation

    exp = batch.experiment(experiment)
    key = json.dumps(
        [endpoint_generation(), batch.uuid, batch.source, exp.to_dict()], sort_keys=True, default=str
    )
    with _open_lock:
        found = _open.get(key)
        if found is not None:
            _open.move_to_end(key)
            return found
        recording = Recording(batch, exp)
        _open[key] = recording
        while len(_open) > _OPEN_LIMIT:
            _open.popitem(last=False)[1].close()
        return recording


def _as_int(value: Any, name: str) -> int:
    import operator

    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer (int or numpy integer), not {value!r}") from None


def load_data(  # noqa: PLR0917 (the legacy positional signature)
    metadata: dict[str, Any] | BatchMetadata,
    experiment: str | int,
    offset: SupportsIndex = 0,
    length: SupportsIndex | None = None,
    channels: Any = None,
    dtype: Any = "float32",
    parallelism: str = "auto",
) -> np.ndarray:
    """Return ``[channels, frames]`` of one experiment, legacy semantics.

    Parameters
    ----------
    metadata
        The batch metadata (dict from :func:`load_metadata`, or a ``BatchMetadata``).
    experiment
        Experiment name, or index in file order.
    offset
        First frame (any integer type).
    length
        Number of frames; ``None`` or ``-1`` reads to the end.
    channels
        ``None`` (all), an int, a list/array (any order, duplicates allowed) or a slice.
    dtype
        An integer dtype (``'int16'``) returns raw counts; a float dtype returns
        ``raw * voltage_scaling_factor`` (see the module notes for how this
        differs from the new API's µV).
    parallelism
        Accepted for old calls and ignored, as in the legacy package (only ``"auto"`` was
        allowed): large reads are split into concurrent requests by the readers themselves.

    Raises
    ------
    IndexError
        The frame range or a channel is out of range.
    """
    if parallelism != "auto":
        raise ValueError(f"parallelism must be 'auto' (the only legacy value), not {parallelism!r}")
    batch = _batch(metadata)
    recording = _recording(batch, experiment)
    start = _as_int(offset, "offset")
    if length is None:
        stop = recording.num_frames
    else:
        count = _as_int(length, "length")
        if count == -1:
            stop = recording.num_frames
        elif count < 0:
            raise IndexError(f"length must be >= 0 or -1 (to the end), not {count}")
        else:
            stop = start + count
    target = np.dtype(dtype)
    raw = recording.read(start, stop, channels, units="raw")
    if np.issubdtype(target, np.integer):
        if not np.issubdtype(raw.dtype, np.integer):
            raise ValueError(
                f"this recording stores {raw.dtype} values, not integer counts; use a float dtype"
            )
        if raw.dtype == target:
            return raw
        limits = np.iinfo(target)
        if raw.size and (raw.min() < limits.min or raw.max() > limits.max):
            raise ValueError(f"raw counts {raw.min()}..{raw.max()} do not fit {target}")
        return raw.astype(target)
    if not np.issubdtype(target, np.floating):
        raise ValueError(f"dtype must be an integer or float dtype, not {target}")
    scale = recording.experiment.voltage_scaling_factor
    work = np.float64 if target == np.float64 else np.float32
    out: np.ndarray = raw.astype(work)
    out *= work(scale)
    if target == np.float16:
        _check_float16(out)
    return out if out.dtype == target else out.astype(target)


def load_window(
    metadata: dict[str, Any] | BatchMetadata,
    exp: str | int,
    window: tuple[int, int],
    dtype: Any = np.float32,
    channels: Any = None,
) -> np.ndarray:
    """Return frames ``[window[0], window[1])`` in µV (the file's own scaling), ``[channels, frames]``."""
    recording = _recording(_batch(metadata), exp)
    return recording.read(window[0], window[1], channels, units="uV", dtype=dtype)


def load_windows(  # noqa: PLR0917 (the legacy positional signature)
    metadata: dict[str, Any] | BatchMetadata,
    exp: str | int,
    window_centers: Any,
    window_sz: int,
    dtype: Any = np.float16,
    channels: Any = None,
) -> np.ndarray:
    """Return ``window_sz`` frames around each centre in µV, shaped ``(n_windows, channels, window_sz)``.

    Window ``i`` covers ``[c - window_sz // 2, c - window_sz // 2 + window_sz)``.
    Windows reaching outside the experiment are returned as zeros (legacy
    behaviour), with a warning in the log.
    """
    recording = _recording(_batch(metadata), exp)
    size = _as_int(window_sz, "window_sz")
    if size < 1:
        raise ValueError(f"window_sz must be >= 1, not {size}")
    idx = recording.channel_indices(channels)
    centres = [_as_int(c, "window centre") for c in np.atleast_1d(np.asarray(window_centers))]
    out = np.zeros((len(centres), len(idx), size), dtype=dtype)
    for i, centre in enumerate(centres):
        start = centre - size // 2
        if start < 0 or start + size > recording.num_frames:
            logger.warning(
                "window %d around frame %d is outside 0..%d; returning zeros", i, centre, recording.num_frames
            )
            continue
        out[i] = recording.read(start, start + size, idx, units="uV", dtype=dtype)
    return out


def _experiment_dict(metadata_ephys_exp: Any) -> dict[str, Any]:
    if isinstance(metadata_ephys_exp, dict):
        return metadata_ephys_exp
    if hasattr(metadata_ephys_exp, "to_dict"):
        result: dict[str, Any] = metadata_ephys_exp.to_dict()
        return result
    raise TypeError("metadata_ephys_exp must be an experiment dict from metadata['ephys_experiments']")


def _first_block_uri(uuid: str, metadata_ephys_exp: Any) -> str:
    exp = _experiment_dict(metadata_ephys_exp)
    blocks = exp.get("blocks") or []
    if not blocks:
        raise FormatError(f"batch {uuid!r}, experiment {exp.get('name')!r}: no blocks")
    batch = BatchMetadata(uuid=uuid)
    return batch.block_uri(_metadata.BlockMetadata.from_dict(blocks[0], f"batch {uuid!r}"))


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "this legacy function returns a pandas DataFrame: pip install pandas "
            "(or use braingeneers.data.formats.maxwell, which returns numpy arrays)"
        ) from None
    return pandas


def load_mapping_maxwell(uuid: str, metadata_ephys_exp: Any, channels: Any = None) -> Any:
    """Return the electrode mapping (channel, electrode, x, y) of an experiment's first file (DataFrame)."""
    from braingeneers.data.formats.maxwell import read_mapping

    exp = _experiment_dict(metadata_ephys_exp)
    table = read_mapping(_first_block_uri(uuid, exp), exp.get("maxwell_well"))
    frame = _pandas().DataFrame({name: table[name] for name in table.dtype.names or ()})
    if channels is not None:
        frame = frame[frame["channel"].isin(np.atleast_1d(channels))]
    return frame


def load_stims_maxwell(uuid: str, metadata_ephys_exp: Any = None, experiment_stem: str | None = None) -> Any:
    """Return the stimulation log ``original/log/<stem>log.csv`` as a DataFrame (``None`` if absent)."""
    if experiment_stem is None:
        if metadata_ephys_exp is None:
            raise ValueError("pass metadata_ephys_exp or experiment_stem")
        name = _first_block_uri(uuid, metadata_ephys_exp).rsplit("/", 1)[-1]
        experiment_stem = name[: -len(".raw.h5")] if name.endswith(".raw.h5") else name.rsplit(".", 1)[0]
    uri = f"{batch_prefix(uuid)}original/log/{experiment_stem}log.csv"
    from braingeneers.core import storage

    try:
        with storage.open(uri, "rb") as handle:
            text = handle.read()
    except NotFoundError:
        logger.warning("no stimulation log at %s", uri)
        return None
    return _pandas().read_csv(io.BytesIO(text))


def load_gpio_maxwell(dataset_path: str | os.PathLike[str], fs: float = 20000.0) -> np.ndarray:
    """Return the GPIO/TTL event times (seconds from recording start) of a legacy Maxwell file.

    An even number of events gives ``(n/2, 2)`` [on, off] pairs, an odd number a
    1-D array; a file without events gives an empty array.
    """
    from braingeneers.data.formats.maxwell import read_gpio_events

    events = read_gpio_events(dataset_path)
    seconds = events["frame"].astype(np.float64) / float(fs)
    if len(seconds) % 2 == 0:
        return seconds.reshape(-1, 2)
    return seconds


def _cache_key(batch: BatchMetadata, kwargs: dict[str, Any]) -> str:
    exp = batch.experiment(kwargs.get("experiment", 0))
    channels = kwargs.get("channels")
    if isinstance(channels, slice):
        channels = [channels.start, channels.stop, channels.step, "slice"]
    elif channels is not None:
        channels = np.atleast_1d(np.asarray(channels)).tolist()
    description = {
        "uuid": batch.uuid,
        "source": batch.source,
        "experiment": exp.to_dict(),
        "offset": int(kwargs.get("offset", 0)),
        "length": None if kwargs.get("length") is None else int(kwargs["length"]),
        "channels": channels,
        "dtype": str(np.dtype(kwargs.get("dtype", "float32"))),
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()


def cached_load_data(
    cache_path: str | os.PathLike[str], max_size_gb: float = 10, **kwargs: Any
) -> np.ndarray:
    """Call :func:`load_data` through a bounded on-disk cache of ``.npy`` files.

    The key is a hash of the batch UUID, the experiment's metadata and the read
    arguments. When the cache folder grows past ``max_size_gb``, least recently
    used entries are deleted. Entries are written atomically, so several
    processes can share one cache folder.
    """
    from braingeneers.core.atomic import write_atomically

    folder = Path(cache_path)
    folder.mkdir(parents=True, exist_ok=True)
    metadata = kwargs.get("metadata")
    if metadata is None:
        raise TypeError("cached_load_data needs metadata=... (and the other load_data arguments) as keywords")
    batch = _batch(metadata)
    kwargs = dict(kwargs, metadata=batch)
    entry = folder / f"{_cache_key(batch, kwargs)}.npy"
    try:
        data: np.ndarray = np.load(entry, allow_pickle=False)
        os.utime(entry)
        return data
    except (FileNotFoundError, ValueError, OSError):
        pass
    data = load_data(**kwargs)
    buffer = io.BytesIO()
    np.save(buffer, data, allow_pickle=False)
    limit = int(max_size_gb * 1e9)
    if buffer.tell() <= limit:
        write_atomically(entry, buffer.getvalue())
        _trim(folder, limit)
    return data


def _trim(folder: Path, limit: int) -> None:
    entries = []
    for path in folder.glob("*.npy"):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        total -= size


def _legacy_generated(batch: BatchMetadata, save: bool) -> dict[str, Any]:
    if save:
        _metadata.save_metadata(batch)
    return batch.to_dict()


def generate_metadata_axion(
    batch_uuid: str, experiment_prefix: str = "", n_threads: int = 16, save: bool = False
) -> dict[str, Any]:
    """Build the metadata of an Axion batch from ``original/data/*.raw`` (one experiment per well)."""
    from braingeneers.data.formats.axion import generate_metadata

    batch = generate_metadata(
        batch_prefix(batch_uuid) + "original/data/",
        uuid=batch_uuid,
        experiment_prefix=experiment_prefix,
        max_workers=n_threads,
    )
    return _legacy_generated(batch, save)


def generate_metadata_maxwell(
    batch_uuid: str, experiment_prefix: str | None = None, n_threads: int = 16, save: bool = False
) -> dict[str, Any]:
    """Build the metadata of a Maxwell batch from its ``original/data/*.raw.h5`` files."""
    from braingeneers.data.formats.maxwell import generate_metadata

    del n_threads  # files are scanned one after the other (header reads are small)
    batch = generate_metadata(
        batch_prefix(batch_uuid) + "original/data/",
        uuid=batch_uuid,
        experiment_prefix=experiment_prefix or "",
    )
    batch.source = None
    return _legacy_generated(batch, save)


def generate_metadata_mearec(batch_uuid: str, n_threads: int = 16, save: bool = False) -> dict[str, Any]:
    """Build the metadata of a MEArec batch from its ``original/data/recordings_*.h5`` file."""
    from braingeneers.data.formats.mearec import generate_metadata

    del n_threads
    batch = generate_metadata(batch_prefix(batch_uuid) + "original/data/", uuid=batch_uuid)
    batch.source = None
    return _legacy_generated(batch, save)

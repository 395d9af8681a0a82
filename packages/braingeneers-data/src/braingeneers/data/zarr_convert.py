"""Convert an experiment into a chunked, compressed Zarr v3 copy of its raw counts.

One experiment (every block, concatenated along frames) becomes one Zarr v3 group
holding one array ``raw`` of raw integer counts ``[channels, frames]``; a MaxTwo
well or an Axion well is its own experiment, so each well gets its own store. By
default the store is ``<batch>/derived/zarr/<experiment>.zarr`` next to the
original (``s3://braingeneers/ephys/<uuid>/derived/zarr/...``).

The work is split into *ranges*: one shard column of frames (every channel) each.
A range is an independent task (:func:`convert_range`) that needs nothing but the
store's URI and its index: the store's own attributes hold the batch metadata,
the experiment name and the layout. So ranges run in parallel in threads here, in
other processes, or as a Kubernetes job array (``--task I/N``). Each finished
range leaves ``progress/range-NNNNNN.json`` with the SHA-256 of its counts;
a rerun skips ranges that have one. :func:`finalize` re-reads every range from
the store, compares checksums, and only then sets the group's
``braingeneers.status`` to ``"complete"``. Readers refuse any other status.

Layout and codec come from the codec study in ``docs/zarr.md`` (``DEFAULT_LAYOUT``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import numpy as np

from braingeneers.core.errors import (
    BraingeneersError,
    ConfigError,
    ConflictError,
    FormatError,
    NotFoundError,
    StorageError,
)
from braingeneers.data.cli import configure_convert
from braingeneers.data.zarr_store import open_store, require_zarr

if TYPE_CHECKING:
    from braingeneers.data.metadata import BatchMetadata, ExperimentMetadata

__all__ = [
    "ARRAY_NAME",
    "DEFAULT_LAYOUT",
    "ConversionResult",
    "Layout",
    "configure_convert",
    "convert_experiment",
    "convert_range",
    "default_store_uri",
    "finalize",
    "store_status",
    "zarr_copy",
    "zarr_copy_summary",
    "zarr_experiment",
]

logger = logging.getLogger(__name__)

#: Name of the counts array inside a store.
ARRAY_NAME = "raw"
#: Version of the store layout written here (``braingeneers.format_version``).
FORMAT_VERSION = 1
_PROGRESS = "progress"


@dataclass(frozen=True)
class Layout:
    """Chunking and compression of a Zarr copy.

    Attributes
    ----------
    chunk_channels, chunk_frames
        Inner chunk (the unit of compression and of a ranged read).
    range_bytes
        Target raw size of one range (every channel x the range's frames: what one conversion
        task holds in memory); a range is a whole number of chunk columns.
    max_shard_columns
        At most this many chunk columns per range, which bounds the frames a conversion task
        reads from the source (a frame-interleaved file is read whole per frame range).
    shard_channel_chunks
        Chunk rows per shard: a shard (one S3 object) holds this many chunk rows of channels x
        the range's frames. Few rows per shard let zarr fetch the chunks of a window from
        several shards at once (it reads the chunks inside one shard one after another).
    codec
        ``"blosc-zstd"`` (bit-shuffled Blosc with zstd), ``"zstd"`` or ``"none"``; every chunk
        also carries a CRC-32C checksum, so a damaged chunk fails to decode instead of reading
        as wrong numbers.
    level
        Compression level.
    """

    chunk_channels: int = 64
    chunk_frames: int = 16384
    range_bytes: int = 128 * 1024 * 1024
    max_shard_columns: int = 16
    shard_channel_chunks: int = 1
    codec: str = "blosc-zstd"
    level: int = 1

    def shard_shape(self, num_channels: int, itemsize: int) -> tuple[int, int]:
        """Return the shard shape ``(channels, frames)`` for an array with ``num_channels``."""
        rows = -(-max(num_channels, 1) // self.chunk_channels)
        per_column = rows * self.chunk_channels * self.chunk_frames * itemsize
        columns = max(1, min(self.max_shard_columns, round(self.range_bytes / per_column)))
        return min(rows, self.shard_channel_chunks) * self.chunk_channels, columns * self.chunk_frames

    def compressors(self) -> Any:
        """Return the zarr compressor codecs for this layout."""
        from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec

        if self.codec == "blosc-zstd":
            return (BloscCodec(cname="zstd", clevel=self.level, shuffle="bitshuffle"), Crc32cCodec())
        if self.codec == "zstd":
            return (ZstdCodec(level=self.level), Crc32cCodec())
        if self.codec == "none":
            return (Crc32cCodec(),)
        raise FormatError(f"unknown Zarr codec {self.codec!r}; known: blosc-zstd, zstd, none")


#: The layout chosen by the codec study (docs/zarr.md).
DEFAULT_LAYOUT = Layout()


@dataclass
class ConversionResult:
    """What one :func:`convert_experiment` call did.

    Attributes
    ----------
    store
        The store's URI or path.
    experiment
        The experiment's name.
    ranges
        Number of ranges (shard columns) in the store.
    converted
        Ranges converted by this call.
    skipped
        Ranges already done before this call (resumed).
    complete
        Whether the store is verified and marked complete.
    raw_bytes
        Bytes of raw counts in the experiment.
    seconds
        Wall time of this call.
    """

    store: str
    experiment: str
    ranges: int
    converted: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    complete: bool = False
    raw_bytes: int = 0
    seconds: float = 0.0


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "experiment"


def default_store_uri(batch: BatchMetadata, experiment: str) -> str:
    """Return the default location of an experiment's copy: ``<batch>/derived/zarr/<experiment>.zarr``.

    An ``s3://`` URI for batches on S3 (or a mirror), an absolute path for a batch loaded from a
    local folder.
    """
    base = batch.base()
    name = f"derived/zarr/{_safe_name(experiment)}.zarr"
    if base.startswith("s3://"):
        return base + name
    return os.path.join(os.path.abspath(base), *name.split("/"))


def _attrs(store_uri: str) -> dict[str, Any] | None:
    """Return the group's ``braingeneers`` attributes, or ``None`` if there is no store there."""
    zarr = require_zarr()
    store = open_store(store_uri, read_only=True)
    try:
        group = zarr.open_group(store, mode="r")
    except (FileNotFoundError, NotFoundError, KeyError):
        return None
    except Exception as exc:  # zarr raises several types for "no group here"
        if "not found" in str(exc).lower() or "nodenotfound" in type(exc).__name__.lower():
            return None
        raise
    info = dict(group.attrs).get("braingeneers")
    return dict(info) if isinstance(info, dict) else None


def store_status(store_uri: str) -> str | None:
    """Return ``"complete"``, ``"converting"`` or ``None`` (no Zarr copy) for a store."""
    info = _attrs(store_uri)
    return None if info is None else str(info.get("status", "converting"))


def zarr_copy(batch: BatchMetadata, experiment: str) -> tuple[str, str] | None:
    """Return ``(uri, status)`` of an experiment's copy at the default location, or ``None``."""
    uri = default_store_uri(batch, experiment)
    try:
        status = store_status(uri)
    except BraingeneersError:
        return None
    return None if status is None else (uri, status)


def zarr_copy_summary(batch: BatchMetadata, experiment: str) -> str:
    """Return one line for ``braingeneers data info``: whether the experiment has a Zarr copy, and where."""
    try:
        require_zarr()
    except BraingeneersError:
        return "zarr copy: not checked (Zarr copies need Python 3.11+ and zarr 3)"
    found = zarr_copy(batch, experiment)
    if found is None:
        return "zarr copy: none (braingeneers data convert makes one)"
    uri, status = found
    if status == "complete":
        return f"zarr copy: {uri} (complete)"
    return f"zarr copy: {uri} ({status}; resume: braingeneers data convert {batch.uuid} -e {experiment!r})"


def zarr_experiment(experiment: ExperimentMetadata, store_uri: str, num_frames: int) -> ExperimentMetadata:
    """Return a copy of ``experiment`` that reads from the Zarr store (``data_format: "zarr"``)."""
    import dataclasses

    from braingeneers.data.metadata import BlockMetadata

    block = BlockMetadata(path=store_uri, num_frames=num_frames)
    return dataclasses.replace(experiment, data_format="zarr", blocks=[block])


# --- source access --------------------------------------------------------------------------------


def _open_recording(batch: BatchMetadata, experiment: str) -> Any:
    from braingeneers.data.recording import open_experiment

    return open_experiment(batch, experiment)


def _channel_attrs(recording: Any) -> dict[str, Any]:
    """Per-channel ids, gains, offsets, positions and electrodes of a recording, as JSON values."""
    info = recording.channel_info
    out: dict[str, Any] = {
        "channel_ids": np.asarray(info.ids, dtype=np.int64).tolist(),
        "gain_uv": np.asarray(info.gain_uv, dtype=np.float64).tolist(),
        "offset": np.asarray(info.offset, dtype=np.float64).tolist(),
        "positions": None if info.positions is None else np.asarray(info.positions, np.float64).tolist(),
        "electrodes": None if info.electrodes is None else np.asarray(info.electrodes, np.int64).tolist(),
    }
    return out


def _source_files(batch: BatchMetadata, experiment: ExperimentMetadata) -> list[dict[str, Any]]:
    """Each block's URI, size, frame range and checksum (SHA-256 of a local file, ETag on S3)."""
    from braingeneers.core import storage
    from braingeneers.core.endpoint import local_path

    files: list[dict[str, Any]] = []
    first = 0
    for block in experiment.blocks:
        uri = batch.block_uri(block)
        entry: dict[str, Any] = {"uri": uri, "num_frames": block.num_frames, "first_frame": first}
        path = local_path(uri)
        if path is not None and path.is_file():
            from braingeneers.core.transfer import sha256_of

            entry["size"] = path.stat().st_size
            entry["sha256"] = sha256_of(path)
        elif path is None:
            from urllib.parse import urlsplit

            parts = urlsplit(uri)
            try:
                head = storage.s3_client().head_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))
            except Exception as exc:  # botocore's errors, named for the user
                missing = "404" in str(exc) or "Not Found" in str(exc)
                error = NotFoundError if missing else StorageError
                raise error(f"{uri}: cannot read the source file's size and ETag ({exc})") from None
            entry["size"] = int(head["ContentLength"])
            entry["etag"] = str(head.get("ETag", "")).strip('"')
        files.append(entry)
        first += block.num_frames
    return files


def _converter_version() -> str:
    try:
        return version("braingeneers-data")
    except PackageNotFoundError:
        return "unknown"


# --- ranges ---------------------------------------------------------------------------------------


def _checksum(counts: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(counts).tobytes()).hexdigest()


def _progress_key(index: int) -> str:
    return f"{_PROGRESS}/range-{index:06d}.json"


def _read_json(store: Any, key: str) -> dict[str, Any] | None:
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    found = sync(store.get(key, default_buffer_prototype()))
    return None if found is None else dict(json.loads(found.to_bytes()))


def _write_json(store: Any, key: str, value: dict[str, Any]) -> None:
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    body = default_buffer_prototype().buffer.from_bytes(json.dumps(value, sort_keys=True).encode())
    sync(store.set(key, body))


def _done_ranges(store: Any) -> dict[int, dict[str, Any]]:
    from zarr.core.sync import sync

    async def keys() -> list[str]:
        return [key async for key in store.list_prefix(_PROGRESS + "/")]

    done: dict[int, dict[str, Any]] = {}
    for key in sync(keys()):
        match = re.search(r"range-(\d+)\.json$", key)
        if match:
            record = _read_json(store, key.lstrip("/"))
            if record is not None:
                done[int(match.group(1))] = record
    return done


_local = threading.local()


def _cached_recording(store_uri: str, info: dict[str, Any]) -> Any:
    """One open source recording per thread and store (closed when the thread's next store differs)."""
    from braingeneers.data.metadata import BatchMetadata

    cached = getattr(_local, "recording", None)
    if cached is not None and cached[0] == store_uri:
        return cached[1]
    if cached is not None:
        cached[1].close()
    source = info["source"]
    batch = BatchMetadata.from_dict(source["batch"], source=source.get("base"))
    recording = _open_recording(batch, source["experiment"])
    _local.recording = (store_uri, recording)
    return recording


def _release_recording() -> None:
    cached = getattr(_local, "recording", None)
    if cached is not None:
        cached[1].close()
        _local.recording = None


def convert_range(store_uri: str, index: int) -> dict[str, Any]:
    """Convert one range (shard column) of a prepared store and record it as done; return the record.

    Independent of any other call: everything it needs is in the store's attributes.
    """
    zarr = require_zarr()
    store = open_store(store_uri, read_only=False)
    group = zarr.open_group(store, mode="r+")
    info = dict(group.attrs)["braingeneers"]
    array = group[ARRAY_NAME]
    start, stop = _range_bounds(info, index)
    recording = _cached_recording(store_uri, info)
    counts = np.asarray(recording.read(start, stop, units="raw"))
    if counts.shape != (array.shape[0], stop - start):
        raise FormatError(
            f"{store_uri}: the source gave shape {counts.shape} for frames [{start}, {stop}), "
            f"expected {(array.shape[0], stop - start)}"
        )
    array[:, start:stop] = counts.astype(array.dtype, copy=False)
    record = {
        "index": index,
        "start": start,
        "stop": stop,
        "sha256": _checksum(counts.astype(array.dtype, copy=False)),
        "converted_at": datetime.now(timezone.utc).isoformat(),
    }
    _write_json(store, _progress_key(index), record)
    return record


def _range_bounds(info: dict[str, Any], index: int) -> tuple[int, int]:
    frames, step = int(info["num_frames"]), int(info["range_frames"])
    count = int(info["ranges"])
    if not 0 <= index < count:
        raise IndexError(f"range {index} does not exist; the store has ranges 0..{count - 1}")
    return index * step, min(frames, (index + 1) * step)


def _prepare(
    store_uri: str, batch: BatchMetadata, experiment: ExperimentMetadata, layout: Layout, overwrite: bool
) -> dict[str, Any]:
    """Create the store (or check that the existing one converts the same source) and return its info."""
    zarr = require_zarr()
    existing = _attrs(store_uri)
    recording = _open_recording(batch, experiment.name)
    try:
        num_channels, num_frames = int(recording.num_channels), int(recording.num_frames)
        dtype = np.dtype(recording.dtype)
        sample_rate = float(recording.sample_rate)
        channels = _channel_attrs(recording)
    finally:
        recording.close()
    files = _source_files(batch, experiment)
    shard = layout.shard_shape(num_channels, dtype.itemsize)
    fingerprint = {
        "files": [{k: f.get(k) for k in ("uri", "size", "sha256", "etag", "num_frames")} for f in files],
        "layout": asdict(layout),
        "shape": [num_channels, num_frames],
        "dtype": dtype.str,
    }
    if existing is not None and not overwrite and existing.get("fingerprint") != fingerprint:
        raise ConflictError(
            f"{store_uri} holds a Zarr copy of other data (different source files, sizes or layout); "
            "pass --overwrite (overwrite=True) to replace it"
        )
    info = (
        existing
        if existing is not None and not overwrite
        else {
            "format_version": FORMAT_VERSION,
            "status": "converting",
            "num_frames": num_frames,
            "range_frames": shard[1],
            "ranges": max(1, -(-num_frames // shard[1])),
            "fingerprint": fingerprint,
            "source": {
                "batch": batch.to_dict(),
                "base": batch.source,
                "uuid": batch.uuid,
                "experiment": experiment.name,
                "files": files,
            },
            "converter": {"name": "braingeneers-data", "version": _converter_version()},
            "created": datetime.now(timezone.utc).isoformat(),
        }
    )
    store = open_store(store_uri, read_only=False)
    # Never "w" unless asked to overwrite: tasks of a job array may prepare the same store at
    # once, and "w" would delete the progress records of ranges another task already finished.
    try:
        group = zarr.open_group(store, mode="w" if overwrite else "a", attributes={"braingeneers": info})
    except zarr.errors.ContainsGroupError:  # another task created it between the check and the write
        group = zarr.open_group(store, mode="r+")
    if existing is None and not overwrite:
        group.attrs["braingeneers"] = info
    if ARRAY_NAME in group and not overwrite:
        return info
    # ContainsArrayError: another task created it a moment ago, from the same source (same fingerprint).
    with contextlib.suppress(zarr.errors.ContainsArrayError):
        group.create_array(
            ARRAY_NAME,
            shape=(num_channels, num_frames),
            dtype=dtype,
            chunks=(layout.chunk_channels, layout.chunk_frames),
            shards=shard,
            compressors=layout.compressors(),
            fill_value=0,
            attributes={
                "sample_rate": sample_rate,
                "units": "counts",
                "dimension_names": ["channel", "frame"],
                "block_first_frames": [f["first_frame"] for f in files],
                **channels,
            },
            overwrite=overwrite,
        )
    return info


def finalize(store_uri: str, workers: int = 1) -> list[int]:
    """Verify every range against its recorded checksum and mark the store complete.

    Returns the ranges that are missing or failed verification (their progress records are
    deleted so a rerun converts them again); the store is marked complete only when that
    list is empty.
    """
    zarr = require_zarr()
    store = open_store(store_uri, read_only=False)
    group = zarr.open_group(store, mode="r+")
    info = dict(group.attrs)["braingeneers"]
    array = group[ARRAY_NAME]
    done = _done_ranges(store)

    def check(index: int) -> bool:
        record = done.get(index)
        if record is None:
            return False
        start, stop = _range_bounds(info, index)
        try:
            stored = array[:, start:stop]
        except (StorageError, ConfigError):
            raise  # S3 going away is not damage: stop, and let a rerun verify again
        except Exception as exc:  # a damaged chunk fails to decode
            logger.warning("%s: range %d cannot be read back (%s)", store_uri, index, exc)
            return False
        return _checksum(stored) == record.get("sha256")

    bad: list[int] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        indices = range(int(info["ranges"]))
        bad = [index for index, ok in zip(indices, pool.map(check, indices), strict=True) if not ok]
    from zarr.core.sync import sync

    for index in bad:
        if index in done:
            logger.warning("%s: range %d failed verification; it will be converted again", store_uri, index)
            sync(store.delete(_progress_key(index)))
    if not bad:
        info["status"] = "complete"
        info["completed"] = datetime.now(timezone.utc).isoformat()
        group.attrs["braingeneers"] = info
    return bad


def convert_experiment(
    batch: BatchMetadata | str | os.PathLike[str],
    experiment: str | int,
    out: str | os.PathLike[str] | None = None,
    *,
    workers: int = 1,
    layout: Layout = DEFAULT_LAYOUT,
    task: tuple[int, int] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    on_range: Callable[[int], None] | None = None,
) -> ConversionResult:
    """Convert one experiment into a Zarr v3 copy (resuming an interrupted conversion).

    Parameters
    ----------
    batch
        The batch metadata, or a UUID / metadata path / batch folder to load it from.
    experiment
        Name or index of the experiment.
    out
        The store's URI or path; default :func:`default_store_uri`.
    workers
        Ranges converted at once (threads).
    layout
        Chunking and codec (``DEFAULT_LAYOUT`` from the codec study).
    task
        ``(i, n)``: convert only ranges ``r`` with ``r % n == i`` and do not finalize (one task of a
        job array; a later call without ``task`` verifies and completes the store).
    overwrite
        Replace an existing store of other data, or a complete one, instead of refusing/skipping.
    progress
        Show a progress bar (tqdm) on stderr.
    on_range
        Called with each range index once it is converted (in the converting thread).

    Raises
    ------
    ~braingeneers.core.errors.ConflictError
        The store holds a copy of other data and ``overwrite`` is false.
    ~braingeneers.core.errors.StorageError
        S3 failed; the store is left resumable: run the same call again.
    """
    from braingeneers.data.metadata import BatchMetadata, load_metadata

    began = time.perf_counter()
    meta = batch if isinstance(batch, BatchMetadata) else load_metadata(batch)
    exp = meta.experiment(experiment)
    store_uri = os.fspath(out) if out is not None else default_store_uri(meta, exp.name)
    existing = _attrs(store_uri)
    if existing is not None and existing.get("status") == "complete" and not overwrite:
        logger.info("%s is already complete; nothing to do (overwrite=True converts again)", store_uri)
        count = int(existing["ranges"])
        return ConversionResult(store_uri, exp.name, count, [], list(range(count)), True, 0, 0.0)
    info = _prepare(store_uri, meta, exp, layout, overwrite)
    store = open_store(store_uri, read_only=False)
    done = _done_ranges(store)
    count = int(info["ranges"])
    todo = [i for i in range(count) if i not in done and (task is None or i % task[1] == task[0])]
    result = ConversionResult(store_uri, exp.name, count, skipped=sorted(done))
    shape = info["fingerprint"]["shape"]
    result.raw_bytes = int(shape[0]) * int(shape[1]) * np.dtype(info["fingerprint"]["dtype"]).itemsize
    _run_ranges(store_uri, todo=todo, workers=workers, progress=progress, result=result, on_range=on_range)
    if task is None:
        try:
            bad = finalize(store_uri, workers)
        except StorageError as exc:
            raise StorageError(
                f"{exc}; the Zarr copy at {store_uri} is resumable: run the conversion again"
            ) from exc
        if bad:
            logger.info("%s: converting %d ranges again after verification", store_uri, len(bad))
            _run_ranges(
                store_uri, todo=bad, workers=workers, progress=progress, result=result, on_range=on_range
            )
            bad = finalize(store_uri, workers)
        if bad:
            raise FormatError(
                f"{store_uri}: ranges {bad} fail verification after being converted again; "
                "the source or the store is unstable"
            )
        result.complete = True
    result.seconds = time.perf_counter() - began
    return result


def _run_ranges(
    store_uri: str,
    *,
    todo: Sequence[int],
    workers: int,
    progress: bool,
    result: ConversionResult,
    on_range: Callable[[int], None] | None,
) -> None:
    from tqdm.auto import tqdm

    def one(index: int) -> int:
        try:
            convert_range(store_uri, index)
        finally:
            if workers > 1:
                _release_recording()
        if on_range is not None:
            on_range(index)
        return index

    bar = tqdm(total=len(todo), desc=f"convert {store_uri}", unit="range", disable=not progress)
    try:
        if workers <= 1:
            for index in todo:
                result.converted.append(one(index))
                bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(one, index) for index in todo]
                for future in as_completed(futures):
                    result.converted.append(future.result())
                    bar.update(1)
    except BraingeneersError as exc:
        raise type(exc)(
            f"{exc}; the Zarr copy at {store_uri} is resumable: run the conversion again"
        ) from exc
    finally:
        bar.close()
        _release_recording()
    result.converted.sort()

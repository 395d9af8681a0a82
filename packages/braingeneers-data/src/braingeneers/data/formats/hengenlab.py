"""Hengenlab / White Matter eCube ``.bin`` files: reader, metadata generator, header timestamp, channel map.

Layout (little-endian; see ``docs/formats/hengenlab.md``): an 8-byte u64 eCube
timestamp, then int16 samples, frame-interleaved (``N`` channels per frame), where
``N`` is in the file name ``…Headstages_<N>_Channels_int16_<YYYY-MM-DD_HH-MM-SS>.bin``.
A 5-minute file at 25 kHz holds 7 500 000 frames. µV = 0.19073486328125 x counts.
The batch's top-level ``channel_map`` lists, for each probe channel, the file row
that holds it; channel ``k`` of an experiment is file row ``channel_map[k]``.
"""

from __future__ import annotations

import logging
import os
import re
import struct
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from braingeneers.core.errors import FormatError
from braingeneers.data.formats._base import BlockReader, ChannelInfo
from braingeneers.data.formats._interleaved import InterleavedLayout

if TYPE_CHECKING:
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import ByteSource

__all__ = [
    "GAIN_UV",
    "HEADER_BYTES",
    "SAMPLE_RATE",
    "HengenlabReader",
    "channel_map",
    "channels_in_name",
    "ecube_time",
    "generate_metadata",
]

logger = logging.getLogger(__name__)

#: Bytes before frame 0: the eCube timestamp (u64).
HEADER_BYTES = 8
#: µV per count of the eCube int16 samples.
GAIN_UV = 0.19073486328125
#: Samples per second per channel.
SAMPLE_RATE = 25000.0
_NAME = re.compile(r"Headstages_(\d+)_Channels_int16")


def channels_in_name(name: str) -> int | None:
    """Return the channel count in an eCube file name (``Headstages_192_Channels_int16_...``), or None."""
    match = _NAME.search(PurePosixPath(name.replace("\\", "/")).name)
    return int(match.group(1)) if match else None


def ecube_time(source: ByteSource | str | os.PathLike[str]) -> int:
    """Return the eCube timestamp (u64) at the start of a ``.bin`` file.

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        The file is shorter than the 8-byte header.
    """
    from braingeneers.data.sources import ByteSource, open_source

    if isinstance(source, ByteSource):
        return int(struct.unpack("<Q", source.read(0, HEADER_BYTES))[0])
    opened = open_source(source)
    try:
        return int(struct.unpack("<Q", opened.read(0, HEADER_BYTES))[0])
    finally:
        opened.close()


def channel_map(batch: BatchMetadata, num_channels: int) -> np.ndarray:
    """Return the file row of each probe channel: the batch's ``channel_map``, else ``0..num_channels-1``.

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        ``channel_map`` is not a list of ``num_channels`` distinct rows in ``0..num_channels-1``.
    """
    raw = batch.extra.get("channel_map")
    if raw is None:
        return np.arange(num_channels, dtype=np.int64)
    try:
        rows = np.asarray(raw, dtype=np.int64)
    except (TypeError, ValueError):
        raise FormatError(f"batch {batch.uuid!r}: field 'channel_map' must be a list of integers") from None
    if rows.shape != (num_channels,) or len(np.unique(rows)) != num_channels:
        raise FormatError(
            f"batch {batch.uuid!r}: field 'channel_map' must list {num_channels} distinct file rows, "
            f"got {rows.size} ({len(np.unique(rows))} distinct)"
        )
    if rows.min() < 0 or rows.max() >= num_channels:
        raise FormatError(f"batch {batch.uuid!r}: field 'channel_map' has rows outside 0..{num_channels - 1}")
    return rows


def _frames_in(size: int, num_channels: int, where: str) -> int:
    if size < HEADER_BYTES:
        raise FormatError(f"{where}: {size} bytes is shorter than the 8-byte eCube header")
    frames, partial = divmod(size - HEADER_BYTES, 2 * num_channels)
    if partial:
        logger.warning("%s: ends in a partial frame (%d bytes); ignoring it", where, partial)
    return frames


class HengenlabReader(BlockReader):
    """Read one eCube ``.bin`` file.

    The channel count comes from the experiment's ``num_channels`` (checked against
    the file name when it carries one); channels are in probe order through the
    batch's ``channel_map``; only the requested frame range is read (memory mapped
    on a local disk). ``gain_uv`` is the experiment's ``voltage_scaling_factor``
    when it is set (not 1), else the eCube constant ``GAIN_UV``.
    """

    raw_dtype = np.dtype(np.int16)

    def __init__(
        self,
        source: ByteSource,
        batch: BatchMetadata,
        experiment: ExperimentMetadata,
        block: BlockMetadata,
    ) -> None:
        super().__init__(source, batch, experiment, block)
        n = int(experiment.num_channels)
        named = channels_in_name(source.uri)
        if named is not None and named != n:
            raise FormatError(
                f"{source.uri}: the file name says {named} channels but experiment {experiment.name!r} of "
                f"batch {batch.uuid!r} says num_channels={n}"
            )
        if n <= 0:
            raise FormatError(
                f"experiment {experiment.name!r} of batch {batch.uuid!r}: num_channels must be > 0"
            )
        self.num_channels = n
        self.num_frames = _frames_in(source.size, n, source.uri)
        self.sample_rate = float(experiment.sample_rate or SAMPLE_RATE)
        self.check_num_frames(self.num_frames)
        self.rows = channel_map(batch, n)
        self.layout = InterleavedLayout(source, HEADER_BYTES, n, self.num_frames, "<i2")

    def channel_info(self) -> ChannelInfo:
        """Return probe-order ids ``0..n-1``, ``gain_uv`` in µV per count, offset 0."""
        factor = float(self.experiment.voltage_scaling_factor)
        return ChannelInfo.uniform(self.num_channels, factor if factor != 1.0 else GAIN_UV, 0.0)

    def read_raw(self, start: int, stop: int, channels: np.ndarray) -> np.ndarray:
        """Return frames ``[start, stop)`` of probe channels ``channels`` as int16 ``[channels, frames]``."""
        return self.layout.read_columns(start, stop, self.rows[np.asarray(channels, dtype=np.int64)])

    def close(self) -> None:
        """Release the memory map and the source."""
        self.layout.close()
        super().close()


def generate_metadata(
    files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    uuid: str | None = None,
    *,
    experiment_prefix: str = "",
    num_channels: int | None = None,
    channel_map: Sequence[int] | None = None,
    max_workers: int = 16,
) -> BatchMetadata:
    """Build the metadata of a Hengenlab batch: one experiment per folder of ``.bin`` files.

    Blocks are ordered by their eCube header timestamp (stored as ``ecube_time``).
    Experiments are named after the folder holding their files
    (``original/<experiment>/*.bin``).

    Parameters
    ----------
    files
        The ``.bin`` files (local paths or ``s3://`` URIs), or a folder/prefix searched recursively.
    uuid
        The batch UUID; by default the name of the folder holding ``original/``.
    experiment_prefix
        Prepended to the experiment names.
    num_channels
        Channels per frame when the file names do not say.
    channel_map
        Probe order → file row, stored as the batch's top-level ``channel_map``.
    max_workers
        Headers are read in parallel with this many threads.

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        No ``.bin`` files, or the channel count is unknown or inconsistent.
    """
    from braingeneers.data.generators import find_batch_files, relative_path
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import open_source

    uris, base, uuid = find_batch_files(
        files, lambda u: u.endswith(".bin"), ".bin files", uuid, "hengenlab-batch", sort_given=False
    )

    def probe(uri: str) -> tuple[str, int, int]:
        source = open_source(uri)
        try:
            return uri, ecube_time(source), source.size
        finally:
            source.close()

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(uris)))) as pool:
        found = sorted(pool.map(probe, uris), key=lambda item: (item[1], item[0]))

    experiments: dict[str, ExperimentMetadata] = {}
    for uri, stamp, size in found:
        n = channels_in_name(uri) or num_channels
        if n is None:
            raise FormatError(f"{uri}: the file name does not give the channel count; pass num_channels")
        name = experiment_prefix + uri.replace("\\", "/").rsplit("/", 2)[-2]
        path = relative_path(base, uri)
        experiment = experiments.get(name)
        if experiment is None:
            experiment = experiments[name] = ExperimentMetadata(
                name=name,
                hardware="Hengenlab",
                num_channels=n,
                sample_rate=SAMPLE_RATE,
                voltage_scaling_factor=GAIN_UV,
                units="µV",
            )
        elif experiment.num_channels != n:
            raise FormatError(
                f"{uri}: {n} channels, but other files of {name!r} have {experiment.num_channels}"
            )
        extra: dict[str, Any] = {"ecube_time": stamp}
        experiment.blocks.append(BlockMetadata(path=path, num_frames=_frames_in(size, n, uri), extra=extra))
    top: dict[str, Any] = {}
    if channel_map is not None:
        top["channel_map"] = [int(c) for c in channel_map]
    return BatchMetadata(uuid=uuid, ephys_experiments=experiments, extra=top, source=base)

"""Readers of headerless-layout flat binaries (Raspi, Intan-derived): int16 frames after a fixed header."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from braingeneers.core.errors import FormatError
from braingeneers.data.formats._base import BlockReader
from braingeneers.data.formats._interleaved import InterleavedLayout

if TYPE_CHECKING:
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import ByteSource

__all__ = ["FlatReader"]

logger = logging.getLogger(__name__)


class FlatReader(BlockReader):
    """Read int16 frames of ``num_channels`` samples that follow a header of :meth:`header_bytes` bytes.

    The file stores no channel count or scale: both come from the experiment.
    A trailing partial frame is ignored (logged).
    """

    raw_dtype = np.dtype(np.int16)
    #: Sample type and byte order in the file.
    byte_order = "<i2"

    @staticmethod
    def header_bytes(experiment: ExperimentMetadata) -> int:
        """Return the bytes before frame 0."""
        raise NotImplementedError

    def __init__(
        self,
        source: ByteSource,
        batch: BatchMetadata,
        experiment: ExperimentMetadata,
        block: BlockMetadata,
    ) -> None:
        super().__init__(source, batch, experiment, block)
        n = int(experiment.num_channels)
        if n <= 0:
            raise FormatError(
                f"experiment {experiment.name!r} of batch {batch.uuid!r}: num_channels must be > 0"
            )
        start = self.header_bytes(experiment)
        if start < 0 or start > source.size:
            raise FormatError(f"{source.uri}: header of {start} bytes but the file has {source.size} bytes")
        frames, partial = divmod(source.size - start, 2 * n)
        if partial:
            logger.warning("%s: ends in a partial frame (%d bytes); ignoring it", source.uri, partial)
        self.num_channels = n
        self.num_frames = frames
        self.sample_rate = float(experiment.sample_rate)
        self.check_num_frames(frames)
        self.layout = InterleavedLayout(source, start, n, frames, self.byte_order)

    def read_raw(self, start: int, stop: int, channels: np.ndarray) -> np.ndarray:
        """Return frames ``[start, stop)`` of ``channels`` as int16 ``[channels, frames]``."""
        return self.layout.read_columns(start, stop, np.asarray(channels, dtype=np.int64))

    def close(self) -> None:
        """Release the memory map and the source."""
        self.layout.close()
        super().close()

"""The reader interface every recording format implements: one block (file) in raw counts."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from braingeneers.core.errors import FormatError

if TYPE_CHECKING:
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import ByteSource

__all__ = ["BlockReader", "ChannelInfo"]


@dataclass(frozen=True)
class ChannelInfo:
    """Per-channel identity and scaling of one block.

    Attributes
    ----------
    ids
        int64 ``[n_channels]``: channel ids the user sees (file channel numbers, or well-local ids).
    gain_uv
        float64 ``[n_channels]``: µV per count.
    offset
        float64 ``[n_channels]``: counts subtracted before the gain (Maxwell 512, most formats 0).
    positions
        float64 ``[n_channels, 2]`` electrode x, y in µm, when known.
    electrodes
        int64 ``[n_channels]`` electrode ids, when known.
    """

    ids: np.ndarray
    gain_uv: np.ndarray
    offset: np.ndarray
    positions: np.ndarray | None = None
    electrodes: np.ndarray | None = None

    @classmethod
    def uniform(
        cls,
        num_channels: int,
        gain_uv: float,
        offset: float = 0.0,
        *,
        ids: np.ndarray | None = None,
        positions: np.ndarray | None = None,
        electrodes: np.ndarray | None = None,
    ) -> ChannelInfo:
        """Build the info of ``num_channels`` channels sharing one gain and offset."""
        return cls(
            ids=np.arange(num_channels, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64),
            gain_uv=np.full(num_channels, gain_uv, dtype=np.float64),
            offset=np.full(num_channels, offset, dtype=np.float64),
            positions=positions,
            electrodes=electrodes,
        )


class BlockReader(abc.ABC):
    """One block (file) of an experiment; reads raw integer counts.

    Subclasses call ``super().__init__(...)`` and then set ``num_channels``,
    ``num_frames``, ``sample_rate`` and ``raw_dtype`` from the file (checking
    them against the metadata with :meth:`check_num_frames`).

    Parameters
    ----------
    source
        The bytes of the block's file.
    batch, experiment, block
        The metadata the block was found through.
    """

    num_channels: int
    num_frames: int
    sample_rate: float
    raw_dtype: np.dtype

    def __init__(
        self,
        source: ByteSource,
        batch: BatchMetadata,
        experiment: ExperimentMetadata,
        block: BlockMetadata,
    ) -> None:
        self.source = source
        self.batch = batch
        self.experiment = experiment
        self.block = block

    def channel_info(self) -> ChannelInfo:
        """Return channel ids, gains and offsets (default: ids 0..n-1, the metadata's scaling)."""
        gain = float(self.experiment.voltage_scaling_factor)
        return ChannelInfo.uniform(self.num_channels, gain, float(self.experiment.offset))

    @abc.abstractmethod
    def read_raw(self, start: int, stop: int, channels: np.ndarray) -> np.ndarray:
        """Return frames ``[start, stop)`` of the given channels as raw counts.

        ``channels`` are sorted, unique, validated int64 indices ``0..num_channels-1``;
        the range is already validated. The result is shaped
        ``[len(channels), stop - start]`` with dtype ``raw_dtype``.
        """

    def close(self) -> None:
        """Release the file handles this reader holds."""
        self.source.close()

    @classmethod
    def probe(cls, source: ByteSource) -> bool:
        """Return whether the bytes of ``source`` look like this format (default: unknown, False)."""
        return False

    def check_num_frames(self, in_file: int) -> None:
        """Raise a ``FormatError`` if the metadata's ``num_frames`` differs from the file's frame count."""
        claimed = self.block.num_frames
        if claimed != in_file:
            raise FormatError(
                f"{self.source.uri}: metadata of batch {self.batch.uuid!r}, experiment "
                f"{self.experiment.name!r} says num_frames={claimed} but the file holds {in_file} frames; "
                "regenerate metadata.json (braingeneers data generate-metadata) or fix the block entry"
            )

    def __enter__(self) -> BlockReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Legacy Raspi flat binaries: big-endian int16, frame-interleaved, after a header of ``offset / 32`` bytes.

See ``docs/formats/flat.md``. The experiment's ``num_channels`` gives the samples per
frame; its ``offset`` field (legacy meaning) is 32 x the header size in bytes; a
trailing partial frame is ignored. µV = ``voltage_scaling_factor`` x counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from braingeneers.data.formats._base import ChannelInfo
from braingeneers.data.formats._flat import FlatReader

if TYPE_CHECKING:
    from braingeneers.data.metadata import ExperimentMetadata

__all__ = ["RaspiReader"]


class RaspiReader(FlatReader):
    """Read one Raspi flat binary file (big-endian int16 frames after ``offset / 32`` header bytes)."""

    byte_order = ">i2"

    @staticmethod
    def header_bytes(experiment: ExperimentMetadata) -> int:
        """Return the header size: the experiment's ``offset`` / 32 (legacy convention)."""
        return int(float(experiment.offset) // 32)

    def channel_info(self) -> ChannelInfo:
        """Return ids ``0..n-1``, ``gain_uv`` = ``voltage_scaling_factor``, offset 0."""
        return ChannelInfo.uniform(self.num_channels, float(self.experiment.voltage_scaling_factor), 0.0)

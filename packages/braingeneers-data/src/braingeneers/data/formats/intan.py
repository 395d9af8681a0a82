"""Braingeneers' Intan-derived flat binaries: an 8-byte header, then little-endian int16 frames.

These are not native Intan ``.rhd``/``.rhs`` files.

See ``docs/formats/flat.md``. The experiment's ``num_channels`` gives the samples per
frame; a trailing partial frame is ignored. µV = ``voltage_scaling_factor`` x
(counts - ``offset``), the default scaling of ``BlockReader``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from braingeneers.data.formats._flat import FlatReader

if TYPE_CHECKING:
    from braingeneers.data.metadata import ExperimentMetadata

__all__ = ["HEADER_BYTES", "IntanReader"]

#: Bytes before frame 0.
HEADER_BYTES = 8


class IntanReader(FlatReader):
    """Read one Intan-derived flat binary file (little-endian int16 frames after an 8-byte header)."""

    byte_order = "<i2"

    @staticmethod
    def header_bytes(experiment: ExperimentMetadata) -> int:
        """Return the header size (8 bytes)."""
        return HEADER_BYTES

"""Adapter exposing a :class:`~braingeneers.data.recording.Recording` as a SpikeInterface recording."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from braingeneers.data.recording import Recording

__all__ = ["as_spikeinterface"]


def as_spikeinterface(recording: Recording) -> Any:
    """Return a lazy ``spikeinterface.core.BaseRecording`` reading through ``recording``.

    Traces are the raw counts; channel gains and offsets convert them to µV the
    SpikeInterface way (``raw * gain + offset``, offset = ``-offset_counts * gain``).
    """
    from spikeinterface.core import BaseRecording, BaseRecordingSegment

    class _Segment(BaseRecordingSegment):  # type: ignore[misc]
        def __init__(self, source: Recording) -> None:
            super().__init__(sampling_frequency=source.sample_rate, t_start=None)
            self._source = source

        def get_num_samples(self) -> int:
            return self._source.num_frames

        def get_traces(
            self, start_frame: Any = None, end_frame: Any = None, channel_indices: Any = None
        ) -> Any:
            start = 0 if start_frame is None else int(start_frame)
            stop = self._source.num_frames if end_frame is None else int(end_frame)
            channels = None
            if channel_indices is not None:
                channels = np.arange(self._source.num_channels)[channel_indices]
            return self._source.read(start, stop, channels, units="raw").T

    class _Recording(BaseRecording):  # type: ignore[misc]
        def __init__(self, source: Recording) -> None:
            info = source.channel_info
            super().__init__(sampling_frequency=source.sample_rate, channel_ids=info.ids, dtype=source.dtype)
            self.add_recording_segment(_Segment(source))
            self.set_channel_gains(info.gain_uv)
            self.set_channel_offsets(-info.offset * info.gain_uv)
            if info.positions is not None:
                positions = np.nan_to_num(np.asarray(info.positions, dtype=np.float64), nan=0.0)
                self.set_property("location", positions)
            self._kwargs: dict[str, Any] = {}

    return _Recording(recording)

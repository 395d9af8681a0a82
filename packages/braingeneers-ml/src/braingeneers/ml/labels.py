"""Targets for windows from a table of labelled intervals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["IntervalLabels"]

_MISSING: Any = object()


class IntervalLabels:
    """Label a window by the interval that contains its centre frame.

    Parameters
    ----------
    recording, start, stop
        One row per labelled interval ``[start, stop)`` of recording index ``recording`` (the
        recording's position in the dataset's list), in frames.
    label
        The label of each row (numbers, strings, anything picklable).
    default
        Label of windows whose centre lies in no interval; when not given such a window raises
        ``LookupError`` naming it.

    Notes
    -----
    Intervals of one recording must not overlap (checked here).
    """

    def __init__(
        self,
        recording: Sequence[int] | np.ndarray,
        start: Sequence[int] | np.ndarray,
        stop: Sequence[int] | np.ndarray,
        label: Sequence[Any] | np.ndarray,
        default: Any = _MISSING,
    ) -> None:
        rec = np.asarray(recording, dtype=np.int64)
        lo = np.asarray(start, dtype=np.int64)
        hi = np.asarray(stop, dtype=np.int64)
        labels = list(label)
        if not (rec.shape == lo.shape == hi.shape == (len(labels),)):
            raise ValueError(
                "IntervalLabels: recording, start, stop and label must be 1-D and of equal length, got "
                f"{rec.shape}, {lo.shape}, {hi.shape}, ({len(labels)},)"
            )
        if np.any(hi <= lo):
            row = int(np.argmax(hi <= lo))
            raise ValueError(f"IntervalLabels: row {row} has stop {hi[row]} <= start {lo[row]}")
        order = np.lexsort((lo, rec))
        self.recording, self.start, self.stop = rec[order], lo[order], hi[order]
        self.label = [labels[i] for i in order]
        same = self.recording[1:] == self.recording[:-1]
        overlap = same & (self.start[1:] < self.stop[:-1])
        if np.any(overlap):
            row = int(np.argmax(overlap))
            raise ValueError(
                f"IntervalLabels: intervals [{self.start[row]}, {self.stop[row]}) and "
                f"[{self.start[row + 1]}, {self.stop[row + 1]}) of recording {self.recording[row]} overlap"
            )
        self.default = default

    def __call__(self, recording: int, start: int, stop: int) -> Any:
        """Return the label of window ``[start, stop)`` of ``recording``."""
        centre = (start + stop) // 2
        lo = int(np.searchsorted(self.recording, recording, side="left"))
        hi = int(np.searchsorted(self.recording, recording, side="right"))
        row = lo + int(np.searchsorted(self.start[lo:hi], centre, side="right")) - 1
        if lo <= row < hi and self.start[row] <= centre < self.stop[row]:
            return self.label[row]
        if self.default is _MISSING:
            raise LookupError(
                f"no labelled interval contains frame {centre}, the centre of window [{start}, {stop}) of "
                f"recording {recording}; pass default= to IntervalLabels to label such windows"
            )
        return self.default

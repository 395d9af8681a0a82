"""``EphysDataset``: the legacy CSV-driven window dataset, on top of the new readers."""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from braingeneers.ml.recordings import HandleCache, RecordingRef, open_and_measure

__all__ = ["EphysDataset"]

log = logging.getLogger(__name__)

ALIGNS = ("center", "left", "right")
BOUNDS = ("exception", "pad", "flush")


@dataclass(frozen=True)
class _Row:
    start: int  # first frame of the window (may be < 0 or run past the end with pad/flush)
    lo: int  # usable frames [lo, hi): the row's span clipped to the recording
    hi: int
    channels: np.ndarray | None  # None = all


def _cell(row: list[str], column: int) -> str:
    return row[column].strip() if column < len(row) else ""


def _as_int(text: str, what: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} is {text!r}, not a number") from None
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"{what} is {text!r}, not a whole number of frames")
    return int(value)


class EphysDataset:
    """Windows listed in a CSV file, as the legacy ``braingeneers.ml.EphysDataset`` had them.

    Each CSV row (after a header line) names, by column position, an ``offset`` frame, a
    ``length`` and a channel list (``"1/2/3"``; a cell containing a letter, e.g. ``"all"``, means
    every channel of the recording). Item ``i`` is a float64 numpy array ``[channels,
    sample_size]`` in µV: the window of row ``i``, anchored at its offset by ``align``:

    - ``"left"``: frames ``[offset, offset + sample_size)``;
    - ``"right"``: frames ``(offset - sample_size, offset]``;
    - ``"center"``: frames ``[offset - sample_size // 2, offset - sample_size // 2 + sample_size)``.

    The frames a row may use are its span ``[offset, offset + length)`` when ``length >= 0``
    (the row's own cell, else the constructor's ``length``), or the whole recording when
    ``length`` is ``-1`` or the cell is empty, in both cases clipped to the recording. Where the
    window leaves them, ``bounds`` decides:

    - ``"exception"``: construction raises ``IndexError`` naming the row;
    - ``"pad"``: the window keeps its place and frames outside are zeros;
    - ``"flush"``: the usable frames of the window are copied to the start of the output and
      the rest is zeros.

    Unlike the legacy class, metadata is loaded once, every row is parsed and checked here
    (bad rows fail at construction, not in a DataLoader worker), files are opened once per
    process, and "all channels" means the recording's channel count, not 1028.

    Parameters
    ----------
    batch_uuid
        Batch UUID (or a batch folder / ``metadata.json`` path or URI).
    experiment_num
        Experiment index (or name) within the batch.
    sample_size
        Window length in frames.
    attr_csv
        Path or ``s3://`` URI of the CSV file.
    align
        ``"center"``, ``"left"`` or ``"right"``.
    bounds
        ``"exception"``, ``"pad"`` or ``"flush"``.
    length
        Span length for rows whose length cell is empty; ``-1`` for the whole recording.
    channels
        Channel indices for rows whose channel cell is empty (default all channels).
    """

    def __init__(  # noqa: PLR0917 (the legacy positional signature)
        self,
        batch_uuid: str | os.PathLike[str],
        experiment_num: int | str,
        sample_size: int,
        attr_csv: str | os.PathLike[str],
        align: str = "center",
        bounds: str = "exception",
        length: int = -1,
        channels: Any = None,
    ) -> None:
        if align not in ALIGNS:
            raise ValueError(f"EphysDataset: align must be one of {ALIGNS}, got {align!r}")
        if bounds not in BOUNDS:
            raise ValueError(f"EphysDataset: bounds must be one of {BOUNDS}, got {bounds!r}")
        self.sample_size = int(sample_size)
        if self.sample_size < 1:
            raise ValueError(f"EphysDataset: sample_size must be >= 1, got {sample_size}")
        self.align, self.bounds, self.length = align, bounds, int(length)
        self.ref = RecordingRef(os.fspath(batch_uuid), experiment_num).resolved()
        cache, shapes = open_and_measure([self.ref], [None])
        self._cache: HandleCache = cache
        self.num_channels = shapes[0].num_channels
        self.num_frames = shapes[0].num_frames
        self.default_channels = (
            None if channels is None else self._check_channels(np.atleast_1d(channels), "")
        )
        self.attr_csv = os.fspath(attr_csv)
        self.rows = [self._parse(i, r) for i, r in enumerate(self._read_csv(self.attr_csv))]

    @staticmethod
    def _read_csv(uri: str) -> list[list[str]]:
        from braingeneers.core import storage

        with storage.open(uri, "r") as handle:
            text = handle.read()
        rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
        return rows[1:]  # the first line is the header

    def _check_channels(self, selection: np.ndarray, where: str) -> np.ndarray:
        if not np.issubdtype(selection.dtype, np.integer):
            raise TypeError(f"EphysDataset{where}: channels must be integer indices, got {selection!r}")
        bad = selection[(selection < 0) | (selection >= self.num_channels)]
        if bad.size:
            raise IndexError(
                f"EphysDataset{where}: channels {bad.tolist()} are out of range for the recording's "
                f"{self.num_channels} channels (valid 0..{self.num_channels - 1})"
            )
        return selection.astype(np.int64)

    def _parse(self, index: int, row: list[str]) -> _Row:
        where = f" row {index + 1} of {self.attr_csv}"
        offset = _as_int(_cell(row, 0), f"EphysDataset{where}: offset")
        length_text = _cell(row, 1)
        length = _as_int(length_text, f"EphysDataset{where}: length") if length_text else self.length
        channel_text = _cell(row, 2)
        if not channel_text:
            channels = self.default_channels
        elif re.search(r"[A-Za-z]", channel_text):
            channels = None
        else:
            parts = [p for p in re.split(r"[/,;\s]+", channel_text) if p]
            channels = self._check_channels(
                np.array([_as_int(p, f"EphysDataset{where}: channel") for p in parts], dtype=np.int64), where
            )
        lo, hi = (offset, offset + length) if length >= 0 else (0, self.num_frames)
        lo, hi = max(lo, 0), min(hi, self.num_frames)
        start = {
            "left": offset,
            "right": offset - self.sample_size + 1,
            "center": offset - self.sample_size // 2,
        }[self.align]
        if self.bounds == "exception" and not (lo <= start and start + self.sample_size <= hi):
            raise IndexError(
                f"EphysDataset{where}: the {self.align}-aligned window [{start}, {start + self.sample_size}) "
                f"at offset {offset} leaves the usable frames [{lo}, {hi}) (row span clipped to the "
                f"recording's {self.num_frames} frames); fix the row or use bounds='pad' or 'flush'"
            )
        return _Row(start, lo, hi, channels)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> np.ndarray:
        row = self.rows[index]
        n = self.num_channels if row.channels is None else row.channels.size
        out = np.zeros((n, self.sample_size), dtype=np.float64)
        first, last = max(row.start, row.lo), min(row.start + self.sample_size, row.hi)
        if last > first:
            data = self._cache.get(0).read(first, last, channels=row.channels, units="uV", dtype=np.float64)
            at = first - row.start if self.bounds != "flush" else 0
            out[:, at : at + last - first] = data
        return out

    def close(self) -> None:
        """Close the recording this process opened."""
        self._cache.close()

"""Shared fixtures: small recordings on disk and core's isolated endpoint / loopback S3 server."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from braingeneers.core.testing import isolated_endpoint, s3_server, store

__all__ = ["isolated_endpoint", "s3_server", "store"]

SAMPLE_RATE = 20_000.0


class NpyRecording:
    """A file-backed recording following the ``Recording`` contract (test double)."""

    def __init__(self, path: Path, gain: float = 0.5, offset: float = 512.0) -> None:
        self.path = path
        self._data = np.load(path, mmap_mode="r")
        self.gain, self.offset = gain, offset
        self.closed = False

    @property
    def num_channels(self) -> int:
        return int(self._data.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self._data.shape[1])

    sample_rate = SAMPLE_RATE

    @property
    def channel_ids(self) -> np.ndarray:
        return np.arange(self.num_channels, dtype=np.int64) + 100

    def read(
        self,
        start: int = 0,
        stop: int | None = None,
        channels: Any = None,
        units: str = "uV",
        dtype: Any = None,
    ) -> np.ndarray:
        stop = self.num_frames if stop is None else stop
        if not 0 <= start <= stop <= self.num_frames:
            raise IndexError(f"frames [{start}, {stop}) outside 0..{self.num_frames}")
        rows = slice(None) if channels is None else np.asarray(channels)
        raw = np.asarray(self._data[rows, start:stop])
        if units == "raw":
            return raw if dtype is None else raw.astype(dtype)
        return ((raw.astype(np.float64) - self.offset) * self.gain).astype(dtype or np.float32)

    def close(self) -> None:
        self.closed = True


@dataclass(frozen=True)
class NpyOpener:
    """Picklable opener; appends the opening process id to ``log`` when given."""

    path: Path
    log: Path | None = None

    def __call__(self) -> NpyRecording:
        if self.log is not None:
            with open(self.log, "a") as handle:
                handle.write(f"{os.getpid()}\n")
        return NpyRecording(self.path)


@pytest.fixture
def make_recording(tmp_path: Path) -> Callable[..., NpyOpener]:
    """Return ``make(num_channels, num_frames, seed, log=False)`` writing a recording, giving its opener."""

    def make(num_channels: int = 8, num_frames: int = 5000, seed: int = 0, log: bool = False) -> NpyOpener:
        rng = np.random.default_rng(seed)
        data = rng.integers(0, 1024, size=(num_channels, num_frames), dtype=np.int16)
        path = tmp_path / f"rec-{num_channels}-{num_frames}-{seed}.npy"
        np.save(path, data)
        return NpyOpener(path, tmp_path / f"opens-{seed}.log" if log else None)

    return make

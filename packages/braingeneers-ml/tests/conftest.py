"""Shared fixtures: small synthetic Maxwell recordings, core's isolated endpoint and loopback S3."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from braingeneers.core.testing import isolated_endpoint, s3_server, store
from braingeneers.data.metadata import BatchMetadata
from braingeneers.data.recording import Recording
from braingeneers.ml import RecordingRef

__all__ = ["isolated_endpoint", "s3_server", "store"]

SAMPLE_RATE = 20_000.0


@dataclass(frozen=True)
class LoggedRef:
    """A picklable opener that appends the opening process id to ``log`` and opens ``ref``."""

    ref: RecordingRef
    log: Path

    def __call__(self) -> Recording:
        with open(self.log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        return self.ref.open()  # type: ignore[return-value]


def maxwell_batch(
    folder: Path, num_channels: int, num_frames: int, seed: int, files: int = 1
) -> BatchMetadata:
    """Write synthetic Maxwell files ``rec0..`` (data_store layout) into ``folder``; return the metadata."""
    from braingeneers.data.formats import maxwell
    from braingeneers.data.synthetic import synthetic_signal, write_maxwell

    for i in range(files):
        signal, _ = synthetic_signal(num_channels, num_frames, SAMPLE_RATE, seed=seed + i)
        counts = (signal.astype(np.int32) + 512).astype(np.uint16)
        write_maxwell(counts, folder / "original" / "data" / f"rec{i}.raw.h5", layout="data_store")
    return maxwell.generate_metadata(folder)


@pytest.fixture
def make_recording(tmp_path: Path) -> Callable[..., Any]:
    """Return ``make(num_channels, num_frames, seed, log=False)``: a real synthetic Maxwell recording.

    The result is a :class:`RecordingRef` (or, with ``log=True``, a :class:`LoggedRef` recording
    which processes open it, in ``<tmp>/opens-<seed>.log``); calling it opens the recording.
    """

    def make(num_channels: int = 8, num_frames: int = 5000, seed: int = 0, log: bool = False) -> Any:
        meta = maxwell_batch(tmp_path / f"batch-{seed}", num_channels, num_frames, seed)
        ref = RecordingRef(meta, "rec0")
        return LoggedRef(ref, tmp_path / f"opens-{seed}.log") if log else ref

    return make

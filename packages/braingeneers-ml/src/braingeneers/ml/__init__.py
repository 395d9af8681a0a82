"""PyTorch datasets, samplers and transforms over Braingeneers recordings.

Importing this package (or any of its modules) does not import torch; the datasets and
transforms import it when first created or called.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__: str = version("braingeneers-ml")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from braingeneers.ml.ephys_dataset import EphysDataset
    from braingeneers.ml.labels import IntervalLabels
    from braingeneers.ml.recordings import RecordingRef
    from braingeneers.ml.samplers import EventWindowSampler, RandomWindowSampler, SlidingWindowSampler
    from braingeneers.ml.streaming import ChunkStream
    from braingeneers.ml.windows import WindowDataset

_LAZY = {
    "ChunkStream": "braingeneers.ml.streaming",
    "EphysDataset": "braingeneers.ml.ephys_dataset",
    "EventWindowSampler": "braingeneers.ml.samplers",
    "IntervalLabels": "braingeneers.ml.labels",
    "RandomWindowSampler": "braingeneers.ml.samplers",
    "RecordingRef": "braingeneers.ml.recordings",
    "SlidingWindowSampler": "braingeneers.ml.samplers",
    "WindowDataset": "braingeneers.ml.windows",
}

__all__ = [
    "ChunkStream",
    "EphysDataset",
    "EventWindowSampler",
    "IntervalLabels",
    "RandomWindowSampler",
    "RecordingRef",
    "SlidingWindowSampler",
    "WindowDataset",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'braingeneers.ml' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

"""Spike-train analysis for organoid recordings.

``SpikeData`` and the network metrics live here; numba kernels compile on first
use, so importing this package loads neither numba nor scipy nor matplotlib.
The public names below are imported from their modules on first access.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__: str = version("braingeneers-analysis")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from .attributes import NestIDNeuronAttributes, NeuronAttributes
    from .bursts import burst_detection
    from .criticality import DCCResult
    from .detection import detect_spikes
    from .filtering import butter_filter, filter
    from .metrics import cumulative_moving_average, fano_factors, pearson, population_firing_rate
    from .phy import load_spike_data, read_phy_files
    from .sampling import best_effort_sample
    from .spikedata import SpikeData
    from .sttc import spike_time_tiling
    from .surrogates import randomize_raster, randomize_raster_greedy, randomize_raster_okun

_LAZY = {
    "DCCResult": "criticality",
    "NestIDNeuronAttributes": "attributes",
    "NeuronAttributes": "attributes",
    "SpikeData": "spikedata",
    "best_effort_sample": "sampling",
    "burst_detection": "bursts",
    "butter_filter": "filtering",
    "cumulative_moving_average": "metrics",
    "detect_spikes": "detection",
    "fano_factors": "metrics",
    "filter": "filtering",
    "load_spike_data": "phy",
    "pearson": "metrics",
    "population_firing_rate": "metrics",
    "randomize_raster": "surrogates",
    "randomize_raster_greedy": "surrogates",
    "randomize_raster_okun": "surrogates",
    "read_phy_files": "phy",
    "spike_time_tiling": "sttc",
}

__all__ = [
    "DCCResult",
    "NestIDNeuronAttributes",
    "NeuronAttributes",
    "SpikeData",
    "__version__",
    "best_effort_sample",
    "burst_detection",
    "butter_filter",
    "cumulative_moving_average",
    "detect_spikes",
    "fano_factors",
    "filter",
    "load_spike_data",
    "pearson",
    "population_firing_rate",
    "randomize_raster",
    "randomize_raster_greedy",
    "randomize_raster_okun",
    "read_phy_files",
    "spike_time_tiling",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

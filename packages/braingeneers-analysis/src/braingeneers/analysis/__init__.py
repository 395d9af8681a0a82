"""Spike-train analysis for organoid recordings.

``SpikeData`` and the network metrics live here; numba kernels compile on first
use, so importing this package loads neither numba nor matplotlib.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("braingeneers-analysis")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

"""PyTorch datasets and samplers over Braingeneers recordings.

Importing this package does not import torch; the datasets do when first used.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("braingeneers-ml")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

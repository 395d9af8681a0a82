"""Readers and metadata for Braingeneers recordings.

Maxwell, Axion, Hengenlab and MEArec recordings, batch ``metadata.json`` and the
``Recording`` API live here. Importing this package loads no heavy dependency.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("braingeneers-data")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

"""Readers and metadata for Braingeneers recordings.

Maxwell, Axion, Hengenlab, Raspi/Intan, MEArec and NWB recordings and their Zarr copies,
batch ``metadata.json`` and the ``Recording`` API live here. The everyday names are
importable from the package itself::

    from braingeneers.data import load_metadata, open_experiment

They are imported from their modules on first access, so importing this package loads no
heavy dependency (h5py, zarr).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__: str = version("braingeneers-data")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from .metadata import (
        BatchMetadata,
        BlockMetadata,
        ExperimentMetadata,
        list_uuids,
        load_metadata,
        save_metadata,
    )
    from .recording import Recording, open_experiment

_LAZY = {
    "BatchMetadata": "metadata",
    "BlockMetadata": "metadata",
    "ExperimentMetadata": "metadata",
    "Recording": "recording",
    "list_uuids": "metadata",
    "load_metadata": "metadata",
    "open_experiment": "recording",
    "save_metadata": "metadata",
}

__all__ = [
    "BatchMetadata",
    "BlockMetadata",
    "ExperimentMetadata",
    "Recording",
    "__version__",
    "list_uuids",
    "load_metadata",
    "open_experiment",
    "save_metadata",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""Writers of small valid recording files of every format, with known content.

Each writer takes raw counts ``[channels, frames]`` and a destination path and
returns the path written. Names are imported lazily (h5py only when a writer runs)::

    from braingeneers.data.synthetic import synthetic_signal, write_maxwell

    counts, spike_frames = synthetic_signal(16, 20000, seed=1)
    write_maxwell(counts + 512, "batch/original/data/demo.raw.h5")
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "synthetic_signal",
    "write_axion",
    "write_hengenlab",
    "write_intan",
    "write_maxwell",
    "write_maxwell_batch",
    "write_mearec",
    "write_nwb",
    "write_raspi",
]

_WHERE = {
    "synthetic_signal": "signal",
    "write_maxwell": "maxwell",
    "write_maxwell_batch": "maxwell",
    "write_nwb": "nwb",
    "write_mearec": "mearec",
    "write_axion": "axion",
    "write_hengenlab": "hengenlab",
    "write_raspi": "flat",
    "write_intan": "flat",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""The legacy module path ``braingeneers.analysis.analysis``.

Old notebooks did ``from braingeneers.analysis.analysis import SpikeData, load_spike_data``;
every public name of :mod:`braingeneers.analysis` resolves here too, imported on first
access (so importing this module loads no numba, scipy or matplotlib).
"""

from __future__ import annotations

from typing import Any

import braingeneers.analysis as _package

__all__ = [name for name in _package.__all__ if name != "__version__"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(_package, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

"""``braingeneers demo``: the toolkit's main job, end to end, on an embedded local endpoint.

The meta-package ships this one module because the demo needs several components at
once (braingeneers-data and braingeneers-analysis with its ``plot`` extra, installed by
``pip install "braingeneers[demo]"`` or ``[all]``); no component may depend on all of them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("braingeneers")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

"""The one deprecation warning of the compatibility modules."""

from __future__ import annotations

import warnings


def warn_moved(old: str, new: str) -> None:
    """Warn that legacy module ``old`` is kept for compatibility and ``new`` replaces it."""
    warnings.warn(f"{old} is deprecated: use {new} instead", DeprecationWarning, stacklevel=3)

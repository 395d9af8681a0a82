"""Legacy ``braingeneers.utils.smart_open_braingeneers``: ``open`` bound to the current endpoint.

Use :func:`braingeneers.core.open` instead.
"""

from __future__ import annotations

from braingeneers.core.storage import open
from braingeneers.utils._deprecation import warn_moved

__all__ = ["open"]

warn_moved("braingeneers.utils.smart_open_braingeneers", "braingeneers.core.open")

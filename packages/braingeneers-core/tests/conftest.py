"""Fixtures: a real S3-compatible server (moto's standalone server) on loopback, and local mirrors.

They live in :mod:`braingeneers.core.testing` so every distribution's tests share them.
"""

from __future__ import annotations

from braingeneers.core.testing import isolated_endpoint, s3_server, store

__all__ = ["isolated_endpoint", "s3_server", "store"]

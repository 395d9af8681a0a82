"""Shared fixtures: core's isolated endpoint, loopback S3 server and S3-or-mirror ``store``."""

from __future__ import annotations

from braingeneers.core.testing import isolated_endpoint, s3_server, store

__all__ = ["isolated_endpoint", "s3_server", "store"]

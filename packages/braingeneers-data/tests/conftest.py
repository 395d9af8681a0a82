"""Shared fixtures: core's isolated endpoint, loopback S3 server and S3-or-mirror ``store``.

``publish`` uploads a local batch folder to ``s3://braingeneers/ephys/<uuid>/``
on the current endpoint (the moto server or a local mirror, per ``store``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from braingeneers.core.testing import isolated_endpoint, s3_server, store

__all__ = ["isolated_endpoint", "publish", "s3_server", "store"]


@pytest.fixture
def publish() -> Callable[[Path, str], str]:
    """Return a function uploading every file of a folder under ``s3://braingeneers/ephys/<uuid>/``."""
    from braingeneers.core.transfer import upload

    def run(folder: Path, uuid: str) -> str:
        prefix = f"s3://braingeneers/ephys/{uuid}/"
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                upload(path, prefix + path.relative_to(folder).as_posix())
        return prefix

    return run

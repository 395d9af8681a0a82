"""Test helpers shared by every braingeneers distribution's test suite.

Import the fixtures into a ``conftest.py`` to use them::

    from braingeneers.core.testing import isolated_endpoint, s3_server, store  # noqa: F401

The module needs ``pytest`` (and ``moto[server]`` for :func:`s3_server`), which the
distributions list in their ``test`` dependency group; importing :mod:`braingeneers.core`
never imports this module.

``BRAINGENEERS_REQUIRE_SERVICES=1`` (set by CI) turns a missing server binary into a
test failure instead of a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from braingeneers.core import endpoint as ep
from braingeneers.core.loopback import (
    free_port,
    moto_server,
    moto_server_binary,
    running_server,
    wait_for_port,
)

__all__ = [
    "free_port",
    "isolated_endpoint",
    "require_binary",
    "reset_bucket",
    "running_server",
    "s3_server",
    "services_required",
    "store",
    "wait_for_port",
]


def services_required() -> bool:
    """Whether a missing service must fail the run rather than skip it."""
    return os.environ.get("BRAINGENEERS_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def require_binary(name: str) -> str:
    """Path of a server binary; skip the test (or fail when services are required) if absent."""
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.is_file()), None
    )
    if found is None:
        message = f"{name} is not installed (Debian package: apt-get install {name})"
        if services_required():
            pytest.fail(message + "; BRAINGENEERS_REQUIRE_SERVICES is set")
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """URL of a moto S3 server started for the test session on 127.0.0.1."""
    if moto_server_binary() is None:
        pytest.fail("moto_server is missing: install the test group (moto[server])")
    with moto_server() as url:
        yield url


@pytest.fixture(autouse=True)
def isolated_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test starts from the default endpoint, fake S3 keys and no credentials file."""
    for name in ("ENDPOINT", "BRAINGENEERS_VERIFY_SSL", "AWS_PROFILE", "BRAINGENEERS_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-such-credentials"))
    monkeypatch.setattr(ep, "_current", None)
    monkeypatch.setattr(ep, "_listeners", [])


def reset_bucket(bucket: str = "braingeneers") -> None:
    """Create ``bucket`` on the current S3 endpoint if needed and delete every object in it."""
    from braingeneers.core.storage import s3_client

    client = s3_client()
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})


@pytest.fixture(params=["s3", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Select the endpoint under test: ``'s3'`` (moto, empty bucket) or ``'local'`` (a mirror)."""
    if request.param == "s3":
        ep.set_default_endpoint(request.getfixturevalue("s3_server"))
        reset_bucket()
    else:
        ep.set_default_endpoint(tmp_path / "mirror")
    os.environ.pop("BRAINGENEERS_S3_MAX_ATTEMPTS", None)
    return str(request.param)

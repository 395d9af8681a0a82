"""Fixtures: a real S3-compatible server (moto's standalone server) on loopback, and local mirrors."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from braingeneers.core import endpoint as ep


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """URL of a moto S3 server started for this test session on 127.0.0.1."""
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.fail("moto_server is missing: it comes with the test group (moto[server])")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("moto_server did not listen within 30 s")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def _isolated_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test starts from the default endpoint, fake S3 keys and no credentials file."""
    for name in ("ENDPOINT", "BRAINGENEERS_VERIFY_SSL", "AWS_PROFILE", "BRAINGENEERS_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-such-credentials"))
    monkeypatch.setattr(ep, "_current", None)
    monkeypatch.setattr(ep, "_listeners", [])


@pytest.fixture(params=["s3", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The endpoint kind under test: 's3' (moto server, bucket braingeneers) or 'local' (a mirror)."""
    if request.param == "s3":
        url = request.getfixturevalue("s3_server")
        ep.set_default_endpoint(url)
        from braingeneers.core.storage import s3_client

        client = s3_client()
        # A fresh bucket per test: delete what an earlier test left.
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket="braingeneers")
        for page in client.get_paginator("list_objects_v2").paginate(Bucket="braingeneers"):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket="braingeneers", Delete={"Objects": keys})
    else:
        ep.set_default_endpoint(tmp_path / "mirror")
    os.environ.pop("BRAINGENEERS_S3_MAX_ATTEMPTS", None)
    return str(request.param)

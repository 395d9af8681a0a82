"""The process-wide endpoint: precedence, parsing, the local-mirror mapping and worker processes."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

import braingeneers.core as core
from braingeneers.core import endpoint as ep
from braingeneers.core.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENDPOINT", raising=False)
    monkeypatch.delenv("BRAINGENEERS_VERIFY_SSL", raising=False)
    monkeypatch.setattr(ep, "_current", None)
    monkeypatch.setattr(ep, "_listeners", [])


def test_precedence_default_env_then_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert core.get_default_endpoint() == "https://s3.braingeneers.gi.ucsc.edu"
    monkeypatch.setenv("ENDPOINT", "http://rook-ceph-rgw-nautiluss3.rook/")
    assert core.get_default_endpoint() == "http://rook-ceph-rgw-nautiluss3.rook"
    core.set_default_endpoint(str(tmp_path))
    assert core.get_default_endpoint() == str(tmp_path)
    assert os.environ["ENDPOINT"] == str(tmp_path)
    core.set_default_endpoint()  # None: back to $ENDPOINT, which now holds the last choice
    assert core.get_default_endpoint() == str(tmp_path)


def test_relative_directory_is_resolved_when_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    core.set_default_endpoint("mirror/")
    assert ep.current_endpoint().root == tmp_path / "mirror"
    monkeypatch.chdir("/")
    assert ep.current_endpoint().root == tmp_path / "mirror"


def test_file_url_and_verify_flag(tmp_path: Path) -> None:
    core.set_default_endpoint(f"file://{tmp_path}")
    assert ep.current_endpoint().root == tmp_path
    core.set_default_endpoint("https://s3.example.org", verify_ssl_cert=False)
    current = ep.current_endpoint()
    assert (current.url, current.verify_ssl_cert, current.is_local) == (
        "https://s3.example.org",
        False,
        False,
    )
    assert os.environ["BRAINGENEERS_VERIFY_SSL"] == "0"


@pytest.mark.parametrize("bad", ["s3://braingeneers", "ftp://host/x", "", "https:///nohost"])
def test_bad_endpoints_raise_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="endpoint"):
        core.set_default_endpoint(bad or " ")


def test_bad_endpoint_from_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENDPOINT", "gs://bucket")
    with pytest.raises(ConfigError, match=r"unsupported scheme 'gs://'.*ENDPOINT"):
        core.get_default_endpoint()


def test_mirror_mapping_both_ways(tmp_path: Path) -> None:
    core.set_default_endpoint(tmp_path)
    uri = "s3://braingeneers/ephys/2023-04-17-e-uuid/metadata.json"
    path = ep.local_path(uri)
    assert path == tmp_path / "ephys" / "2023-04-17-e-uuid" / "metadata.json"
    assert ep.to_uri(path) == uri
    assert ep.local_path("s3://braingeneers/ephys/a%20b.txt") == tmp_path / "ephys" / "a b.txt"


def test_plain_paths_always_mean_themselves(tmp_path: Path) -> None:
    core.set_default_endpoint("https://s3.example.org")
    assert ep.local_path("relative/file.h5") == Path("relative/file.h5")
    assert ep.local_path(tmp_path / "x") == tmp_path / "x"
    assert ep.local_path(f"file://{tmp_path}/y") == tmp_path / "y"
    assert ep.local_path("s3://braingeneers/ephys/x") is None  # remote under an S3 endpoint


def test_mirror_refuses_other_buckets_and_escapes(tmp_path: Path) -> None:
    core.set_default_endpoint(tmp_path)
    with pytest.raises(ConfigError, match=r"bucket 'braingeneersdev'.*mirrors only s3://braingeneers/"):
        ep.local_path("s3://braingeneersdev/x")
    with pytest.raises(ConfigError, match=r"'\.\.' is not allowed"):
        ep.local_path("s3://braingeneers/ephys/../../etc/passwd")
    with pytest.raises(ConfigError, match="outside the local endpoint"):
        ep.to_uri("/etc/passwd")
    with pytest.raises(ConfigError, match="unsupported scheme"):
        ep.local_path("gs://bucket/key")


def test_listeners_and_generation(tmp_path: Path) -> None:
    seen: list[str] = []
    ep.on_endpoint_change(lambda e: seen.append(str(e)))
    before = ep.endpoint_generation()
    core.set_default_endpoint(tmp_path)
    core.set_default_endpoint("https://s3.example.org")
    assert ep.endpoint_generation() == before + 2
    assert seen == [str(tmp_path), "https://s3.example.org"]


def _endpoint_in_worker(queue: multiprocessing.Queue[str]) -> None:
    queue.put(core.get_default_endpoint())


def test_forked_workers_see_the_endpoint(tmp_path: Path) -> None:
    core.set_default_endpoint(tmp_path / "mirror")
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    worker = context.Process(target=_endpoint_in_worker, args=(queue,))
    worker.start()
    try:
        assert queue.get(timeout=60) == str(tmp_path / "mirror")
    finally:
        worker.join(timeout=60)
    assert worker.exitcode == 0


def test_new_interpreters_started_afterwards_see_the_endpoint(tmp_path: Path) -> None:
    """Spawned workers (multiprocessing 'spawn', DataLoader workers) start a new interpreter."""
    core.set_default_endpoint(tmp_path / "mirror", verify_ssl_cert=True)
    code = "from braingeneers.core import get_default_endpoint; print(get_default_endpoint())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "mirror")

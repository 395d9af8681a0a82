"""Large-file upload and download: multipart, checksums, atomic results, interrupted uploads."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import braingeneers.core as core
from braingeneers.core.errors import NotFoundError, StorageError

URI = "s3://braingeneers/ephys/2024-01-01-e-test/original/data/big.raw"
PART = 5 * 1024 * 1024  # S3's smallest multipart part


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.raw"
    path.write_bytes(os.urandom(3 * PART + 12345))  # four parts
    return path


def test_upload_download_round_trip_multipart(store: str, big_file: Path, tmp_path: Path) -> None:
    seen: list[int] = []
    digest = core.upload(big_file, URI, part_size=PART, max_workers=4, on_progress=seen.append)
    assert digest == hashlib.sha256(big_file.read_bytes()).hexdigest()
    assert sum(seen) == big_file.stat().st_size
    assert core.size(URI) == big_file.stat().st_size
    target = tmp_path / "copy" / "big.raw"
    assert core.download(URI, target, part_size=PART, max_workers=4) == digest
    assert target.read_bytes() == big_file.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["big.raw"]


def test_download_detects_a_corrupt_object_and_leaves_target_untouched(
    s3_server: str, big_file: Path, tmp_path: Path
) -> None:
    from braingeneers.core.storage import s3_client

    core.set_default_endpoint(s3_server)
    client = s3_client()
    client.create_bucket(Bucket="braingeneers")
    core.upload(big_file, URI, part_size=PART)
    # Replace the content behind our back but keep the recorded checksum.
    client.put_object(
        Bucket="braingeneers",
        Key=URI.split("braingeneers/", 1)[1],
        Body=b"x" * 100,
        Metadata={"sha256": "0" * 64},
    )
    target = tmp_path / "out.raw"
    target.write_bytes(b"previous")
    with pytest.raises(StorageError, match="does not match the stored"):
        core.download(URI, target)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.raw", "out.raw"]


def test_missing_source_and_object(store: str, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        core.upload(tmp_path / "nope.raw", URI)
    with pytest.raises(NotFoundError):
        core.download("s3://braingeneers/ephys/none.raw", tmp_path / "x")


def test_killed_upload_leaves_no_object(s3_server: str, big_file: Path) -> None:
    from braingeneers.core.storage import s3_client

    core.set_default_endpoint(s3_server)
    s3_client().create_bucket(Bucket="braingeneers")
    script = textwrap.dedent(f"""
        import sys, time
        import braingeneers.core as core
        core.set_default_endpoint({s3_server!r})
        def slow(count):
            print("progress", flush=True)
            time.sleep(0.5)
        core.upload({str(big_file)!r}, {URI!r}, part_size={PART}, max_workers=1, on_progress=slow)
        print("finished", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "progress"  # the upload is under way
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not core.exists(URI)

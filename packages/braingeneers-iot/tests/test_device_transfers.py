"""Device uploads and downloads: a persistent, retried queue through core storage (moto S3 behind a proxy)."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy

from braingeneers.core import endpoint, storage
from braingeneers.core.testing import reset_bucket, s3_server  # noqa: F401
from braingeneers.iot.device import Device
from braingeneers.iot.transfers import TransferQueue

pytestmark = pytest.mark.services


@pytest.fixture
def flaky_s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:  # noqa: F811
    """The moto S3 server behind a proxy that can refuse connections; the endpoint points at the proxy."""
    monkeypatch.setenv("BRAINGENEERS_S3_MAX_ATTEMPTS", "1")
    port = int(s3_server.rsplit(":", 1)[1])
    with FaultProxy(port) as proxy:
        endpoint.set_default_endpoint(f"http://127.0.0.1:{proxy.port}")
        reset_bucket()
        yield proxy
        proxy.close_all()  # boto's pooled keep-alive connections would hold the relay threads


def test_upload_queued_during_an_outage_survives_a_restart(flaky_s3: FaultProxy, tmp_path: Path) -> None:
    source = tmp_path / "recording.raw"
    source.write_bytes(b"\x01\x02" * 5000)
    uri = f"s3://braingeneers/ephys/2026-11-24-e-test/{uuid.uuid4().hex}.raw"
    flaky_s3.set_mode("refuse")
    first = TransferQueue(tmp_path / "journal", backoff=0.05, max_backoff=0.1).start()
    job = first.upload(source, uri, delete_local=True)
    assert not first.wait(job, timeout=1.0)  # S3 unreachable: still pending, retried
    first.close()
    [pending] = TransferQueue(tmp_path / "journal").pending()
    assert pending.id == job.id
    assert pending.attempts >= 1
    assert pending.error is not None

    flaky_s3.set_mode("pass")
    second = TransferQueue(tmp_path / "journal", backoff=0.05).start()  # "after a restart"
    try:
        assert second.wait(timeout=20)
    finally:
        second.close()
    assert storage.size(uri) == 10000
    assert not source.exists()  # delete_local after success
    assert second.pending() == []
    assert second.failed() == []


def test_download_and_give_up_after_retries(flaky_s3: FaultProxy, tmp_path: Path) -> None:
    from braingeneers.core import transfer

    source = tmp_path / "in.bin"
    source.write_bytes(b"abc" * 100)
    uri = f"s3://braingeneers/fluidics/{uuid.uuid4().hex}.bin"
    transfer.upload(source, uri)
    transfers = TransferQueue(tmp_path / "journal", retries=2, backoff=0.01).start()
    try:
        job = transfers.download(uri, tmp_path / "out" / "copy.bin")
        assert transfers.wait(job, timeout=20)
        assert (tmp_path / "out" / "copy.bin").read_bytes() == b"abc" * 100
        missing = transfers.download(f"s3://braingeneers/fluidics/{uuid.uuid4().hex}", tmp_path / "nothing")
        assert transfers.wait(missing, timeout=20)
    finally:
        transfers.close()
    [failed] = transfers.failed()
    assert failed.id == missing.id
    assert failed.attempts == 2
    assert "NotFoundError" in (failed.error or "")


def test_device_upload_announces_completion(flaky_s3: FaultProxy, make_broker: Any, tmp_path: Path) -> None:
    name = f"uploader-{uuid.uuid4().hex[:6]}"
    device = Device(name, broker=make_broker(name), cache_dir=tmp_path / "cache")
    listener = make_broker(f"listener-{uuid.uuid4().hex[:6]}")
    inbox: queue.Queue[tuple[str, Any]] = listener.subscribe_message("telemetry/+/log/+/UPLOAD/COMPLETE")
    source = tmp_path / "image.png"
    source.write_bytes(b"png" * 10)
    uri = device.s3_basepath("2026-11-24-i-scope") + f"{uuid.uuid4().hex}.png"
    assert uri.startswith("s3://braingeneers/imaging/")
    topic = f"telemetry/2026-11-24-i-scope/log/{name}/UPLOAD/COMPLETE"
    try:
        device.upload_file(uri, source, announce_completion=(topic, {"URI": uri}), wait_for_completion=True)
        assert storage.size(uri) == 30
        got_topic, message = inbox.get(timeout=10)
        assert got_topic == topic
        assert message == {"URI": uri}
    finally:
        device.transfers.close()
    assert Device.s3_basepath("2026-11-24-ef-x") == "s3://braingeneers/integrated/"

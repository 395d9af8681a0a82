"""Storage operations, the same cases against a real S3 server (moto) and against a local mirror."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path

import pytest

import braingeneers.core as core
from braingeneers.core import endpoint as ep
from braingeneers.core.errors import NotFoundError, StorageError

ROOT = "s3://braingeneers/ephys/2024-01-01-e-test"


def test_write_then_read_text_and_binary(store: str) -> None:
    with core.open(f"{ROOT}/notes.txt", "w") as handle:
        handle.write("Don't panic\n")
    with core.open(f"{ROOT}/notes.txt") as handle:
        assert handle.read() == "Don't panic\n"
    payload = bytes(range(256)) * 1000
    with core.open(f"{ROOT}/raw.bin", "wb") as handle:
        handle.write(payload)
    with core.open(f"{ROOT}/raw.bin", "rb") as handle:
        assert handle.read() == payload
    assert core.size(f"{ROOT}/raw.bin") == 256_000
    assert core.exists(f"{ROOT}/raw.bin")
    assert not core.exists(f"{ROOT}/absent.bin")


def test_local_mirror_holds_the_legacy_layout(store: str) -> None:
    with core.open(f"{ROOT}/metadata.json", "w") as handle:
        handle.write("{}")
    where = ep.current_endpoint()
    if where.root is not None:
        assert (where.root / "ephys" / "2024-01-01-e-test" / "metadata.json").read_text() == "{}"


def test_missing_objects_raise_not_found(store: str) -> None:
    with pytest.raises(NotFoundError, match=r"absent\.bin"):
        core.size(f"{ROOT}/absent.bin")
    with pytest.raises(NotFoundError):
        core.read_range(f"{ROOT}/absent.bin", 0, 4)
    with pytest.raises(FileNotFoundError):  # NotFoundError is a FileNotFoundError
        core.open(f"{ROOT}/absent.bin", "rb").close()


def test_byte_ranges_exact_and_never_short(store: str) -> None:
    payload = bytes(i % 251 for i in range(100_000))
    with core.open(f"{ROOT}/data.raw", "wb") as handle:
        handle.write(payload)
    assert core.read_range(f"{ROOT}/data.raw", 10, 20) == payload[10:20]
    assert core.read_range(f"{ROOT}/data.raw", 5, 5) == b""
    ranges = [(i * 997, i * 997 + 313) for i in range(50)]
    assert core.read_ranges(f"{ROOT}/data.raw", ranges) == [payload[a:b] for a, b in ranges]
    with pytest.raises(StorageError, match="shorter than expected"):
        core.read_range(f"{ROOT}/data.raw", 99_990, 100_010)
    with pytest.raises(StorageError, match="invalid byte range"):
        core.read_range(f"{ROOT}/data.raw", 20, 10)


def test_listing_recursive_and_one_level(store: str) -> None:
    for name in ("a.txt", "sub/b.txt", "sub/deeper/c.txt", "other/d.txt"):
        with core.open(f"{ROOT}/{name}", "w") as handle:
            handle.write(name)
    listed = core.list_objects(ROOT)
    assert [info.uri for info in listed] == [
        f"{ROOT}/{n}" for n in ("a.txt", "other/d.txt", "sub/b.txt", "sub/deeper/c.txt")
    ]
    assert [info.size for info in listed] == [5, 11, 9, 16]
    assert all(info.modified.tzinfo is not None for info in listed)
    assert listed[0].modified.utcoffset() == timezone.utc.utcoffset(None)
    assert [info.uri for info in core.list_objects(ROOT, recursive=False)] == [f"{ROOT}/a.txt"]
    assert core.list_directories(ROOT) == ["other", "sub"]
    assert core.list_directories("s3://braingeneers/ephys/") == ["2024-01-01-e-test"]


@pytest.mark.slow
def test_listing_pages_past_1000_keys(store: str) -> None:
    if store == "s3":
        from braingeneers.core.storage import s3_client

        client = s3_client()
        for i in range(1003):
            client.put_object(Bucket="braingeneers", Key=f"ephys/many/{i:05d}", Body=b"x")
    else:
        for i in range(1003):
            with core.open(f"s3://braingeneers/ephys/many/{i:05d}", "wb") as handle:
                handle.write(b"x")
    listed = core.list_objects("s3://braingeneers/ephys/many")
    assert len(listed) == 1003
    assert listed[-1].uri == "s3://braingeneers/ephys/many/01002"


def test_plain_local_paths_work_under_an_s3_endpoint(tmp_path: Path, s3_server: str) -> None:
    core.set_default_endpoint(s3_server)
    target = tmp_path / "x" / "y.txt"
    with core.open(target, "w") as handle:
        handle.write("local")
    assert core.exists(target)
    assert core.size(str(target)) == 5
    assert core.read_range(target, 1, 3) == b"oc"


def test_endpoint_change_rebuilds_the_client(s3_server: str, tmp_path: Path) -> None:
    from braingeneers.core.storage import s3_client

    core.set_default_endpoint(s3_server)
    first = s3_client()
    assert s3_client() is first
    core.set_default_endpoint(s3_server + "/")
    assert s3_client() is not first


def test_server_down_is_a_clear_storage_error_after_bounded_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("BRAINGENEERS_S3_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("BRAINGENEERS_S3_TIMEOUT", "2")
    core.set_default_endpoint(f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(StorageError, match=rf"cannot reach http://127.0.0.1:{port}"):
        core.size("s3://braingeneers/ephys/x")
    assert time.monotonic() - started < 30


def test_read_ranges_checks_every_range(store: str) -> None:
    with core.open(f"{ROOT}/short.raw", "wb") as handle:
        handle.write(b"0123456789")
    assert core.read_ranges(f"{ROOT}/short.raw", [(0, 2), (8, 10)]) == [b"01", b"89"]
    with pytest.raises(StorageError, match="shorter than expected"):
        core.read_ranges(f"{ROOT}/short.raw", [(0, 2), (8, 12)])
    with pytest.raises(StorageError, match="invalid byte range"):
        core.read_ranges(f"{ROOT}/short.raw", [(0, 2), (5, 3)])
    with pytest.raises(NotFoundError):
        core.read_ranges(f"{ROOT}/none.raw", [(0, 2), (3, 4)])


def test_forked_child_builds_its_own_s3_client(s3_server: str) -> None:
    import multiprocessing

    from braingeneers.core import endpoint as ep
    from braingeneers.core.storage import s3_client

    ep.set_default_endpoint(s3_server)
    s3_client().braingeneers_test_owner = "parent"  # type: ignore[attr-defined]
    with multiprocessing.get_context("fork").Pool(1) as pool:
        owner, cached = pool.apply(_child_client)
    assert owner is None  # the child did not reuse the parent's client (and its connections)
    assert cached  # and keeps the one it built
    assert s3_client().braingeneers_test_owner == "parent"  # type: ignore[attr-defined]


def _child_client() -> tuple[str | None, bool]:
    from braingeneers.core.storage import s3_client

    client = s3_client()
    return getattr(client, "braingeneers_test_owner", None), s3_client() is client

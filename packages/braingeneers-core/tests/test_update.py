"""Conditional read-modify-write: racing writers never lose an update, on S3 and on a local mirror."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import braingeneers.core as core
from braingeneers.core.errors import ConflictError, FormatError

URI = "s3://braingeneers/ephys/2024-01-01-e-test/metadata.json"


def _add_writer(doc: Any, name: str) -> Any:
    doc = doc or {"writers": []}
    doc["writers"].append(name)
    return doc


def test_create_then_update(store: str) -> None:
    assert core.update_json(URI, lambda doc: {"uuid": "x", "n": 0} if doc is None else doc) == {
        "uuid": "x",
        "n": 0,
    }
    assert core.update_json(URI, lambda doc: {**doc, "n": doc["n"] + 1}) == {"uuid": "x", "n": 1}
    with core.open(URI) as handle:
        assert json.load(handle) == {"uuid": "x", "n": 1}


def test_racing_writers_lose_nothing(store: str) -> None:
    writers = [f"w{i}" for i in range(6) for _ in range(5)]

    def write(name: str) -> None:
        core.update_json(URI, lambda doc: _add_writer(doc, name), attempts=200)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, writers))
    with core.open(URI) as handle:
        final = json.load(handle)
    assert sorted(final["writers"]) == sorted(writers)


def test_conflict_every_time_raises_conflict_error(store: str) -> None:
    core.update_json(URI, lambda doc: {"n": 0})
    if store == "local":
        pytest.skip("a local mirror serialises writers with a lock: there is no lost race to report")
    calls = []

    def sneaky(raw: bytes | None) -> bytes:
        # Another writer changes the object after every read of ours.
        calls.append(raw)
        with core.open(URI, "w") as handle:
            handle.write(json.dumps({"n": len(calls) * 100}))
        return b'{"n": -1}'

    with pytest.raises(ConflictError, match="another writer changed it during each of 3 attempts"):
        core.update(URI, sneaky, attempts=3)
    assert len(calls) == 3
    with core.open(URI) as handle:
        assert json.load(handle) == {"n": 300}


def test_invalid_json_is_a_format_error_and_is_left_alone(store: str) -> None:
    with core.open(URI, "w") as handle:
        handle.write("{not json")
    with pytest.raises(FormatError, match="is not valid JSON"):
        core.update_json(URI, lambda doc: doc)
    with core.open(URI) as handle:
        assert handle.read() == "{not json"


def test_local_update_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    for i in range(3):
        core.update_json(target, lambda doc, i=i: {"i": i})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".doc.json.lock", "doc.json"]
    assert json.loads(target.read_text()) == {"i": 2}


def test_local_update_keeps_file_modes_readable_for_the_lab(tmp_path: Path) -> None:
    import stat

    created = tmp_path / "new.json"
    core.update_json(created, lambda doc: {"a": 1})
    assert stat.S_IMODE(created.stat().st_mode) == 0o644
    shared = tmp_path / "shared.json"
    shared.write_text("{}")
    shared.chmod(0o664)
    core.update_json(shared, lambda doc: {"b": 2})
    assert stat.S_IMODE(shared.stat().st_mode) == 0o664

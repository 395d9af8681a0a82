"""The legacy braingeneers.utils modules keep working, with deprecation warnings."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

import braingeneers.core as core
from braingeneers.core.errors import ConflictError

URI = "s3://braingeneers/ephys/2024-01-01-e-test/metadata.json"


def _fresh(name: str) -> object:
    sys.modules.pop(name, None)
    with pytest.warns(DeprecationWarning, match=rf"{name} is deprecated: use braingeneers\.core"):
        return importlib.import_module(name)


def test_smart_open_module_opens_through_the_endpoint(store: str) -> None:
    legacy = _fresh("braingeneers.utils.smart_open_braingeneers")
    with legacy.open(URI, "w") as handle:  # type: ignore[attr-defined]
        handle.write("hello")
    with core.open(URI) as handle:
        assert handle.read() == "hello"


def test_common_utils_helpers(store: str, tmp_path: Path) -> None:
    cu = _fresh("braingeneers.utils.common_utils")
    base = cu.get_basepath()  # type: ignore[attr-defined]
    assert base == ("s3://braingeneers/" if store == "s3" else str(tmp_path / "mirror") + "/")
    for name in ("a.txt", "b.txt", "sub/c.txt"):
        with core.open(f"s3://braingeneers/ephys/x/{name}", "w") as handle:
            handle.write(name)
    uri = "s3://braingeneers/ephys/x/a.txt"
    assert cu.file_exists(uri)
    assert not cu.file_exists(uri + ".missing")
    assert cu.file_size(uri) == 5  # type: ignore[attr-defined]
    rows = cu.file_list("s3://braingeneers/ephys/x/")  # type: ignore[attr-defined]
    assert sorted(r[0] for r in rows) == ["a.txt", "b.txt"]
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)
    assert cu.file_list("s3://braingeneers/ephys/none/") == []  # type: ignore[attr-defined]
    assert cu.path_join("ephys", "u", "metadata.json") == base + "ephys/u/metadata.json"  # type: ignore[attr-defined]


def _f(x: int, y: int = 1, z: int = 0) -> tuple[int, int, int]:
    return (x, y, z)


@pytest.mark.parametrize(("parallelism", "threads"), [(False, False), (2, True), (2, False)])
def test_map2_binds_every_positional_value(parallelism: int | bool, threads: bool) -> None:
    cu = importlib.import_module("braingeneers.utils.common_utils")
    got = cu.map2(
        _f,
        args=[(1, 2), 3, (4, 5)],
        fixed_values={"z": 9},
        parallelism=parallelism,
        use_multithreading=threads,
    )
    assert got == [(1, 2, 9), (3, 1, 9), (4, 5, 9)]
    assert cu.map2(_f, kwargs=[{"x": 1}, {"x": 2, "y": 7}], parallelism=False) == [(1, 1, 0), (2, 7, 0)]
    with pytest.raises(TypeError):
        cu.map2(_f, args=[(1, 2, 3, 4)], parallelism=False)


def test_checkout_checkin_and_conflict(store: str) -> None:
    cu = importlib.import_module("braingeneers.utils.common_utils")
    with core.open(URI, "w") as handle:
        handle.write('{"n": 1}')
    with cu.checkout(URI) as obj:
        assert obj.get_value() == '{"n": 1}'
        obj.checkin('{"n": 2}')
    with core.open(URI) as handle:
        assert handle.read() == '{"n": 2}'
    with cu.checkout(URI, isbinary=True) as obj:
        obj.get_file().write(b'{"n": 3}')
    with core.open(URI) as handle:
        assert handle.read() == '{"n": 3}'
    with pytest.raises(ConflictError, match="changed while it was checked out"), cu.checkout(URI) as obj:
        with core.open(URI, "w") as handle:  # somebody else writes meanwhile
            handle.write('{"n": 100}')
        obj.checkin('{"n": 4}')
    with core.open(URI) as handle:
        assert handle.read() == '{"n": 100}'
    with pytest.raises(RuntimeError), cu.checkout(URI) as obj:
        obj.checkin('{"n": 5}')
        raise RuntimeError("the notebook cell failed")
    with core.open(URI) as handle:
        assert handle.read() == '{"n": 100}'  # an exception in the block writes nothing


def test_s3wrangler_lists_through_the_endpoint_and_follows_changes(s3_server: str) -> None:
    pytest.importorskip("awswrangler", reason="needs the wrangler extra (installed by the core test group)")
    import awswrangler

    core.set_default_endpoint(s3_server)
    from braingeneers.core.storage import s3_client

    with contextlib.suppress(Exception):  # the session's server may already have the bucket
        s3_client().create_bucket(Bucket="braingeneers")
    for name in ("u1/metadata.json", "u2/metadata.json"):
        with core.open(f"s3://braingeneers/wrangler-test/{name}", "w") as handle:
            handle.write("{}")
    wr = _fresh("braingeneers.utils.s3wrangler")
    assert awswrangler.config.s3_endpoint_url == s3_server
    dirs = wr.list_directories("s3://braingeneers/wrangler-test/")  # type: ignore[attr-defined]
    assert sorted(dirs) == ["s3://braingeneers/wrangler-test/u1/", "s3://braingeneers/wrangler-test/u2/"]
    core.set_default_endpoint(s3_server + "/")
    core.set_default_endpoint("http://127.0.0.1:9/")
    assert awswrangler.config.s3_endpoint_url == "http://127.0.0.1:9"


def test_s3wrangler_without_the_extra_says_how_to_install() -> None:
    sys.modules.pop("braingeneers.utils.s3wrangler", None)
    if importlib.util.find_spec("awswrangler") is not None:
        pytest.skip("awswrangler is installed here; this case is about environments without it")
    with (
        pytest.warns(DeprecationWarning, match="s3wrangler"),
        pytest.raises(ImportError, match=r"braingeneers-core\[wrangler\]"),
    ):
        importlib.import_module("braingeneers.utils.s3wrangler")

"""Fixtures for the repository-level tests (run by ``nox -s all``).

These tests run in a venv holding ``braingeneers[all]`` installed from the
wheels in ``dist/`` (or ``$BRAINGENEERS_DIST_DIR``), never from the source tree.

``BRAINGENEERS_REQUIRE_SERVICES=1`` (set by ``.ci/run``) turns a missing
server binary (mosquitto, redis-server) into a failure instead of a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from braingeneers.core.testing import free_port, require_binary, running_server

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ("core", "data", "iot", "analysis", "ml")


@pytest.fixture(scope="session")
def dist_dir() -> Path:
    """The folder of wheels and sdists that ``nox -s build`` produced."""
    folder = Path(os.environ.get("BRAINGENEERS_DIST_DIR", ROOT / "dist"))
    if not any(folder.glob("*.whl")):
        pytest.fail(f"no wheels in {folder}: run `nox -s build` (or `nox -s all`, which builds first)")
    return folder


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    """A throw-away redis-server on a free loopback port."""
    port = free_port()
    argv = [
        require_binary("redis-server"),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    with running_server(argv, port):
        yield port


@pytest.fixture
def mosquitto_port(tmp_path: Path) -> Iterator[int]:
    """A throw-away mosquitto broker on a free loopback port."""
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    with running_server([require_binary("mosquitto"), "-c", str(conf)], port):
        yield port

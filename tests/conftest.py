"""Fixtures for the repository-level tests (run by ``nox -s all``).

These tests run in a venv holding ``braingeneers[all]`` installed from the
wheels in ``dist/`` (or ``$BRAINGENEERS_DIST_DIR``), never from the source tree.

``BRAINGENEERS_REQUIRE_SERVICES=1`` (set by ``.ci/run``) turns a missing
server binary (mosquitto, redis-server) into a failure instead of a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ("core", "data", "iot", "analysis", "ml")


def services_required() -> bool:
    """Whether a missing service must fail the run rather than skip."""
    return os.environ.get("BRAINGENEERS_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def require_binary(name: str) -> str:
    """Path of a server binary; skip (or fail when services are required) if absent."""
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.is_file()), None
    )
    if found is None:
        message = f"{name} is not installed (Debian package: apt-get install {name})"
        if services_required():
            pytest.fail(message + "; BRAINGENEERS_REQUIRE_SERVICES is set")
        pytest.skip(message)
    return found


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Wait until ``port`` accepts connections, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


@pytest.fixture(scope="session")
def dist_dir() -> Path:
    """The folder of wheels and sdists that ``nox -s build`` produced."""
    folder = Path(os.environ.get("BRAINGENEERS_DIST_DIR", ROOT / "dist"))
    if not any(folder.glob("*.whl")):
        pytest.fail(f"no wheels in {folder}: run `nox -s build` (or `nox -s all`, which builds first)")
    return folder


@contextlib.contextmanager
def running_server(argv: list[str], port: int) -> Iterator[int]:
    """Start a server process, wait until it listens on ``port``, stop it afterwards."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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

"""Throw-away servers on 127.0.0.1 for tests, benchmarks and examples.

Unlike ``braingeneers.core.testing`` this module needs no pytest, so benchmark scripts and
examples use it too. Importing it imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["free_port", "moto_server", "moto_server_binary", "running_server", "wait_for_port"]


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections, for at most ``timeout`` seconds.

    Raises
    ------
    RuntimeError
        When ``proc`` exits before the port listens.
    TimeoutError
        When nothing listens within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


@contextlib.contextmanager
def running_server(argv: list[str], port: int, timeout: float = 30.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until it listens on ``port``, stop it afterwards."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, timeout)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def moto_server_binary() -> str | None:
    """Return the ``moto_server`` executable of this environment (``moto[server]``), or ``None``."""
    return shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's S3-compatible server on a free loopback port and yield its URL.

    Raises
    ------
    FileNotFoundError
        ``moto_server`` is not installed (it comes with ``moto[server]``).
    """
    binary = moto_server_binary()
    if binary is None:
        raise FileNotFoundError("moto_server is not installed: pip install 'moto[server]'")
    port = free_port()
    with running_server([binary, "-H", "127.0.0.1", "-p", str(port)], port):
        yield f"http://127.0.0.1:{port}"

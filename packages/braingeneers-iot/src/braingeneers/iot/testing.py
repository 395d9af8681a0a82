"""Test helpers for braingeneers-iot: a real Strapi 4 server and a stdlib HTTP fake for fault cases.

Import from a ``conftest.py`` (the module needs ``pytest`` only for the skip/fail policy)::

    from braingeneers.iot.testing import provision_strapi, running_strapi, FakeStrapi

:func:`provision_strapi` installs the Strapi project of a directory (``package.json`` and
``package-lock.json``) with ``npm ci`` once into ``~/.cache/braingeneers-strapi/<hash of the
lockfile and the Node.js version>`` (``BRAINGENEERS_STRAPI_CACHE`` overrides the root), so later
runs reuse it.
:func:`running_strapi` starts that project on loopback with SQLite in a temporary directory and
hands back its URL and a full-access API token created at start-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from braingeneers.core.atomic import locked

__all__ = ["FakeStrapi", "StrapiServer", "provision_strapi", "running_strapi", "strapi_cache_root"]


def strapi_cache_root() -> Path:
    """Return the Strapi install cache: ``BRAINGENEERS_STRAPI_CACHE`` or ``~/.cache/braingeneers-strapi``."""
    root = os.environ.get("BRAINGENEERS_STRAPI_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "braingeneers-strapi"


def _lock_hash(project: Path, node: str) -> str:
    """Key of an install: the manifest, the lockfile and the Node.js version (native modules differ)."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((project / name).read_bytes())
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True)
    digest.update(version.stdout.strip().encode())
    return digest.hexdigest()[:16]


def provision_strapi(project: Path, timeout: float = 900.0) -> Path:
    """Install ``project``'s npm dependencies once (``npm ci``) and return the cached install directory.

    Raises
    ------
    RuntimeError
        ``node``/``npm`` is missing or ``npm ci`` failed (the message holds npm's last output).
    """
    npm, node = shutil.which("npm"), shutil.which("node")
    if node is None or npm is None:
        raise RuntimeError(
            "node and npm are needed for the Strapi fixture (Debian: apt-get install nodejs npm)"
        )
    target = strapi_cache_root() / _lock_hash(project, node)
    marker = target / ".installed"
    if marker.is_file():
        return target
    with locked(target):
        if marker.is_file():
            return target
        staging = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(project / name, staging / name)
        env = dict(os.environ)
        if Path("/usr/include/node/node.h").is_file():
            env.setdefault("npm_config_nodedir", "/usr")  # build native modules without downloading headers
        started = time.monotonic()
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"npm ci for the Strapi fixture failed (exit {done.returncode}):\n{tail}")
        (staging / ".installed").write_text(f"{time.monotonic() - started:.1f} s\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


@dataclass(frozen=True)
class StrapiServer:
    """A running Strapi: ``url`` is the REST root (``.../api``); ``token`` a full-access API token."""

    url: str
    token: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False, compare=False)
    app_dir: Path

    def headers(self) -> dict[str, str]:
        """Return the Authorization header (lets the server stand in for core's token provider)."""
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.contextmanager
def running_strapi(
    project: Path, workdir: Path, port: int | None = None, timeout: float = 180.0, public: bool = False
) -> Iterator[StrapiServer]:
    """Start ``project`` (provisioned by :func:`provision_strapi`) on 127.0.0.1 with SQLite in ``workdir``.

    ``public`` opens the REST API without a token (``BRAINGENEERS_STRAPI_PUBLIC=1``), like the
    lab's internal deployments; otherwise every request needs the API token.
    """
    from braingeneers.core.testing import free_port, wait_for_port

    install = provision_strapi(project)
    app = workdir / "strapi-app"
    shutil.rmtree(app, ignore_errors=True)
    app.mkdir(parents=True)
    for name in ("config", "src"):
        shutil.copytree(project / name, app / name)
    for name in ("server.js", "package.json"):
        shutil.copy2(project / name, app / name)
    (app / "node_modules").symlink_to(install / "node_modules", target_is_directory=True)
    (app / "public" / "uploads").mkdir(parents=True)
    port = port or free_port()
    token_file = workdir / "strapi-token"
    token_file.unlink(missing_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "NODE_ENV": "production",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "DATABASE_FILENAME": str(workdir / "strapi.db"),
            "APP_KEYS": ",".join(secrets.token_hex(16) for _ in range(2)),
            "API_TOKEN_SALT": secrets.token_hex(16),
            "ADMIN_JWT_SECRET": secrets.token_hex(16),
            "TRANSFER_TOKEN_SALT": secrets.token_hex(16),
            "JWT_SECRET": secrets.token_hex(16),
            "STRAPI_TELEMETRY_DISABLED": "true",
            "STRAPI_DISABLE_UPDATE_NOTIFICATION": "true",
            "BRAINGENEERS_STRAPI_TOKEN_FILE": str(token_file),
            "BRAINGENEERS_STRAPI_APP_DIR": str(app),
            "BRAINGENEERS_STRAPI_PUBLIC": "1" if public else "0",
        }
    )
    log = (workdir / "strapi.log").open("wb")
    proc = subprocess.Popen(["node", "server.js"], cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not token_file.is_file():
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "strapi.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"Strapi did not start (exit {proc.poll()}); its log ends:\n{tail}")
            time.sleep(0.2)
        wait_for_port(port, None, max(1.0, deadline - time.monotonic()))
        yield StrapiServer(f"http://127.0.0.1:{port}/api", token_file.read_text().strip(), proc, app)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        log.close()


class FakeStrapi:
    """A stdlib HTTP server on loopback answering like a broken Strapi or its auth proxy.

    ``mode`` (changeable while running): ``"ok"`` answers ``{"data": [], "meta": ...}``,
    ``"500"`` a server error with a text body, ``"302"`` a redirect to a login page,
    ``"401"`` an expired-token refusal, ``"hang"`` accepts and never answers. Every request
    is recorded as ``(method, path, headers)`` in ``requests``.
    """

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self) -> None:
                fake.requests.append((self.command, self.path, dict(self.headers.items())))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if fake.mode == "hang":
                    fake._release.wait(30)
                    return
                if fake.mode == "500":
                    self._send(500, b"Internal Server Error: database is locked", "text/plain")
                elif fake.mode == "302":
                    self.send_response(302)
                    self.send_header("Location", "https://auth.example.org/oauth2/start?rd=%2F")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif fake.mode == "401":
                    refusal: dict[str, Any] = {
                        "data": None,
                        "error": {"status": 401, "name": "UnauthorizedError"},
                    }
                    self._send(401, json.dumps(refusal).encode(), "application/json")
                else:
                    body: dict[str, Any] = {
                        "data": [],
                        "meta": {"pagination": {"page": 1, "pageSize": 100, "pageCount": 0}},
                    }
                    self._send(200, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 - stdlib naming

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-strapi", daemon=True)

    @property
    def url(self) -> str:
        """The REST root of the fake (``http://127.0.0.1:<port>/api``)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    def __enter__(self) -> FakeStrapi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

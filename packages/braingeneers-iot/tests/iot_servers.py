"""Server processes for the iot tests: mosquitto and redis-server on free loopback ports.

``Mosquitto`` runs with a password file, an ACL and persistence; ``RedisServer`` with a
least-privilege ACL user (no ``@admin``/``@dangerous`` commands). Both can be stopped
(SIGTERM or SIGKILL) and restarted on the same port by PID. A missing binary skips the
tests, or fails them when ``BRAINGENEERS_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from braingeneers.core.testing import free_port, require_binary, wait_for_port

MQTT_USER, MQTT_PASSWORD = "device", "device-secret"
MQTT_READER, MQTT_READER_PASSWORD = "reader", "reader-secret"
REDIS_USER, REDIS_PASSWORD = "app", "app-secret"


class Server:
    """A server process on 127.0.0.1:``port`` that can be stopped and restarted by PID."""

    def __init__(self, argv: list[str], port: int, log: Path) -> None:
        self.argv = argv
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc, timeout=20)
        self.starts += 1

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()


class Mosquitto(Server):
    """mosquitto with users ``device`` (read/write everything) and ``reader`` (read only)."""

    def __init__(
        self, workdir: Path, persistence: bool = True, port: int | None = None, extra: list[str] | None = None
    ) -> None:
        binary = require_binary("mosquitto")
        passwd_tool = require_binary("mosquitto_passwd")
        workdir.mkdir(parents=True, exist_ok=True)
        passwd = workdir / "passwd"
        subprocess.run([passwd_tool, "-b", "-c", str(passwd), MQTT_USER, MQTT_PASSWORD], check=True)
        subprocess.run([passwd_tool, "-b", str(passwd), MQTT_READER, MQTT_READER_PASSWORD], check=True)
        acl = workdir / "acl"
        acl.write_text(
            f"user {MQTT_USER}\ntopic readwrite #\ntopic read $SYS/#\n\nuser {MQTT_READER}\ntopic read #\n"
        )
        port = port or free_port()
        lines = [
            f"listener {port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {acl}",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {workdir}/",
            "autosave_interval 1",
            "max_queued_messages 0",
            "max_inflight_messages 100",
            "persistent_client_expiration 1h",
            f"log_dest file {workdir}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        lines += extra or []
        conf = workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        for path in (workdir, passwd, acl, conf):
            path.chmod(0o700 if path.is_dir() else 0o600)
        super().__init__([binary, "-c", str(conf)], port, workdir / "stdout.log")
        self.workdir = workdir


class RedisServer(Server):
    """redis-server whose only user ``app`` lacks admin and dangerous commands."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        binary = require_binary("redis-server")
        workdir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        conf = workdir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    f"port {port}",
                    "bind 127.0.0.1",
                    'save ""',
                    "appendonly no",
                    f"dir {workdir}",
                    "user default off",
                    f"user {REDIS_USER} on >{REDIS_PASSWORD} ~* &* +@all -@admin -@dangerous",
                ]
            )
            + "\n"
        )
        super().__init__([binary, str(conf)], port, workdir / "redis.log")


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last truth value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def make_test_ca(workdir: Path) -> dict[str, Path]:
    """Create a CA, a server certificate for 127.0.0.1 and a client certificate with openssl."""
    openssl = require_binary("openssl")
    workdir.mkdir(parents=True, exist_ok=True)
    files = {
        name: workdir / name
        for name in ("ca.key", "ca.crt", "server.key", "server.crt", "client.key", "client.crt")
    }

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=braingeneers-test-ca",
        "-keyout",
        str(files["ca.key"]),
        "-out",
        str(files["ca.crt"]),
    )
    for who, cn in (("server", "127.0.0.1"), ("client", "device")):
        csr = workdir / f"{who}.csr"
        ext = workdir / f"{who}.ext"
        ext.write_text(
            "subjectAltName=IP:127.0.0.1\n" if who == "server" else "extendedKeyUsage=clientAuth\n"
        )
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={cn}",
            "-keyout",
            str(files[f"{who}.key"]),
            "-out",
            str(csr),
        )
        run(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(files["ca.crt"]),
            "-CAkey",
            str(files["ca.key"]),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            str(files[f"{who}.crt"]),
            "-extfile",
            str(ext),
        )
    return files

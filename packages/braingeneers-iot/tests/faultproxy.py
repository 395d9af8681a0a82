"""A fault-injection TCP proxy for tests: sits between a client and a server on loopback.

Modes (switch at any time with :meth:`FaultProxy.set_mode`):

``pass``
    Forward bytes both ways.
``blackhole``
    Keep every socket open but forward nothing (a half-open link: only keepalive notices).
    ``direction="up"`` drops only client-to-server bytes, ``"down"`` only server-to-client.
``latency``
    Forward after ``latency`` seconds per chunk.
``refuse``
    Close new connections at once; existing ones keep working.

:meth:`FaultProxy.close_all` resets every open connection (RST), whatever the mode.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

__all__ = ["FaultProxy"]


class FaultProxy:
    """Relay 127.0.0.1:``port`` to 127.0.0.1:``target_port`` with injectable faults."""

    def __init__(self, target_port: int, port: int = 0) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.latency = 0.0
        self.direction = "both"
        self.accepted = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", port))
        self._server.listen(64)
        self.port: int = self._server.getsockname()[1]
        self._stopped = False
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy-accept", daemon=True)
        self._thread.start()

    def set_mode(self, mode: str, latency: float = 0.0, direction: str = "both") -> None:
        """Switch to ``pass``, ``blackhole``, ``latency`` or ``refuse``."""
        if mode not in ("pass", "blackhole", "latency", "refuse") or direction not in ("both", "up", "down"):
            raise ValueError(f"{mode} {direction}")
        self.latency = latency
        self.direction = direction
        self.mode = mode

    def close_all(self) -> int:
        """Reset every open connection; return how many sockets were closed."""
        with self._lock:
            conns, self._conns = self._conns, []
        for sock in conns:
            _reset(sock)
        return len(conns)

    def stop(self) -> None:
        """Stop accepting and reset every connection."""
        self._stopped = True
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        with contextlib.suppress(OSError):
            self._server.close()
        self.close_all()
        self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.mode == "refuse":
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            self.accepted += 1
            with self._lock:
                self._conns += [client, upstream]
            for src, dst, way in ((client, upstream, "up"), (upstream, client, "down")):
                threading.Thread(
                    target=self._pump, args=(src, dst, way), name="faultproxy-pump", daemon=True
                ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, way: str) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.mode == "blackhole" and self.direction in ("both", way):
                    continue
                if self.mode == "latency" and self.latency > 0:
                    time.sleep(self.latency)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                gone = [s for s in (src, dst) if s in self._conns]
                for s in gone:
                    self._conns.remove(s)
            for s in (src, dst):
                _reset(s)


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes the pump thread blocked in recv
    with contextlib.suppress(OSError):
        sock.close()

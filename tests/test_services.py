"""The system services CI installs really run here, on loopback, started by fixtures.

Later tests of braingeneers-iot use the same fixtures; these protocol-level
round trips prove that the binaries exist and the fixtures work.
"""

from __future__ import annotations

import socket


def test_redis_answers_ping(redis_port: int) -> None:
    with socket.create_connection(("127.0.0.1", redis_port), timeout=5) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert sock.recv(64) == b"+PONG\r\n"


def test_mosquitto_accepts_an_mqtt_connect(mosquitto_port: int) -> None:
    client_id = b"braingeneers-ci"
    # MQTT 3.1.1 CONNECT: protocol name, level 4, clean session, keep-alive 10 s.
    variable = b"\x00\x04MQTT\x04\x02\x00\x0a"
    payload = len(client_id).to_bytes(2, "big") + client_id
    body = variable + payload
    with socket.create_connection(("127.0.0.1", mosquitto_port), timeout=5) as sock:
        sock.sendall(bytes([0x10, len(body)]) + body)
        # CONNACK, remaining length 2, no session present, return code 0 (accepted).
        assert sock.recv(4) == b"\x20\x02\x00\x00"

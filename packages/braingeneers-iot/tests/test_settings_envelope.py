"""Settings precedence, the envelope format and the callback executor (no servers needed)."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from iot_servers import wait_until

from braingeneers.core.errors import ConfigError, FormatError
from braingeneers.iot.callbacks import CallbackExecutor
from braingeneers.iot.envelope import Envelope, SeenIds, decode, encode, encode_bare, encode_raw
from braingeneers.iot.messaging import MessageBroker
from braingeneers.iot.settings import MqttConfig, RedisConfig

CREDENTIALS = """
[braingeneers-mqtt]
profile-id = file-user
profile-key = file-secret
endpoint = mqtt.example.org
port = 8883
tls = true
ca-file = /etc/ca.pem

[redis]
host = redis.example.org
port = 6380
username = app
redis_password = file-redis-secret
"""


@pytest.fixture
def creds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "credentials"
    path.write_text(CREDENTIALS)
    for name in ("HOST", "PORT", "USERNAME", "PASSWORD", "TLS", "CA_FILE", "CERT_FILE", "KEY_FILE"):
        monkeypatch.delenv(f"BRAINGENEERS_MQTT_{name}", raising=False)
        monkeypatch.delenv(f"BRAINGENEERS_REDIS_{name}", raising=False)
    return path


def test_mqtt_settings_from_file_env_and_arguments(creds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = MqttConfig.resolve(creds)
    assert (cfg.host, cfg.port, cfg.username, cfg.password) == (
        "mqtt.example.org",
        8883,
        "file-user",
        "file-secret",
    )
    assert cfg.tls
    assert cfg.ca_file == "/etc/ca.pem"
    assert "file-secret" not in repr(cfg)
    monkeypatch.setenv("BRAINGENEERS_MQTT_HOST", "env-host")
    monkeypatch.setenv("BRAINGENEERS_MQTT_PORT", "1999")
    cfg = MqttConfig.resolve(creds)
    assert (cfg.host, cfg.port, cfg.username) == ("env-host", 1999, "file-user")
    cfg = MqttConfig.resolve(creds, host="arg-host", port=2000, username="arg-user", tls=False)
    assert (cfg.host, cfg.port, cfg.username, cfg.tls) == ("arg-host", 2000, "arg-user", False)


def test_mqtt_settings_need_no_file_when_arguments_suffice(tmp_path: Path) -> None:
    cfg = MqttConfig.resolve(None, host="h", username="u", password="p")
    assert (cfg.host, cfg.port) == ("h", 1883)


def test_mqtt_settings_errors_name_what_to_fix(
    creds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="BRAINGENEERS_MQTT_HOST"):
        MqttConfig.resolve(None)
    with pytest.raises(ConfigError, match="does not exist"):
        MqttConfig.resolve(tmp_path / "missing")
    monkeypatch.setenv("BRAINGENEERS_MQTT_PORT", "abc")
    with pytest.raises(ConfigError, match="BRAINGENEERS_MQTT_PORT must be an integer"):
        MqttConfig.resolve(creds)


def test_redis_settings_precedence_and_legacy_password_key(
    creds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = RedisConfig.resolve(creds)
    assert (cfg.host, cfg.port, cfg.username, cfg.password, cfg.tls) == (
        "redis.example.org",
        6380,
        "app",
        "file-redis-secret",
        False,
    )
    monkeypatch.setenv("BRAINGENEERS_REDIS_TLS", "yes")
    monkeypatch.setenv("BRAINGENEERS_REDIS_PASSWORD", "env-secret")
    cfg = RedisConfig.resolve(creds, host="arg-host")
    assert (cfg.host, cfg.password, cfg.tls) == ("arg-host", "env-secret", True)
    assert RedisConfig.resolve(None).host == "redis.braingeneers.gi.ucsc.edu"  # documented default


def test_broker_needs_no_mqtt_settings_for_redis_and_no_redis_for_mqtt(creds: Path) -> None:
    only_mqtt = creds.parent / "mqtt-only"
    only_mqtt.write_text(CREDENTIALS.partition("[redis]")[0])
    mb = MessageBroker("x", credentials_file=only_mqtt)
    assert mb.mqtt_config.host == "mqtt.example.org"
    assert mb.client_id == "braingeneers-x"
    assert mb.status_topic == "braingeneers/status/x"
    anonymous = MessageBroker()
    assert anonymous.client_id.startswith("braingeneers-")
    assert anonymous.status_topic is None
    assert anonymous.client_id != MessageBroker().client_id


@pytest.mark.parametrize(
    "body",
    [{"a": [1, None]}, [1, 2], 0, 1.5, None, False, "", "42", "null", "{}", b"", b"\x00\x80\xff", "ü✓"],
)
def test_envelope_round_trips_value_and_type(body: Any) -> None:
    mid, payload = encode(body, "me")
    doc = json.loads(payload)
    assert set(doc) == {"bg", "id", "ts", "from", "type", "body"}
    decoded = decode(payload)
    assert decoded.body == body
    assert type(decoded.body) is type(body)
    assert (decoded.id, decoded.sender) == (mid, "me")
    assert decoded.ts is not None
    assert decoded.ts.endswith("+00:00")


def test_bare_payloads_decode_like_the_legacy_broker() -> None:
    assert decode(b'{"COMMAND": "PING"}').body == {"COMMAND": "PING"}
    assert decode(b'{"COMMAND": "PING"}').id is None
    assert decode(b"42").body == 42
    assert decode(b"hello").body == "hello"
    assert decode(b"\xff\xfe").body == b"\xff\xfe"
    assert decode(b"{broken").body == "{broken"
    assert decode(b'{"a": 1} trailing').body == '{"a": 1} trailing'  # as json.loads: not JSON
    assert decode(b'{"a": 1}\r\n').body == {"a": 1}
    assert decode('{"a": 1}\u00a0'.encode()).body == '{"a": 1}\u00a0'
    assert decode(b"{\xff}").body == b"{\xff}"
    # an object that merely resembles an envelope stays a plain object
    lookalike = {"bg": 2, "id": "x", "ts": "t", "from": "f", "type": "json", "body": 1}
    assert decode(json.dumps(lookalike).encode()).body == lookalike
    assert encode_bare("42") == b"42"
    assert encode_bare({"a": 1}) == b'{"a": 1}'


def test_envelope_rejects_unserializable_bodies_and_reuses_ids() -> None:
    with pytest.raises(FormatError, match="not JSON-serializable"):
        encode(object(), "me")
    with pytest.raises(FormatError):
        encode(float("nan"), "me")
    assert encode("x", "me", message_id="fixed")[0] == "fixed"
    odd = 'say "hi"\\ü'
    assert decode(encode("x", "me", message_id=odd)[1]).id == odd


class _Label(str):
    pass


@pytest.mark.parametrize(
    "body",
    [
        {"big": 2**70, "small": -(2**63)},  # beyond orjson's 64 bits: json writes it
        {1: "a", None: "b", 2.5: "c"},  # non-string keys: converted as json does
        {"label": _Label("x")},  # a str subclass
        {"x": [1.5, 1e16, 1e-7, -0.0, "null in a string"]},
        {"pad": "x" * 100_000, "t": 1.25},
        ["ü✓ \u2028", '"quoted" \\ and\ncontrol\x01'],
    ],
)
def test_envelope_body_json_matches_the_standard_encoder(body: Any) -> None:
    # The body is written by orjson where it agrees with json and by json elsewhere; either
    # way it decodes to what json.loads(json.dumps(body)) gives.
    payload = encode(body, "me")[1]
    assert json.loads(payload)["body"] == json.loads(json.dumps(body))
    assert decode(payload).body == json.loads(json.dumps(body))


@pytest.mark.parametrize(
    "body",
    [
        float("inf"),
        {"values": [1.0, float("nan")]},  # orjson alone would write null here
        {"when": datetime(2026, 1, 1)},
        {"s": "lone \ud800 surrogate"},
        {"a": {1, 2}},
    ],
)
def test_envelope_refuses_what_json_refuses(body: Any) -> None:
    with pytest.raises(FormatError, match="not JSON-serializable"):
        encode(body, "me")


def test_raw_bytes_envelope_round_trips_and_bogus_headers_are_ignored() -> None:
    raw = bytearray(b"\x89PNG\r\n\x1a\n")
    mid, payload, header = encode_raw(raw, "picroscope-2")
    assert payload == raw
    assert type(payload) is bytes
    decoded = decode(payload, header)
    assert (decoded.body, decoded.id, decoded.sender) == (bytes(raw), mid, "picroscope-2")
    assert encode_raw(b"x", "me", message_id="fixed")[0] == "fixed"
    good = json.loads(header)
    for bogus in (
        "not json",
        "[1]",
        json.dumps({**good, "type": "text"}),
        json.dumps({**good, "bg": 2}),
        json.dumps({**good, "body": "x"}),
    ):
        assert decode(b'{"a": 1}', bogus) == Envelope({"a": 1}), bogus  # the payload decoded on its own
    with pytest.raises(FormatError, match="not JSON-serializable"):
        encode_raw(b"x", "lone \ud800")
    with pytest.raises(FormatError, match="more than an MQTT user property holds"):
        encode_raw(b"x", "me", message_id="i" * 70_000)


def test_envelope_timestamp_is_the_current_utc_time() -> None:
    before = datetime.now(timezone.utc)
    stamps = [decode(encode(i, "me")[1]).ts for i in range(3)]
    after = datetime.now(timezone.utc)
    for stamp in stamps:
        assert stamp is not None
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", stamp)
        parsed = datetime.fromisoformat(stamp)
        assert parsed.utcoffset() == timedelta(0)
        assert before - timedelta(microseconds=1) <= parsed <= after + timedelta(microseconds=1)
    assert stamps == sorted(stamps)


def test_seen_ids_is_bounded() -> None:
    seen = SeenIds(capacity=3)
    assert all(seen.add(str(i)) for i in range(5))
    assert len(seen) == 3
    assert not seen.add("4")
    assert seen.add("0")  # forgotten: oldest first


def test_executor_isolates_errors_and_keeps_per_key_order() -> None:
    executor = CallbackExecutor(workers=3, queue_size=2)
    out: dict[str, list[int]] = {"a": [], "b": []}
    for i in range(50):
        executor.submit("a", out["a"].append, i)
        executor.submit("b", out["b"].append, i)
        executor.submit("c", _raise, i)
    assert executor.wait_idle(10)
    assert out == {"a": list(range(50)), "b": list(range(50))}
    assert executor.errors == 50
    executor.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        executor.submit("a", print)


def test_executor_submit_waits_when_full_instead_of_dropping() -> None:
    executor = CallbackExecutor(workers=1, queue_size=2)  # queued plus running
    gate = threading.Event()
    done: list[int] = []
    executor.submit("k", gate.wait, 5)  # running
    executor.submit("k", done.append, 1)  # queued: the worker is now full
    started = time.monotonic()
    threading.Timer(0.5, gate.set).start()
    executor.submit("k", done.append, 2)  # waits for room
    assert time.monotonic() - started >= 0.4
    assert executor.wait_idle(5)
    assert done == [1, 2]
    executor.shutdown()


def test_executor_calls_on_idle_before_each_wait() -> None:
    ran: list[int] = []
    idle: list[int] = []
    executor = CallbackExecutor(
        workers=1, queue_size=100, linger=0.001, on_idle=lambda: idle.append(len(ran))
    )
    for i in range(20):
        executor.submit("k", ran.append, i)
    assert wait_until(lambda: idle and idle[-1] == 20, 5)  # went idle only after the whole burst
    assert len(idle) < 10  # not once per message (a first idle may come before the burst)
    executor.submit("k", ran.append, 20)
    assert wait_until(lambda: idle[-1] == 21, 5)  # every wait for work is preceded by the hook
    executor.shutdown()
    assert ran == list(range(21))


def _raise(i: int) -> None:
    raise ValueError(i)


def test_paho_shutdown_race_error_is_dropped_other_paho_errors_are_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from braingeneers.iot.mqtt import paho_logger

    caplog.set_level(logging.DEBUG, logger="braingeneers.iot.paho")
    paho_logger.error(
        "Client is not connected. Socket: None). Last known Connection State: MQTT_CS_DISCONNECTED"
    )
    paho_logger.error("failed to receive on socket: %s", "[Errno 104] Connection reset by peer")
    assert [r.getMessage() for r in caplog.records] == [
        "failed to receive on socket: [Errno 104] Connection reset by peer"
    ]

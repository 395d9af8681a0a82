"""MessageBroker over MQTT against a real mosquitto: payloads, topic rules, callbacks, status, interop."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import random
import signal
import subprocess
import threading
import time
from typing import Any

import pytest
from iot_servers import MQTT_PASSWORD, MQTT_READER, MQTT_READER_PASSWORD, MQTT_USER, Mosquitto, wait_until

from braingeneers.core.errors import AuthError
from braingeneers.iot.errors import ClientIdConflictError, MessagingError, PublishError
from braingeneers.iot.messaging import CallableQueue

pytestmark = [pytest.mark.services, pytest.mark.timeout(120)]

PAYLOADS: list[Any] = [
    {"COMMAND": "PING-REQUEST", "nested": {"a": [1, 2.5, None, True]}},
    [1, "two", 3.0],
    42,
    -1.25,
    None,
    True,
    "42",
    "",
    "plain text with ünïcode ✓",
    '{"looks": "like json"}',
    b"\x00\xff\xfe raw bytes",
    b"",
]


def test_every_payload_type_round_trips_unchanged(make_broker: Any) -> None:
    sub = make_broker("sub-roundtrip")
    pub = make_broker("pub-roundtrip")
    got: queue.Queue[tuple[str, Any]] = sub.subscribe_message("rt/#")
    assert isinstance(got, CallableQueue)
    for i, payload in enumerate(PAYLOADS):
        pub.publish_message(f"rt/{i}", payload, confirm_receipt=True)
    received = {}
    for _ in PAYLOADS:
        topic, message = got.get(timeout=10)
        received[int(topic.split("/")[1])] = message
    for i, payload in enumerate(PAYLOADS):
        assert received[i] == payload, i
        assert type(received[i]) is type(payload), (i, received[i])


def test_large_messages_round_trip_unchanged(make_broker: Any) -> None:
    # Megabyte packets leave paho in several partial writes and reads (zero-copy queued
    # writes, orjson bodies, the big-integer check of large documents).
    rng = random.Random(6)
    payloads: list[Any] = [
        rng.randbytes(3_000_000),
        'ünïcode ✓ \u2028 "quoted" \\ ' * 40_000,
        {"pad": "x" * 500_000, "big": 2**70, "values": [rng.random() for _ in range(20_000)]},
        [str(i) for i in range(50_000)],
    ]
    sub = make_broker("sub-large")
    pub = make_broker("pub-large")
    got: queue.Queue[tuple[str, Any]] = sub.subscribe_message("large/#")
    handles = [pub.publish_message(f"large/{i}", payload) for i, payload in enumerate(payloads)]
    assert all(handle.wait(30) for handle in handles)
    received = dict(got.get(timeout=30) for _ in payloads)
    for i, payload in enumerate(payloads):
        assert received[f"large/{i}"] == payload, i
        assert type(received[f"large/{i}"]) is type(payload)
    assert type(received["large/2"]["big"]) is int


def test_wildcards_follow_mqtt_rules(make_broker: Any) -> None:
    sub = make_broker()  # unnamed: no status or client marker topics to see under '#'
    pub = make_broker()
    hash_q = sub.subscribe_message("a/#")
    plus_q = sub.subscribe_message("x/+/y")
    all_q = sub.subscribe_message("#")
    pub.publish_message("a", 1, confirm_receipt=True)  # a/# matches its parent level
    pub.publish_message("x//y", 2, confirm_receipt=True)  # + matches an empty level
    pub.publish_message("x/b/c/y", 3, confirm_receipt=True)  # + is exactly one level
    assert hash_q.get(timeout=10) == ("a", 1)
    assert plus_q.get(timeout=10) == ("x//y", 2)
    seen = {all_q.get(timeout=10)[0] for _ in range(3)}
    assert seen == {"a", "x//y", "x/b/c/y"}  # '#' never delivers $SYS topics
    time.sleep(0.3)
    assert plus_q.empty()
    assert hash_q.empty()
    assert all_q.empty()


def test_paho_matcher_rules_used_without_subscription_ids() -> None:
    from paho.mqtt.client import topic_matches_sub

    assert topic_matches_sub("a/#", "a")
    assert topic_matches_sub("x/+/y", "x//y")
    assert not topic_matches_sub("#", "$SYS/broker/uptime")
    assert not topic_matches_sub("+/broker/uptime", "$SYS/broker/uptime")


def test_invalid_filters_are_rejected_before_sending(make_broker: Any) -> None:
    sub = make_broker("sub-invalid")
    for bad in ["", "a/#/b", "a/b#", "a+/b"]:
        with pytest.raises(ValueError, match="topic filter"):
            sub.subscribe_message(bad, lambda t, m: None)


def test_overlapping_subscriptions_each_called_once(make_broker: Any) -> None:
    sub = make_broker("sub-overlap")
    pub = make_broker("pub-overlap")
    calls: dict[str, list[Any]] = {"a/#": [], "a/+": [], "a/b": []}
    for filt in calls:
        sub.subscribe_message(filt, lambda t, m, f=filt: calls[f].append(m))
    for i in range(20):
        pub.publish_message("a/b", i)
    assert wait_until(lambda: all(len(v) == 20 for v in calls.values()))
    time.sleep(0.3)
    assert {k: sorted(v) for k, v in calls.items()} == {k: list(range(20)) for k in calls}


@pytest.mark.parametrize("order", [("ov/b", "ov/+", "ov/#"), ("ov/#", "ov/b"), ("ov/b",)])
def test_overlapping_subscriptions_get_one_copy_of_bare_messages(
    make_broker: Any, order: tuple[str, ...]
) -> None:
    # Bare payloads carry no id, so nothing deduplicates them: each subscription must get
    # exactly its own copy, whether the exact one came before any wildcard (it is sent
    # without a subscription identifier until then) or after.
    sub = make_broker("sub-overlap-bare")
    legacy = make_broker("pub-overlap-bare", envelope=False)
    calls: dict[str, list[Any]] = {f: [] for f in order}
    for filt in order:
        sub.subscribe_message(filt, lambda t, m, f=filt: calls[f].append(m))
    for i in range(10):
        legacy.publish_message("ov/b", i)
    legacy.publish_message("ov/other", "x", confirm_receipt=True)
    assert wait_until(lambda: all(len(v) >= 10 for v in calls.values()))
    time.sleep(0.3)
    expected = {f: list(range(10)) + (["x"] if f != "ov/b" else []) for f in order}
    assert {k: sorted(v, key=str) for k, v in calls.items()} == {
        k: sorted(v, key=str) for k, v in expected.items()
    }


def test_bare_legacy_payloads_are_received_and_not_deduplicated(make_broker: Any) -> None:
    sub = make_broker("sub-legacy")
    legacy = make_broker("pub-legacy", envelope=False)
    got = sub.subscribe_message("legacy/+")
    legacy.publish_message("legacy/json", {"COMMAND": "PING-REQUEST"}, confirm_receipt=True)
    legacy.publish_message("legacy/json", {"COMMAND": "PING-REQUEST"}, confirm_receipt=True)
    legacy.publish_message("legacy/text", "hello", confirm_receipt=True)
    assert [got.get(timeout=10) for _ in range(3)] == [
        ("legacy/json", {"COMMAND": "PING-REQUEST"}),
        ("legacy/json", {"COMMAND": "PING-REQUEST"}),
        ("legacy/text", "hello"),
    ]


def test_raising_callback_is_isolated(make_broker: Any, caplog: pytest.LogCaptureFixture) -> None:
    sub = make_broker("sub-raise")
    pub = make_broker("pub-raise")

    def boom(topic: str, message: Any) -> None:
        raise RuntimeError(f"callback failure {message}")

    sub.subscribe_message("bad/topic", boom)
    good = sub.subscribe_message("good/topic")
    for i in range(5):
        pub.publish_message("bad/topic", i)
        pub.publish_message("good/topic", i)
    assert [good.get(timeout=10)[1] for _ in range(5)] == list(range(5))
    assert wait_until(lambda: sub.mqtt_connection.callback_errors == 5)
    assert "callback failure 4" in caplog.text
    pub.publish_message("good/topic", "after", confirm_receipt=True)
    assert good.get(timeout=10) == ("good/topic", "after")


def test_slow_callback_does_not_block_other_subscriptions_or_keepalive(make_broker: Any) -> None:
    sub = make_broker("sub-slow", keepalive=2, workers=2)
    pub = make_broker("pub-slow")
    release = threading.Event()
    sub.subscribe_message("slow", lambda t, m: release.wait(10))
    # pick a filter pinned to the other worker
    fast = None
    import zlib

    for i in range(100):
        filt = f"fast{i}"
        if zlib.crc32(filt.encode()) % 2 != zlib.crc32(b"slow") % 2:
            fast = filt
            break
    assert fast is not None
    got = sub.subscribe_message(fast)
    pub.publish_message("slow", 1, confirm_receipt=True)
    time.sleep(4)  # > 1.5 x keepalive while the slow callback blocks its worker
    pub.publish_message(fast, 2, confirm_receipt=True)
    assert got.get(timeout=10) == (fast, 2)
    assert sub.mqtt_connection.disconnects == 0
    release.set()


def test_confirm_receipt_inside_a_callback(make_broker: Any) -> None:
    sub = make_broker("sub-confirm")
    pub = make_broker("pub-confirm")
    replies = pub.subscribe_message("reply")
    results: list[Any] = []

    def on_request(topic: str, message: Any) -> None:
        handle = sub.publish_message("reply", {"re": message}, confirm_receipt=True)
        results.append(handle.is_published())

    sub.subscribe_message("request", on_request)
    pub.publish_message("request", 7)
    assert replies.get(timeout=10) == ("reply", {"re": 7})
    assert wait_until(lambda: results == [True])


def test_publish_handle_waits_for_puback(make_broker: Any) -> None:
    pub = make_broker("pub-handle")
    handle = pub.publish_message("h/1", "x")
    assert handle.wait(10) is True
    assert handle.is_published()
    assert len(handle.message_id or "") == 32


def test_publish_denied_by_acl_is_reported(make_broker: Any, caplog: pytest.LogCaptureFixture) -> None:
    # mosquitto 2.0.11 drops the link of a client whose publish the ACL denies, here right
    # after CONNACK (the read-only user's instance marker): the constructor must still succeed
    # and the client reconnect by itself.
    caplog.set_level(logging.WARNING, logger="braingeneers.iot.mqtt")
    reader = make_broker("reader-1", username=MQTT_READER, password=MQTT_READER_PASSWORD, status=False)
    assert reader.mqtt_connection.connects >= 1  # connects lazily, on first use
    assert wait_until(lambda: "collision detection is off" in caplog.text)
    assert "braingeneers/clients/braingeneers-reader-1" in caplog.text
    with pytest.raises(PublishError, match="Not authorized"):
        reader.publish_message("denied/topic", 1, confirm_receipt=True)
    # still usable afterwards: it reconnects by itself and receives what a writer publishes
    got = reader.subscribe_message("acl/ok")
    writer = make_broker("writer-acl")
    received = None
    for _ in range(40):  # the link may be re-established only now: publish until one arrives
        writer.publish_message("acl/ok", "hello", confirm_receipt=True)
        with contextlib.suppress(queue.Empty):
            received = got.get(timeout=0.5)
            break
    assert received == ("acl/ok", "hello")
    assert reader.mqtt_connection.is_connected


def test_unsubscribe_stops_delivery(make_broker: Any) -> None:
    sub = make_broker("sub-unsub")
    pub = make_broker("pub-unsub")
    got = sub.subscribe_message("u/1")
    pub.publish_message("u/1", 1, confirm_receipt=True)
    assert got.get(timeout=10) == ("u/1", 1)
    sub.unsubscribe_message("u/1")
    sub.unsubscribe_message("never/subscribed")  # no error
    pub.publish_message("u/1", 2, confirm_receipt=True)
    time.sleep(0.5)
    assert got.empty()


def test_wrong_password_raises_auth_error_without_retry_loop(mosquitto: Mosquitto, make_broker: Any) -> None:
    started = time.monotonic()
    with pytest.raises(AuthError, match="refused user 'device'"):
        make_broker("bad-pw", password="wrong", connect_timeout=5).publish_message("x", 1)
    assert time.monotonic() - started < 4
    time.sleep(1.5)
    log = (mosquitto.workdir / "mosquitto.log").read_text()
    assert log.count("braingeneers-bad-pw") <= 2, log  # one attempt (and its disconnect), no loop


def test_unreachable_broker_raises_after_connect_timeout(make_broker: Any) -> None:
    from braingeneers.core.testing import free_port

    broker = make_broker("nobody-home", port=free_port(), connect_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(MessagingError, match="could not connect"):
        broker.publish_message("x", 1)
    assert 1.0 < time.monotonic() - started < 5


def test_client_id_collision_is_reported_without_takeover_loop(make_broker: Any) -> None:
    first = make_broker("twin")
    first.publish_message("t", 1, confirm_receipt=True)
    second = make_broker("twin")
    second.publish_message("t", 2, confirm_receipt=True)
    assert wait_until(lambda: isinstance(first.mqtt_connection._fatal, ClientIdConflictError), 5)
    with pytest.raises(ClientIdConflictError, match="braingeneers-twin"):
        first.publish_message("t", 3)
    # The newer client keeps the id: at most one reconnect each (the older one may come back
    # once before it learns it was superseded, kicking the newer one once), then stability.
    assert wait_until(lambda: second.mqtt_connection.is_connected, 5)

    def connects() -> tuple[int, int]:
        return second.mqtt_connection.connects, first.mqtt_connection.connects

    counts = connects()
    for _ in range(8):  # settle: the counts stop changing (bounded at ~12 s)
        time.sleep(1.5)
        if connects() == counts:
            break
        counts = connects()
    assert counts[0] <= 2
    assert counts[1] <= 2
    time.sleep(3)
    assert connects() == counts  # no take-over loop
    assert wait_until(lambda: second.mqtt_connection.is_connected, 5)
    second.publish_message("t", 4, confirm_receipt=True)


def test_status_topic_online_offline_and_last_will(make_broker: Any) -> None:
    from faultproxy import FaultProxy

    watcher = make_broker("watcher")
    statuses = watcher.subscribe_message("braingeneers/status/+")
    with FaultProxy(watcher.mqtt_config.port) as proxy:
        device = make_broker("device-7", port=proxy.port, keepalive=2)
        assert device.status_topic == "braingeneers/status/device-7"
        device.publish_message("noop", 0, confirm_receipt=True)

        def next_state() -> str:
            while True:
                topic, msg = statuses.get(timeout=15)
                if topic == "braingeneers/status/device-7":
                    return str(msg["state"]) + ":" + str(msg["reason"])

        assert next_state() == "online:connected"
        proxy.close_all()  # a crash as the broker sees it: the last will fires
        assert next_state() == "offline:connection lost"
        assert next_state() == "online:connected"  # the client reconnected by itself
        device.shutdown()
        assert next_state() == "offline:shutdown"


def test_mosquitto_clients_interoperate(mosquitto: Mosquitto, make_broker: Any) -> None:
    from braingeneers.core.testing import require_binary

    pub_bin, sub_bin = require_binary("mosquitto_pub"), require_binary("mosquitto_sub")
    auth = ["-h", "127.0.0.1", "-p", str(mosquitto.port), "-u", MQTT_USER, "-P", MQTT_PASSWORD]
    ours = make_broker("interop")
    got = ours.subscribe_message("interop/in")
    subprocess.run(
        [pub_bin, *auth, "-q", "1", "-t", "interop/in", "-m", '{"COMMAND": "PING-REQUEST"}'], check=True
    )
    subprocess.run([pub_bin, *auth, "-q", "1", "-t", "interop/in", "-m", "just text"], check=True)
    assert got.get(timeout=10) == ("interop/in", {"COMMAND": "PING-REQUEST"})
    assert got.get(timeout=10) == ("interop/in", "just text")

    reader = subprocess.Popen(
        [sub_bin, *auth, "-q", "1", "-t", "interop/out", "-C", "1", "-W", "20"], stdout=subprocess.PIPE
    )
    try:
        time.sleep(0.5)
        deadline = time.monotonic() + 15
        while reader.poll() is None and time.monotonic() < deadline:
            ours.publish_message("interop/out", {"value": 42}, confirm_receipt=True)
            time.sleep(0.3)
        out, _ = reader.communicate(timeout=20)
    finally:
        if reader.poll() is None:
            reader.kill()
    envelope = json.loads(out)
    assert envelope["body"] == {"value": 42}
    assert envelope["from"] == "interop"
    assert len(envelope["id"]) == 32


def test_bytes_travel_raw_with_the_envelope_in_a_user_property(
    mosquitto: Mosquitto, make_broker: Any
) -> None:
    import paho.mqtt.client as mqtt

    raw = bytes(range(256)) * 3
    bare: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    peer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bare-peer", protocol=mqtt.MQTTv5)
    peer.username_pw_set(MQTT_USER, MQTT_PASSWORD)
    peer.on_message = lambda client, userdata, msg: bare.put(msg)
    peer.connect("127.0.0.1", mosquitto.port)
    peer.loop_start()
    try:
        peer.subscribe("raw/#", qos=1)
        sub = make_broker("sub-raw")
        got = sub.subscribe_message("raw/#")
        pub = make_broker("pub-raw")
        time.sleep(0.3)
        handle = pub.publish_message("raw/image", raw, confirm_receipt=True)
        msg = bare.get(timeout=10)
        assert msg.payload == raw  # no base64, no JSON: a peer that ignores properties sees the bytes
        (key, header), *_ = msg.properties.UserProperty
        assert key == "bg-envelope"
        assert json.loads(header).keys() == {"bg", "id", "ts", "from", "type"}
        assert json.loads(header)["type"] == "bytes"
        assert json.loads(header)["id"] == handle.message_id
        assert got.get(timeout=10) == ("raw/image", raw)

        # A peer may still send bytes in a base64 JSON envelope; a bogus header is ignored.
        from braingeneers.iot.envelope import encode

        peer.publish("raw/base64", encode(raw, "peer")[1], qos=1).wait_for_publish(10)
        assert got.get(timeout=10) == ("raw/base64", raw)
        props = mqtt.Properties(mqtt.PacketTypes.PUBLISH)
        props.UserProperty = ("bg-envelope", '{"bg": 1, "type": "text"}')
        peer.publish("raw/bogus", b"\xff\xfe", qos=1, properties=props).wait_for_publish(10)
        assert got.get(timeout=10) == ("raw/bogus", b"\xff\xfe")
    finally:
        peer.disconnect()
        peer.loop_stop()


def test_publish_while_broker_down_is_queued_not_raised(mosquitto: Mosquitto, make_broker: Any) -> None:
    sub = make_broker("sub-down")
    pub = make_broker("pub-down")
    got = sub.subscribe_message("down/+")
    pub.publish_message("down/0", 0, confirm_receipt=True)
    assert got.get(timeout=10) == ("down/0", 0)
    mosquitto.stop(signal.SIGTERM)
    assert wait_until(lambda: not pub.mqtt_connection.is_connected, 5)
    handles = [pub.publish_message(f"down/{i}", i) for i in range(1, 51)]
    assert not any(h.is_published() for h in handles)
    mosquitto.start()
    assert all(h.wait(20) for h in handles)
    received = sorted(got.get(timeout=20)[1] for _ in range(50))
    assert received == list(range(1, 51))


def test_offline_subscriber_receives_backlog(make_broker: Any) -> None:
    sub = make_broker("backlog-sub")
    sub.subscribe_message("backlog/#", lambda t, m: None)
    sub.shutdown()
    pub = make_broker("backlog-pub")
    for i in range(100):
        pub.publish_message(f"backlog/{i % 3}", i)
    assert wait_until(lambda: pub.mqtt_connection.pending() == 0)
    got: CallableQueue = CallableQueue()
    again = make_broker("backlog-sub")  # same name -> same client id and persistent session
    again.subscribe_message("backlog/#", got)
    assert sorted(got.get(timeout=10)[1] for _ in range(100)) == list(range(100))


def test_clean_session_broker_gets_no_backlog(make_broker: Any) -> None:
    sub = make_broker("clean-sub", persistent_session=False)
    sub.subscribe_message("cleanlog/#", lambda t, m: None)
    sub.shutdown()
    pub = make_broker("clean-pub")
    pub.publish_message("cleanlog/1", 1, confirm_receipt=True)
    again = make_broker("clean-sub", persistent_session=False)
    got = again.subscribe_message("cleanlog/#")
    pub.publish_message("cleanlog/2", 2, confirm_receipt=True)
    assert got.get(timeout=10) == ("cleanlog/2", 2)
    time.sleep(0.3)
    assert got.empty()


def test_full_callback_queue_holds_back_delivery_without_dropping(make_broker: Any) -> None:
    sub = make_broker("sub-backpressure", workers=1, callback_queue_size=2)
    pub = make_broker("pub-backpressure")
    seen: list[int] = []

    def slow(topic: str, message: Any) -> None:
        time.sleep(0.05)
        seen.append(message)

    sub.subscribe_message("bp", slow)
    for i in range(40):
        pub.publish_message("bp", i)
    assert wait_until(lambda: len(seen) == 40, 30)
    assert seen == list(range(40))  # one subscription: one worker, in order, none dropped


def test_tls_with_ca_file_and_client_certificate(tmp_path: Any) -> None:
    from iot_servers import make_test_ca

    from braingeneers.core.testing import free_port
    from braingeneers.iot.messaging import MessageBroker

    pki = make_test_ca(tmp_path / "pki")
    tls_port = free_port()
    server = Mosquitto(
        tmp_path / "tls-mosquitto",
        extra=[
            f"listener {tls_port} 127.0.0.1",
            f"cafile {pki['ca.crt']}",
            f"certfile {pki['server.crt']}",
            f"keyfile {pki['server.key']}",
            "require_certificate true",
        ],
    )
    for path in pki.values():
        path.chmod(0o644)
    server.start()
    brokers = []
    try:
        common = {"host": "127.0.0.1", "port": tls_port, "username": MQTT_USER, "password": MQTT_PASSWORD}
        tls = MessageBroker(
            "tls-device",
            **common,
            ca_file=str(pki["ca.crt"]),
            cert_file=str(pki["client.crt"]),
            key_file=str(pki["client.key"]),
        )
        brokers.append(tls)
        got = tls.subscribe_message("tls/topic")
        tls.publish_message("tls/topic", {"secure": True}, confirm_receipt=True)
        assert got.get(timeout=10) == ("tls/topic", {"secure": True})
        no_cert = MessageBroker("tls-nocert", **common, ca_file=str(pki["ca.crt"]), connect_timeout=2)
        brokers.append(no_cert)
        with pytest.raises(MessagingError, match="could not connect"):
            no_cert.publish_message("tls/topic", 1)
    finally:
        for broker in brokers:
            broker.shutdown(timeout=1)
        server.stop()


def test_unsubscribe_while_disconnected_reaches_the_kept_session(
    mosquitto: Mosquitto, make_broker: Any
) -> None:
    sub = make_broker("sub-offline-unsub")
    pub = make_broker("pub-offline-unsub")
    got = sub.subscribe_message("offunsub/a")
    kept = sub.subscribe_message("offunsub/b")
    mosquitto.stop(signal.SIGTERM)
    assert wait_until(lambda: not sub.mqtt_connection.is_connected, 5)
    sub.unsubscribe_message("offunsub/a")
    mosquitto.start()
    assert wait_until(lambda: sub.mqtt_connection.is_connected and pub.mqtt_connection.is_connected, 15)
    time.sleep(0.3)
    pub.publish_message("offunsub/a", 1, confirm_receipt=True)
    pub.publish_message("offunsub/b", 2, confirm_receipt=True)
    assert kept.get(timeout=10) == ("offunsub/b", 2)
    time.sleep(0.3)
    assert got.empty()
    assert len(sub.mqtt_connection._orphans) == 0  # the broker no longer sends offunsub/a


def test_subscriptions_restored_after_a_broker_that_lost_every_session(tmp_path: Any) -> None:
    from braingeneers.iot.messaging import MessageBroker

    server = Mosquitto(tmp_path / "amnesiac", persistence=False)
    server.start()
    common = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": MQTT_USER,
        "password": MQTT_PASSWORD,
        "reconnect_min_delay": 0.1,
        "reconnect_max_delay": 0.5,
    }
    sub, pub = MessageBroker("amnesiac-sub", **common), MessageBroker("amnesiac-pub", **common)
    try:
        got = sub.subscribe_message("restore/+")
        pub.publish_message("restore/1", 1, confirm_receipt=True)
        assert got.get(timeout=10) == ("restore/1", 1)
        server.restart(signal.SIGTERM)  # no persistence: the broker forgets the session
        assert wait_until(lambda: sub.mqtt_connection.connects == 2 and pub.mqtt_connection.connects == 2, 15)
        time.sleep(0.3)  # the re-sent SUBSCRIBE is processed
        pub.publish_message("restore/2", 2, confirm_receipt=True)
        assert got.get(timeout=10) == ("restore/2", 2)
    finally:
        sub.shutdown(1)
        pub.shutdown(1)
        server.stop()


def test_full_offline_queue_raises_publish_error_for_the_message_not_queued(
    mosquitto: Mosquitto, make_broker: Any
) -> None:
    sub = make_broker("sub-fullq")
    got = sub.subscribe_message("fullq")
    pub = make_broker("pub-fullq", max_pending=5, pending_timeout=0.5)
    pub.publish_message("fullq", -1, confirm_receipt=True)
    mosquitto.stop(signal.SIGTERM)
    assert wait_until(lambda: not pub.mqtt_connection.is_connected, 5)
    handles = [pub.publish_message("fullq", i) for i in range(5)]  # fills the queue, no error
    started = time.monotonic()
    with pytest.raises(PublishError, match="not queued: 5 messages have waited"):
        pub.publish_message("fullq", 5)
    assert 0.4 < time.monotonic() - started < 3
    mosquitto.start()
    assert all(h.wait(15) for h in handles)
    received = [got.get(timeout=10)[1] for _ in range(6)]
    assert sorted(received) == [-1, 0, 1, 2, 3, 4]


def test_qos2_round_trip(make_broker: Any) -> None:
    sub = make_broker("sub-qos2", qos=2)
    pub = make_broker("pub-qos2", qos=2)
    got = sub.subscribe_message("q2")
    for i in range(10):
        pub.publish_message("q2", i, confirm_receipt=True)
    assert [got.get(timeout=10)[1] for _ in range(10)] == list(range(10))


def test_confirm_receipt_timeout_keeps_the_message_queued(mosquitto: Mosquitto, make_broker: Any) -> None:
    sub = make_broker("sub-confirm-timeout")
    got = sub.subscribe_message("ct")
    pub = make_broker("pub-confirm-timeout", confirm_timeout=0.5)
    pub.publish_message("ct", 0, confirm_receipt=True)
    mosquitto.stop(signal.SIGTERM)
    assert wait_until(lambda: not pub.mqtt_connection.is_connected, 5)
    with pytest.raises(TimeoutError, match="stays queued"):
        pub.publish_message("ct", 1, confirm_receipt=True)
    mosquitto.start()
    assert sorted(got.get(timeout=15)[1] for _ in range(2)) == [0, 1]


def test_backlog_for_a_filter_never_resubscribed_does_not_stall_delivery(make_broker: Any) -> None:
    old = make_broker("stale-sub")
    old.subscribe_message("stale/#", lambda t, m: None)
    old.shutdown()
    pub = make_broker("stale-pub")
    for i in range(150):  # more than the broker's in-flight window (100 in the test config)
        pub.publish_message("stale/x", i)
    assert wait_until(lambda: pub.mqtt_connection.pending() == 0, 15)
    new = make_broker("stale-sub")  # same session, new code that no longer wants stale/#
    got = new.subscribe_message("fresh")
    pub.publish_message("fresh", "still flowing", confirm_receipt=True)
    assert got.get(timeout=15) == ("fresh", "still flowing")


def test_slow_subscription_burst_cannot_starve_other_subscriptions(make_broker: Any) -> None:
    import zlib

    sub = make_broker("sub-starve", workers=2)
    pub = make_broker("pub-starve")
    release = threading.Event()
    slow_seen: list[int] = []

    def slow(topic: str, message: Any) -> None:
        release.wait(20)
        slow_seen.append(message)

    sub.subscribe_message("starve/slow", slow)
    fast = next(
        f"starve/fast{i}"
        for i in range(100)
        if zlib.crc32(f"starve/fast{i}".encode()) % 2 != zlib.crc32(b"starve/slow") % 2
    )
    got = sub.subscribe_message(fast)
    for i in range(150):  # more than the broker's in-flight window (100 in the test config)
        pub.publish_message("starve/slow", i)
    pub.publish_message(fast, "through", confirm_receipt=True)
    assert got.get(timeout=10) == (fast, "through")
    release.set()
    assert wait_until(lambda: len(slow_seen) == 150, 20)
    assert slow_seen == list(range(150))


def test_waiting_packets_are_read_in_bursts_and_acknowledged_together(make_broker: Any) -> None:
    # While the subscriber's network thread is held at its first message, the broker's
    # in-flight window (100 in the fixture) fills its socket. Released, the thread reads
    # them in bursts (not one select() each) and acknowledges each message exactly once,
    # many PUBACKs per write.
    from braingeneers.iot import paho_client

    assert paho_client.FAST_PATH, "the installed paho-mqtt lacks the internals BurstClient uses"
    sub = make_broker("sub-burst")
    got = sub.subscribe_message("burst")
    conn = sub.mqtt_connection
    client = conn._client
    per_read: list[int] = []
    acked: list[int] = []
    read_done, ack_many = client.on_read_done, client.ack_many
    last = conn.received

    def counting_read_done() -> None:
        nonlocal last
        per_read.append(conn.received - last)
        last = conn.received
        read_done()

    def recording_ack_many(mids: Any) -> None:
        mids = list(mids)
        acked.append(len(mids))
        ack_many(mids)

    client.on_read_done = counting_read_done
    client.ack_many = recording_ack_many  # type: ignore[method-assign]
    pub = make_broker("pub-burst")
    with conn._lock:  # the network thread stops in its first message's routing
        handles = [pub.publish_message("burst", i) for i in range(200)]
        assert all(handle.wait(10) for handle in handles)  # every one is at the broker
        time.sleep(0.3)  # and the first 100 are on the subscriber's socket
    assert [got.get(timeout=10)[1] for _ in range(200)] == list(range(200))
    assert wait_until(lambda: sum(acked) >= 200, 10)
    time.sleep(0.3)
    assert sum(acked) == 200  # every message acknowledged once
    assert max(per_read) >= 32, per_read  # one read call took the waiting packets
    assert max(acked) >= 32, acked  # and their PUBACKs went out together
    assert conn.callback_errors == 0

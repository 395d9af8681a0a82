"""MQTT delivery under faults: broker restarts and crashes, cut and half-open links, duplicates.

The clients reach mosquitto through :mod:`faultproxy` relays. The headline test sends
10 000 QoS 1 messages across three broker restarts and two link cuts and counts callbacks:
none lost, none twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy
from iot_servers import Mosquitto, wait_until

pytestmark = [pytest.mark.services, pytest.mark.timeout(240)]


class Counter:
    """Collect callback payloads thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[Any] = []

    def __call__(self, topic: str, message: Any) -> None:
        with self.lock:
            self.seen.append(message)

    def __len__(self) -> int:
        with self.lock:
            return len(self.seen)


def fast(**kwargs: Any) -> dict[str, Any]:
    """Broker options for quick fault detection in tests."""
    return {"keepalive": 2, "reconnect_min_delay": 0.1, "reconnect_max_delay": 0.5, **kwargs}


def test_ten_thousand_messages_across_restarts_and_cuts_arrive_exactly_once(
    mosquitto: Mosquitto, make_broker: Any
) -> None:
    total = 10_000
    got = Counter()
    with FaultProxy(mosquitto.port) as sub_link, FaultProxy(mosquitto.port) as pub_link:
        sub = make_broker("fault-sub", port=sub_link.port, **fast())
        sub.subscribe_message("load/+", got)
        pub = make_broker("fault-pub", port=pub_link.port, **fast(max_pending=total))
        conn = sub.mqtt_connection

        def caught_up(n: int) -> bool:
            return len(got) >= n and pub.mqtt_connection.pending() == 0

        faults: dict[int, Any] = {
            1_500: lambda: mosquitto.stop(signal.SIGTERM),  # publishing goes on while it is down
            1_800: mosquitto.start,
            3_000: sub_link.close_all,
            4_500: pub_link.close_all,
            6_000: "sigkill",
            8_000: lambda: mosquitto.stop(signal.SIGTERM),
            8_300: mosquitto.start,
        }
        for i in range(total):
            fault = faults.get(i)
            if fault == "sigkill":
                # mosquitto acknowledges a message before saving it (autosave_interval 1 s), so a
                # SIGKILL loses what it held unsaved: crash it once everything in flight is delivered.
                assert wait_until(lambda n=i: caught_up(n), 60), (len(got), i)
                time.sleep(1.5)
                mosquitto.restart(signal.SIGKILL)
            elif fault is not None:
                fault()
            pub.publish_message(f"load/{i % 4}", i)
            if i % 200 == 0:
                time.sleep(0.02)
        assert wait_until(lambda: len(got) >= total, 90), len(got)
        # the last PUBACKs may reach the publisher a moment after the subscriber has everything
        assert wait_until(lambda: pub.mqtt_connection.pending() == 0, 10), pub.mqtt_connection.pending()
        time.sleep(1.0)  # any late duplicate would arrive now
        seen = sorted(got.seen)
        assert len(seen) == total, f"{len(seen) - len(set(seen))} duplicate callbacks"
        assert seen == list(range(total)), "lost messages"
        assert mosquitto.starts == 4
        assert conn.connects == 5  # start, 3 restarts, its own link cut
        assert pub.mqtt_connection.connects == 5  # start, 3 restarts, its own link cut
        assert conn.callback_errors == 0


def test_half_open_link_is_detected_by_keepalive_and_backlog_delivered(
    mosquitto: Mosquitto, make_broker: Any
) -> None:
    got = Counter()
    with FaultProxy(mosquitto.port) as link:
        sub = make_broker("halfopen-sub", port=link.port, **fast(keepalive=1))
        sub.subscribe_message("half/#", got)
        pub = make_broker("halfopen-pub", **fast())
        pub.publish_message("half/0", 0, confirm_receipt=True)
        assert wait_until(lambda: len(got) == 1)
        link.set_mode("blackhole")
        started = time.monotonic()
        for i in range(1, 21):
            pub.publish_message("half/x", i, confirm_receipt=True)
        assert wait_until(lambda: not sub.mqtt_connection.is_connected, 10)
        assert time.monotonic() - started < 6  # about two keepalive periods, not a silent hang
        link.set_mode("pass")
        assert wait_until(lambda: len(got) == 21, 20), len(got)
        assert sorted(got.seen) == list(range(21))


@pytest.mark.parametrize("body", ["once", b"\x00raw bytes, envelope in a property"])
def test_subscriber_side_redelivery_is_suppressed(mosquitto: Mosquitto, make_broker: Any, body: Any) -> None:
    got = Counter()
    with FaultProxy(mosquitto.port) as link:
        sub = make_broker("dup-sub", port=link.port, **fast())
        sub.subscribe_message("dup/sub", got)
        pub = make_broker("dup-sub-pub", **fast())
        link.set_mode("blackhole", direction="up")  # the subscriber's PUBACKs never reach the broker
        pub.publish_message("dup/sub", body, confirm_receipt=True)
        assert wait_until(lambda: len(got) == 1)
        link.close_all()
        link.set_mode("pass")
        # the persistent session redelivers the unacknowledged message (DUP) after the reconnect
        assert wait_until(lambda: sub.mqtt_connection.duplicates >= 1, 15)
        time.sleep(0.5)
        assert got.seen == [body]


@pytest.mark.parametrize("body", ["once", b"\x00raw bytes, envelope in a property"])
def test_publisher_side_retransmission_is_suppressed(
    mosquitto: Mosquitto, make_broker: Any, body: Any
) -> None:
    got = Counter()
    with FaultProxy(mosquitto.port) as link:
        sub = make_broker("dup-pub-sub", **fast())
        sub.subscribe_message("dup/pub", got)
        pub = make_broker("dup-pub", port=link.port, **fast())
        pub.publish_message("dup/pub", "warmup", confirm_receipt=True)
        link.set_mode("blackhole", direction="down")  # the broker's PUBACK never reaches the publisher
        handle = pub.publish_message("dup/pub", body)
        assert wait_until(lambda: len(got) == 2)
        assert not handle.is_published()
        link.close_all()
        link.set_mode("pass")
        assert handle.wait(15)  # paho resent it after the reconnect: a second copy reached the broker
        assert wait_until(lambda: sub.mqtt_connection.duplicates >= 1, 10)
        time.sleep(0.5)
        assert got.seen == ["warmup", body]


def test_order_kept_under_latency_and_refused_reconnects_recover(
    mosquitto: Mosquitto, make_broker: Any
) -> None:
    got = Counter()
    with FaultProxy(mosquitto.port) as link:
        sub = make_broker("order-sub", **fast())
        sub.subscribe_message("order", got)
        pub = make_broker("order-pub", port=link.port, **fast())
        link.set_mode("latency", latency=0.02)
        for i in range(200):
            pub.publish_message("order", i)
        assert wait_until(lambda: len(got) == 200, 30)
        assert got.seen == list(range(200))  # one publisher, one topic, connected: in order
        link.set_mode("refuse")
        link.close_all()
        assert wait_until(lambda: not pub.mqtt_connection.is_connected, 5)
        handles = [pub.publish_message("order", i) for i in range(200, 300)]
        time.sleep(1.5)  # reconnect attempts are refused meanwhile
        assert not pub.mqtt_connection.is_connected
        link.set_mode("pass")
        assert all(h.wait(15) for h in handles)
        assert wait_until(lambda: len(got) == 300, 15)
        assert sorted(got.seen) == list(range(300))


class _SubscriberProcess:
    """A subscriber in its own process, named ``name``, writing each message it handles to a file.

    Every instance with the same name shares one persistent session, so starting a second
    one after SIGKILLing the first shows what the broker still held for it.
    """

    def __init__(self, mosquitto: Mosquitto, out: Path, name: str, topic: str, delay: float, **options: Any):
        from iot_servers import MQTT_PASSWORD, MQTT_USER

        self.out = out
        self.script = textwrap.dedent(
            f"""
            import time
            from braingeneers.iot.messaging import MessageBroker
            mb = MessageBroker({name!r}, host="127.0.0.1", port={mosquitto.port}, username={MQTT_USER!r},
                               password={MQTT_PASSWORD!r}, **{options!r})
            def handle(topic, message):
                time.sleep({delay!r})
                with open({str(out)!r}, "a") as f:
                    f.write(f"{{message}}\\n")
            mb.subscribe_message({topic!r}, handle)
            print("ready", flush=True)
            time.sleep(120)
            """
        )
        self.procs: list[subprocess.Popen[str]] = []

    def start(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", self.script], stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        return proc

    def handled(self) -> list[int]:
        return [int(x) for x in self.out.read_text().split()] if self.out.exists() else []

    def kill(self, proc: subprocess.Popen[str]) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def test_batched_acknowledgements_are_sent_when_traffic_stops(
    mosquitto: Mosquitto, make_broker: Any, tmp_path: Path
) -> None:
    # Fast callbacks' acknowledgements are batched; once the burst is over they must all
    # reach the broker without further traffic or a clean shutdown: a process killed a
    # moment later gets none of those messages again.
    sub = _SubscriberProcess(mosquitto, tmp_path / "handled.txt", "batch-sub", "batch/topic", 0.0, workers=1)
    try:
        first = sub.start()
        pub = make_broker("batch-pub")
        for i in range(500):
            pub.publish_message("batch/topic", i)
        assert wait_until(lambda: len(sub.handled()) >= 500, 30)
        time.sleep(0.5)  # far longer than the batching delay
        sub.kill(first)
        sub.start()  # same name: same persistent session, which must hold nothing
        time.sleep(2)
        assert sorted(sub.handled()) == list(range(500))
    finally:
        sub.stop_all()


def test_messages_queued_for_callbacks_survive_a_subscriber_crash(
    mosquitto: Mosquitto, make_broker: Any, tmp_path: Path
) -> None:
    sub = _SubscriberProcess(
        mosquitto, tmp_path / "handled.txt", "crash-sub", "crash/topic", 0.05, workers=1, max_unacked=80
    )
    try:
        first = sub.start()
        pub = make_broker("crash-pub")
        for i in range(60):
            pub.publish_message("crash/topic", i)
        assert wait_until(lambda: len(sub.handled()) >= 10, 15)
        sub.kill(first)  # about 50 messages are still queued for the callback
        assert len(sub.handled()) < 60
        sub.start()  # same name: same persistent session
        assert wait_until(lambda: set(sub.handled()) == set(range(60)), 30), sorted(
            set(range(60)) - set(sub.handled())
        )
        time.sleep(0.5)
        assert len(sub.handled()) - 60 <= 2  # at most the message in progress at the crash runs twice
    finally:
        sub.stop_all()

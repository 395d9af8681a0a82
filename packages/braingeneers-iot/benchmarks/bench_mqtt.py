"""Benchmark: MessageBroker over MQTT beside bare paho-mqtt, through a local mosquitto.

For 100-byte and 100 kB payloads at QoS 1 it measures

* throughput: messages/s from the first publish to the last callback (best of 5 rounds that
  interleave the four clients), publishing as fast
  as the client allows (all clients: MQTT 5, 100 messages in flight);
* latency: p50/p99 publish-to-callback time at a paced 200 messages/s.

Each client sends the same message as its baseline:

* a JSON message, ``{"t": <send time>, "pad": "xxx..."}``: "ours" is ``MessageBroker``
  (envelope with id, duplicate suppression, callbacks on worker threads, acknowledgement
  after the callback); "paho+json" is a bare paho-mqtt 2 client that sends it with
  ``json.dumps`` and reads it with ``json.loads`` in its callback, on its network thread
  (what the legacy broker did);
* raw bytes, the send time packed in the first 8: "ours bytes" is ``MessageBroker``
  publishing ``bytes`` (raw payload, envelope in a user property); "paho bytes" is the
  bare client publishing the same bytes.

All run against the same broker in the same run.

Two layouts are measured:

* ``separate processes`` (the headline): the publisher runs in its own process, as a lab
  device and the service listening to it do;
* ``one process``: publisher and subscriber share one interpreter and so one GIL. Every
  extra runnable thread (ours has the callback worker) then costs GIL hand-offs on each of
  paho's socket calls; this layout shows that price.

Ratios are ours/baseline for throughput and baseline/ours for latency (above 1 means ours
is better).

Usage: ``python bench_mqtt.py [--quick]``. Needs Debian's mosquitto.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from braingeneers.core.loopback import free_port, wait_for_port
from braingeneers.iot.messaging import MessageBroker

KINDS = ("ours", "paho+json", "ours bytes", "paho bytes")
PAIRS = (("ours", "paho+json"), ("ours bytes", "paho bytes"))  # (ours, its baseline)
ROUNDS = 5  # throughput is the best of this many interleaved rounds


def _start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_inflight_messages 100\nmessage_size_limit 0\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc, port


def _bare_client(port: int, cid: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _ours(port: int, name: str) -> MessageBroker:
    return MessageBroker(
        name, host="127.0.0.1", port=port, persistent_session=False, status=False, max_pending=100_000
    )


def make_publisher(kind: str, port: int, topic: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """Return ``(publish(size), close())`` for one kind of client, connected."""
    name = f"pub-{topic.replace('/', '-')}-{os.getpid()}"
    if kind.startswith("ours"):
        broker = _ours(port, name)
        broker.mqtt_connection  # noqa: B018  (connect now, not on the first publish)

        def publish(size: int) -> None:
            broker.publish_message(topic, {"t": time.perf_counter(), "pad": "x" * max(0, size - 40)})

        def publish_bytes(size: int) -> None:
            broker.publish_message(topic, struct.pack("d", time.perf_counter()) + b"x" * max(0, size - 8))

        return (publish_bytes if kind == "ours bytes" else publish), lambda: broker.shutdown(10)
    client = _bare_client(port, name)
    infos: list[mqtt.MQTTMessageInfo] = []

    def close() -> None:
        for info in infos[-1:]:
            info.wait_for_publish(10)
        client.disconnect()
        client.loop_stop()

    if kind == "paho bytes":

        def publish(size: int) -> None:
            payload = struct.pack("d", time.perf_counter()) + b"x" * max(0, size - 8)
            infos.append(client.publish(topic, payload, qos=1))

        return publish, close

    def publish_json(size: int) -> None:
        message = {"t": time.perf_counter(), "pad": "x" * max(0, size - 40)}
        infos.append(client.publish(topic, json.dumps(message), qos=1))

    return publish_json, close


class Subscriber:
    """Counts messages and publish-to-callback latencies on one topic, for one kind of client."""

    def __init__(self, kind: str, port: int, topic: str) -> None:
        self.kind = kind
        self.received = 0
        self.expect = 0
        self.latencies: list[float] = []
        self.done = threading.Event()
        self._lock = threading.Lock()
        name = f"sub-{topic.replace('/', '-')}"
        if kind.startswith("ours"):
            self.broker: MessageBroker | None = _ours(port, name)
            callback = self._on_ours_bytes if kind == "ours bytes" else self._on_ours
            self.broker.subscribe_message(topic, callback)
            self.client: mqtt.Client | None = None
        else:
            self.broker = None
            self.client = _bare_client(port, name)
            self.client.on_message = self._on_raw if kind == "paho bytes" else self._on_json
            self.client.subscribe(topic, qos=1)
            time.sleep(0.3)

    def reset(self, expect: int) -> None:
        self.received, self.expect, self.latencies = 0, expect, []
        self.done.clear()

    def _count(self, sent: float) -> None:
        self.latencies.append(time.perf_counter() - sent)
        self.received += 1
        if self.received >= self.expect:
            self.done.set()

    def _on_raw(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._count(struct.unpack("d", msg.payload[:8])[0])

    def _on_json(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._count(json.loads(msg.payload)["t"])

    def _on_ours(self, topic: str, message: Any) -> None:
        with self._lock:  # ours may run callbacks of other subscriptions on other workers
            self._count(message["t"])

    def _on_ours_bytes(self, topic: str, message: bytes) -> None:
        with self._lock:
            self._count(struct.unpack("d", message[:8])[0])

    def close(self) -> None:
        if self.broker is not None:
            self.broker.shutdown(1)
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()


def _publisher_process(
    kind: str, port: int, topic: str, count: int, size: int, rate: float, ready: Any, go: Any
) -> None:
    publish, close = make_publisher(kind, port, topic)
    ready.set()
    go.wait(60)
    for _ in range(count):
        publish(size)
        if rate:
            time.sleep(1 / rate)
    close()


def _run(sub: Subscriber, port: int, topic: str, count: int, size: int, rate: float, separate: bool) -> float:
    """Publish ``count`` messages to ``sub``; return messages/s (first publish to last callback)."""
    sub.reset(count)
    if separate:
        ctx = multiprocessing.get_context("spawn")
        ready, go = ctx.Event(), ctx.Event()
        proc = ctx.Process(
            target=_publisher_process, args=(sub.kind, port, topic, count, size, rate, ready, go)
        )
        proc.start()
        if not ready.wait(60):
            proc.kill()
            raise SystemExit(f"the {sub.kind} publisher process did not start")
        started = time.perf_counter()
        go.set()
        finished = sub.done.wait(300)
        elapsed = time.perf_counter() - started
        proc.join(60)
    else:
        publish, close = make_publisher(sub.kind, port, topic)
        started = time.perf_counter()
        for _ in range(count):
            publish(size)
            if rate:
                time.sleep(1 / rate)
        finished = sub.done.wait(300)
        elapsed = time.perf_counter() - started
        close()
    if not finished:
        raise SystemExit(f"{sub.kind}: only {sub.received}/{count} messages arrived")
    return count / elapsed


def _latency(sub: Subscriber) -> tuple[float, float]:
    ms = sorted(x * 1000 for x in sub.latencies)
    return statistics.median(ms), ms[int(0.99 * (len(ms) - 1))]


def _slug(kind: str) -> str:
    return kind.replace("+", "-").replace(" ", "-")


def _table(title: str, rows: list[tuple[str, ...]]) -> None:
    print(f"\n{title}")
    header = ("measure", "ours", "paho+json", "ratio", "ours bytes", "paho bytes", "ratio")
    print(f"{header[0]:<22}" + "".join(f"{h:>12}" for h in header[1:]))
    for name, *values in rows:
        print(f"{name:<22}" + "".join(f"{v:>12}" for v in values))


def main() -> None:
    quick = "--quick" in sys.argv
    cases = [
        (100, 3_000 if quick else 20_000, 300 if quick else 1_000),
        (100_000, 300 if quick else 2_000, 200),
    ]
    layouts = [("separate processes", True), ("one process", False)]
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = _start_mosquitto(Path(tmp))
        try:
            for layout, separate in layouts:
                topics = {kind: f"bench/{layout[:3]}/{_slug(kind)}" for kind in KINDS}
                subs = {kind: Subscriber(kind, port, topics[kind]) for kind in KINDS}
                rows: list[tuple[str, ...]] = []
                for size, count, lat_count in cases:
                    label = f"{size // 1000} kB" if size >= 1000 else f"{size} B"
                    tp: dict[str, float] = {}
                    lat: dict[str, tuple[float, float]] = {}
                    # Rounds interleave the kinds (in a rotating order), so a slow spell of a
                    # shared machine hits all of them rather than one kind's every run.
                    for round_ in range(ROUNDS):
                        turn = round_ % len(KINDS)
                        for kind in KINDS[turn:] + KINDS[:turn]:
                            rate = _run(subs[kind], port, topics[kind], count, size, 0, separate)
                            tp[kind] = max(tp.get(kind, 0.0), rate)
                    for kind, sub in subs.items():
                        topic = topics[kind]
                        _run(sub, port, topic, lat_count, size, 200.0, separate)
                        lat[kind] = _latency(sub)
                    for name, values, higher_better in (
                        ("QoS 1 msg/s", dict(tp), True),
                        ("p50 latency ms", {k: v[0] for k, v in lat.items()}, False),
                        ("p99 latency ms", {k: v[1] for k, v in lat.items()}, False),
                    ):
                        fmt = "{:,.0f}" if higher_better else "{:.2f}"
                        cells = [f"{label} {name}"]
                        for mine, base in PAIRS:
                            ratio = values[mine] / values[base]
                            if not higher_better:
                                ratio = 1 / ratio
                            cells += [fmt.format(values[mine]), fmt.format(values[base]), f"{ratio:.2f}"]
                        rows.append(tuple(cells))
                for sub in subs.values():
                    sub.close()
                _table(f"MQTT through local mosquitto, {layout} ({'quick' if quick else 'full'} run)", rows)
        finally:
            proc.terminate()
            proc.wait(10)
    print(
        "ratio > 1: ours is better (throughput ours/baseline, latency baseline/ours); "
        "each ratio compares clients sending the same message"
    )


if __name__ == "__main__":
    main()

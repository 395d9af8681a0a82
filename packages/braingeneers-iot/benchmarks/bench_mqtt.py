"""Benchmark: MessageBroker over MQTT beside bare paho-mqtt, through a local mosquitto.

For 100-byte and 100 kB payloads at QoS 1 it measures

* throughput: messages/s from the first publish to the last callback, publishing as fast
  as the client allows (both clients: MQTT 5, 100 messages in flight);
* latency: p50/p99 publish-to-callback time at a paced 200 messages/s.

"ours" is ``MessageBroker`` (JSON envelope, duplicate suppression, callbacks on worker
threads) publishing a JSON message; "paho" is a bare paho-mqtt 2 client whose callback runs
on its network thread, sending raw bytes; "paho+json" is the same bare client sending the same
JSON message as ours (``json.dumps`` / ``json.loads``, what the legacy broker did). All run in
this process against the same broker in the same run. Ratios are ours/baseline for
throughput and baseline/ours for latency (above 1 means ours is better).

Usage: ``python bench_mqtt.py [--quick]``. Needs Debian's mosquitto.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from braingeneers.iot.messaging import MessageBroker


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    port = _free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_inflight_messages 100\nmessage_size_limit 0\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("mosquitto did not start")


class Bare:
    """A bare paho-mqtt publisher/subscriber pair."""

    topic = "bench/bare"

    def __init__(self, port: int) -> None:
        self.port = port
        self.received = 0
        self.latencies: list[float] = []
        self.done = threading.Event()
        self.expect = 0
        self.sub = self._client(self.topic.replace("/", "-") + "-sub")
        self.pub = self._client(self.topic.replace("/", "-") + "-pub")
        self.sub.on_message = self._on_message
        self.sub.subscribe(self.topic, qos=1)
        time.sleep(0.3)

    def _client(self, cid: str) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        return client

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        sent = struct.unpack("d", msg.payload[:8])[0]
        self.latencies.append(time.perf_counter() - sent)
        self.received += 1
        if self.received >= self.expect:
            self.done.set()

    def publish(self, size: int) -> None:
        payload = struct.pack("d", time.perf_counter()) + b"x" * max(0, size - 8)
        self.pub.publish(self.topic, payload, qos=1)

    def close(self) -> None:
        for client in (self.pub, self.sub):
            client.disconnect()
            client.loop_stop()


class BareJson(Bare):
    """The bare pair sending the same JSON message as ours (no envelope, no workers)."""

    topic = "bench/bare-json"

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        message = json.loads(msg.payload)
        self.latencies.append(time.perf_counter() - message["t"])
        self.received += 1
        if self.received >= self.expect:
            self.done.set()

    def publish(self, size: int) -> None:
        message = {"t": time.perf_counter(), "pad": "x" * max(0, size - 40)}
        self.pub.publish(self.topic, json.dumps(message), qos=1)


class Ours:
    """A MessageBroker publisher/subscriber pair."""

    def __init__(self, port: int) -> None:
        self.received = 0
        self.latencies: list[float] = []
        self.done = threading.Event()
        self.expect = 0
        self._lock = threading.Lock()
        common: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": port,
            "persistent_session": False,
            "status": False,
        }
        self.sub = MessageBroker("bench-sub", max_pending=100_000, **common)
        self.pub = MessageBroker("bench-pub", max_pending=100_000, **common)
        self.sub.subscribe_message("bench/ours", self._on_message)

    def _on_message(self, topic: str, message: Any) -> None:
        self.latencies.append(time.perf_counter() - message["t"])
        with self._lock:
            self.received += 1
            if self.received >= self.expect:
                self.done.set()

    def publish(self, size: int) -> None:
        self.pub.publish_message("bench/ours", {"t": time.perf_counter(), "pad": "x" * max(0, size - 40)})

    def close(self) -> None:
        self.pub.shutdown(1)
        self.sub.shutdown(1)


def _throughput(pair: Any, count: int, size: int) -> float:
    pair.received, pair.expect, pair.latencies = 0, count, []
    pair.done.clear()
    started = time.perf_counter()
    for _ in range(count):
        pair.publish(size)
    if not pair.done.wait(300):
        raise SystemExit(f"only {pair.received}/{count} messages arrived")
    return count / (time.perf_counter() - started)


def _latency(pair: Any, count: int, size: int, rate: float = 200.0) -> tuple[float, float]:
    pair.received, pair.expect, pair.latencies = 0, count, []
    pair.done.clear()
    for _ in range(count):
        pair.publish(size)
        time.sleep(1 / rate)
    if not pair.done.wait(120):
        raise SystemExit(f"only {pair.received}/{count} messages arrived")
    ms = sorted(x * 1000 for x in pair.latencies)
    return statistics.median(ms), ms[int(0.99 * (len(ms) - 1))]


def main() -> None:
    quick = "--quick" in sys.argv
    cases = [
        (100, 3_000 if quick else 20_000, 300 if quick else 1_000),
        (100_000, 300 if quick else 2_000, 200),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = _start_mosquitto(Path(tmp))
        try:
            bare, bare_json, ours = Bare(port), BareJson(port), Ours(port)
            rows: list[tuple[str, str, str, str, str, str]] = []
            for size, count, lat_count in cases:
                label = f"{size // 1000} kB" if size >= 1000 else f"{size} B"
                tp_bare = max(_throughput(bare, count, size) for _ in range(2))
                tp_json = max(_throughput(bare_json, count, size) for _ in range(2))
                tp_ours = max(_throughput(ours, count, size) for _ in range(2))
                p50_bare, p99_bare = _latency(bare, lat_count, size)
                p50_json, p99_json = _latency(bare_json, lat_count, size)
                p50_ours, p99_ours = _latency(ours, lat_count, size)
                for name, mine, raw, js, higher_better in (
                    ("QoS 1 msg/s", tp_ours, tp_bare, tp_json, True),
                    ("p50 latency ms", p50_ours, p50_bare, p50_json, False),
                    ("p99 latency ms", p99_ours, p99_bare, p99_json, False),
                ):
                    fmt = "{:,.0f}" if higher_better else "{:.2f}"
                    ratio_raw = mine / raw if higher_better else raw / mine
                    ratio_json = mine / js if higher_better else js / mine
                    rows.append(
                        (
                            f"{label} {name}",
                            fmt.format(mine),
                            fmt.format(raw),
                            fmt.format(js),
                            f"{ratio_raw:.2f}",
                            f"{ratio_json:.2f}",
                        )
                    )
            bare_json.close()
            ours.close()
            bare.close()
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"\nMQTT through local mosquitto ({'quick' if quick else 'full'} run)")
    header = ("measure", "ours", "paho", "paho+json", "vs paho", "vs paho+json")
    print(f"{header[0]:<26}" + "".join(f"{h:>14}" for h in header[1:]))
    for name, *values in rows:
        print(f"{name:<26}" + "".join(f"{v:>14}" for v in values))
    print("ratio > 1: ours is better (throughput ours/baseline, latency baseline/ours)")


if __name__ == "__main__":
    main()

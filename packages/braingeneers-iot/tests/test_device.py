"""The Device state machine driven over real mosquitto, with its shadow in a real Strapi."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from iot_servers import wait_until

from braingeneers.core.errors import ConfigError
from braingeneers.core.testing import require_binary
from braingeneers.iot.device import Device, ManualClock, State
from braingeneers.iot.shadows import Shadows
from braingeneers.iot.testing import StrapiServer

pytestmark = pytest.mark.services

EXPERIMENT = "2026-11-24-e-devicetest"


class Twiddler(Device):
    """A test device: TWIDDLE records its calls, SLOW runs until stopped, FAIL raises."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[dict[str, Any]] = []
        self.slow_started = threading.Event()
        self.device_specific_handlers.update({"TWIDDLE": self.twiddle, "SLOW": self.slow, "FAIL": self.fail})

    @property
    def device_state(self) -> dict[str, Any]:
        return {**super().device_state, "TWIDDLES": len(self.calls)}

    def twiddle(self, topic: str, message: dict[str, Any]) -> None:
        self.calls.append(message)

    def slow(self, topic: str, message: dict[str, Any]) -> None:
        self.slow_started.set()
        self.stop_event.wait(30)

    def fail(self, topic: str, message: dict[str, Any]) -> None:
        raise RuntimeError("the gripper is jammed")


class Driver:
    """A teammate: sends commands to the device and collects every reply."""

    def __init__(self, broker: Any, device: str) -> None:
        self.broker = broker
        self.name = broker.name
        self.device = device
        self.replies: queue.Queue[tuple[str, Any]] = broker.subscribe_message("telemetry/+/log/+/+/+")

    def send(self, command: str, uuid: str = "NONE", whole_experiment: bool = False, **body: Any) -> None:
        target = "" if whole_experiment else f"{self.device}/"
        message = {"COMMAND": f"{command}-REQUEST", "FROM": self.name, **body}
        self.broker.publish_message(f"telemetry/{uuid}/log/{target}{command}/REQUEST", message).wait(5)

    def expect(self, command: str, phase: str, timeout: float = 10.0) -> dict[str, Any]:
        """Return the next reply ``command/phase`` from the device (skipping others)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                topic, message = self.replies.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            parts = topic.split("/")
            if parts[3] == self.device and parts[4] == command and parts[5] == phase:
                assert message["FROM"] == self.device
                assert message["COMMAND"] == f"{command}-{phase}"
                return dict(message)
        raise AssertionError(f"no {command}/{phase} from {self.device} within {timeout} s")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc))


@pytest.fixture
def shadows(strapi: StrapiServer) -> Shadows:
    return Shadows(strapi.url, token_provider=strapi, timeout=20, settle=0.1)


@pytest.fixture
def make_device(
    make_broker: Callable[..., Any], shadows: Shadows, clock: ManualClock, tmp_path: Path
) -> Iterator[Callable[..., Twiddler]]:
    started: list[tuple[Twiddler, threading.Thread]] = []

    def make(primed: bool = True, shadows_client: Shadows | None = None, **kwargs: Any) -> Twiddler:
        name = f"dev-{uuid.uuid4().hex[:8]}"
        device = Twiddler(
            name,
            "Other",
            primed,
            broker=make_broker(name),
            shadows=shadows_client or shadows,
            clock=clock,
            tick=0.02,
            cache_dir=tmp_path / name,
            **kwargs,
        )
        thread = threading.Thread(target=device.run, kwargs={"install_signal_handlers": False}, daemon=True)
        thread.start()
        started.append((device, thread))
        assert wait_until(lambda: device.state is (State.PRIMED if primed else State.IDLE), 10)
        return device

    yield make
    for device, thread in started:
        device.stop()
        thread.join(timeout=20)
        assert not thread.is_alive()


@pytest.fixture
def driver(make_broker: Callable[..., Any]) -> Callable[[Device, str], Driver]:
    def make(device: Device, name: str = "teammate") -> Driver:
        return Driver(make_broker(f"{name}-{uuid.uuid4().hex[:6]}"), device.device_name)

    return make


def start(device: Device, team: Driver) -> None:
    team.send("START", UUID=EXPERIMENT, TEAMMATES=[team.name])
    assert team.expect("START", "COMPLETE")["UUID"] == EXPERIMENT
    assert device.state is State.READY


def test_lifecycle_commands_and_shadow(
    make_device: Callable[..., Twiddler], driver: Any, shadows: Shadows
) -> None:
    device = make_device()
    team = driver(device)
    team.send("START", UUID=EXPERIMENT + "/x")
    assert "is not YYYY-MM-DD" in team.expect("START", "ERROR")["ERROR"]
    start(device, team)
    assert device.experiment_uuid == EXPERIMENT
    assert device.teammates == [team.name]
    team.send("START", UUID=EXPERIMENT, uuid=EXPERIMENT)
    assert "Already in experiment" in team.expect("START", "ERROR")["ERROR"]

    team.send("PING", uuid=EXPERIMENT)
    team.expect("PING", "RESPONSE")
    team.send("STATUS", uuid=EXPERIMENT)
    status = team.expect("STATUS", "RESPONSE")
    assert status["STATE"] == "READY"
    assert status["UUID"] == EXPERIMENT
    assert datetime.fromisoformat(status["TIMESTAMP"]).tzinfo is not None

    team.send("TWIDDLE", uuid=EXPERIMENT, TIMES=3)
    team.expect("TWIDDLE", "ACK")
    team.expect("TWIDDLE", "COMPLETE")
    assert device.calls[0]["TIMES"] == 3
    team.send("FAIL", uuid=EXPERIMENT)
    team.expect("FAIL", "ACK")
    assert team.expect("FAIL", "ERROR")["ERROR"] == "RuntimeError: the gripper is jammed"
    team.send("FROB", uuid=EXPERIMENT)
    assert team.expect("FROB", "ERROR")["ERROR"] == "Command not supported"
    assert wait_until(lambda: device.state is State.READY, 5)

    assert device.wait_for_shadow(20)
    shadow = shadows.get_shadow(device.device_name)
    assert shadow["STATE"] == "READY"
    assert shadow["UUID"] == EXPERIMENT
    assert shadow["TEAMMATES"] == [team.name]
    assert shadow["TWIDDLES"] == 1

    team.send("END", uuid=EXPERIMENT, whole_experiment=True)  # experiment-wide END
    team.expect("END", "COMPLETE")
    assert wait_until(lambda: device.state is State.PRIMED, 5)
    assert device.experiment_uuid == "NONE"
    team.send("END")
    team.expect("END", "COMPLETE")
    assert device.state is State.IDLE or device.state is State.PRIMED


def test_start_needs_primed(make_device: Callable[..., Twiddler], driver: Any) -> None:
    device = make_device(primed=False)
    team = driver(device)
    team.send("START", UUID=EXPERIMENT)
    assert team.expect("START", "ERROR")["ERROR"] == "Not PRIMED"
    team.send("TWIDDLE")
    assert "not READY" in team.expect("TWIDDLE", "ERROR")["ERROR"]
    assert device.state is State.IDLE
    device.update_state("PRIMED")  # the legacy helper a subclass may call
    assert device.state is State.PRIMED
    with pytest.raises(ConfigError, match="not a state"):
        device.update_state("BUSY")


def test_stop_and_end_during_a_long_handler_do_not_block(
    make_device: Callable[..., Twiddler], driver: Any
) -> None:
    device = make_device()
    team = driver(device)
    start(device, team)
    team.send("SLOW", uuid=EXPERIMENT)
    team.expect("SLOW", "ACK")
    assert device.slow_started.wait(5)
    assert device.state is State.EXEC
    team.send("PING", uuid=EXPERIMENT)  # the device still answers while the handler runs
    team.expect("PING", "RESPONSE", timeout=5)
    team.send("TWIDDLE", uuid=EXPERIMENT)
    assert "scheduled as job" in team.expect("TWIDDLE", "ERROR")["ERROR"]
    team.send("STOP", uuid=EXPERIMENT)
    team.expect("SLOW", "STOPPED")
    team.expect("STOP", "COMPLETE")
    team.expect("TWIDDLE", "COMPLETE")  # the deferred command ran once READY
    assert wait_until(lambda: device.state is State.READY, 5)
    team.send("STOP", uuid=EXPERIMENT)
    assert "nothing is running" in team.expect("STOP", "ERROR")["ERROR"]

    device.slow_started.clear()
    team.send("SLOW", uuid=EXPERIMENT)
    assert device.slow_started.wait(5)
    team.send("END", uuid=EXPERIMENT)
    team.expect("SLOW", "STOPPED")
    team.expect("END", "COMPLETE")
    assert wait_until(lambda: device.state in (State.IDLE, State.PRIMED), 5)
    assert device.experiment_uuid == "NONE"


def test_pause_resume_arbitration(
    make_device: Callable[..., Twiddler], driver: Any, clock: ManualClock
) -> None:
    device = make_device()
    alice, bob = driver(device, "alice"), driver(device, "bob")
    start(device, alice)
    alice.send("PAUSE", uuid=EXPERIMENT, SECONDS=60)
    alice.expect("PAUSE", "ACK")
    assert device.state is State.WAITING
    assert device.who_paused == alice.name
    bob.send("PAUSE", uuid=EXPERIMENT, SECONDS=10)  # shorter than alice's pause: refused
    assert "already paused by" in bob.expect("PAUSE", "ERROR")["ERROR"]
    bob.send("PAUSE", uuid=EXPERIMENT, SECONDS=120)  # longer: takes over
    assert bob.expect("PAUSE", "ACK")["WHO_PAUSED"] == bob.name
    alice.send("RESUME", uuid=EXPERIMENT)
    assert "not paused by" in alice.expect("RESUME", "ERROR")["ERROR"]
    bob.send("RESUME", uuid=EXPERIMENT)
    bob.expect("RESUME", "ACK")
    assert wait_until(lambda: device.state is State.READY, 5)

    alice.send("PAUSE", uuid=EXPERIMENT, SECONDS=30)
    alice.expect("PAUSE", "ACK")
    alice.send("TWIDDLE", uuid=EXPERIMENT)
    assert "scheduled as job" in alice.expect("TWIDDLE", "ERROR")["ERROR"]
    clock.advance(29)
    time.sleep(0.2)
    assert device.state is State.WAITING
    assert device.calls == []
    clock.advance(2)  # the pause expires: READY, and the deferred TWIDDLE runs
    alice.expect("TWIDDLE", "COMPLETE")
    assert len(device.calls) == 1
    assert wait_until(lambda: device.state is State.READY, 5)


def test_schedule_add_get_clear_with_injected_clock(
    make_device: Callable[..., Twiddler], driver: Any, clock: ManualClock
) -> None:
    device = make_device()
    team = driver(device)
    start(device, team)
    do = {"COMMAND": "TWIDDLE-REQUEST", "N": 1}
    team.send("SCHEDULE", uuid=EXPERIMENT, TYPE="ADD", EVERY_X_SECONDS=10, DO=do)
    added = team.expect("SCHEDULE", "COMPLETE")
    assert added["TAG"] == "1"
    assert added["NEXT_RUN"] == "2026-11-24T12:00:10+00:00"
    team.send("SCHEDULE", uuid=EXPERIMENT, TYPE="ADD", EVERY_X_MINUTES=1, FLAGS="ONCE", DO={**do, "N": 2})
    assert team.expect("SCHEDULE", "COMPLETE")["TAG"] == "2"
    team.send("SCHEDULE", uuid=EXPERIMENT, TYPE="ADD", AT="13:30", DO={**do, "N": 3})
    assert team.expect("SCHEDULE", "COMPLETE")["NEXT_RUN"] == "2026-11-24T13:30:00+00:00"
    team.send("SCHEDULE", uuid=EXPERIMENT, TYPE="ADD", EVERY_X_HOURS=1, EVERY_X_DAYS=1, DO=do)
    assert "takes one of" in team.expect("SCHEDULE", "ERROR")["ERROR"]

    time.sleep(0.2)
    assert device.calls == []  # nothing is due yet
    clock.advance(10)
    team.expect("TWIDDLE", "COMPLETE")
    assert [c["N"] for c in device.calls] == [1]
    clock.advance(50)  # t=60: job 1 is due again, and the one-shot job 2
    team.expect("TWIDDLE", "COMPLETE")
    team.expect("TWIDDLE", "COMPLETE")
    assert sorted(c["N"] for c in device.calls) == [1, 1, 2]

    team.send("SCHEDULE", uuid=EXPERIMENT, TYPE="GET")
    jobs = team.expect("SCHEDULE", "RESPONSE")["JOBS"]
    assert [(j["TAG"], j["ONCE"], j["EVERY_SECONDS"]) for j in jobs] == [
        ("1", False, 10.0),
        ("3", False, 86400.0),
    ]
    assert jobs[0]["NEXT_RUN"] == "2026-11-24T12:01:10+00:00"
    team.send("SCHEDULE", uuid=EXPERIMENT, TYPE="CLEAR", TAG="1")
    team.expect("SCHEDULE", "COMPLETE")
    team.send("SCHEDULE", uuid=EXPERIMENT, TYPE="CLEAR", TAG="1")
    assert "no scheduled job" in team.expect("SCHEDULE", "ERROR")["ERROR"]
    team.send("SCHEDULE", uuid=EXPERIMENT, TYPE="CLEAR")
    team.expect("SCHEDULE", "COMPLETE")
    clock.advance(3600 * 2)
    time.sleep(0.2)
    assert len(device.calls) == 3
    assert device.device_state["SCHEDULE"] == []


def test_shadow_survives_a_strapi_outage(
    make_device: Callable[..., Twiddler], driver: Any, strapi: StrapiServer, shadows: Shadows
) -> None:
    from faultproxy import FaultProxy

    port = int(strapi.url.rsplit(":", 1)[1].split("/")[0])
    with FaultProxy(port) as proxy:
        through_proxy = Shadows(
            f"http://127.0.0.1:{proxy.port}/api", token_provider=strapi, timeout=5, retries=0, settle=0.1
        )
        device = make_device(shadows_client=through_proxy, shadow_retry=0.2)
        assert device.wait_for_shadow(20)
        assert shadows.get_shadow(device.device_name)["STATE"] == "PRIMED"
        proxy.set_mode("refuse")
        proxy.close_all()
        team = driver(device)
        start(device, team)  # MQTT keeps working while Strapi is unreachable
        time.sleep(0.5)
        assert not device.wait_for_shadow(0.2)
        assert shadows.get_shadow(device.device_name)["STATE"] == "PRIMED"
        proxy.set_mode("pass")
        assert device.wait_for_shadow(20)
        shadow = shadows.get_shadow(device.device_name)
        assert shadow["STATE"] == "READY"
        assert shadow["UUID"] == EXPERIMENT


def test_sigkilled_device_shows_offline_via_its_last_will(
    mosquitto: Any, make_broker: Callable[..., Any], strapi: StrapiServer, shadows: Shadows, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from iot_servers import MQTT_PASSWORD, MQTT_USER

    name = f"stirrer-{uuid.uuid4().hex[:8]}"
    example = Path(__file__).parent.parent / "examples" / "example_device.py"
    env = {
        **os.environ,
        "BRAINGENEERS_MQTT_HOST": "127.0.0.1",
        "BRAINGENEERS_MQTT_PORT": str(mosquitto.port),
        "BRAINGENEERS_MQTT_USERNAME": MQTT_USER,
        "BRAINGENEERS_MQTT_PASSWORD": MQTT_PASSWORD,
        "BRAINGENEERS_STRAPI_ENDPOINT": strapi.url,
        "BRAINGENEERS_HTTP_USE_AUTH": "0",  # the test Strapi refuses it: shadow pushes only log warnings
        "HOME": str(tmp_path),  # the device's cache directory (~/.cache/braingeneers/<name>)
    }
    watcher = make_broker(f"watcher-{uuid.uuid4().hex[:6]}")
    status: queue.Queue[tuple[str, Any]] = watcher.subscribe_message(f"braingeneers/status/{name}")
    proc = subprocess.Popen([sys.executable, str(example), "--name", name, "--tick", "0.1"], env=env)
    try:
        assert status.get(timeout=30)[1]["state"] == "online"
        team = Driver(watcher, name)
        for _ in range(20):  # "online" is published on connect, just before the device subscribes
            team.send("PING")
            try:
                team.expect("PING", "RESPONSE", timeout=0.5)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError(f"{name} never answered PING")
        # A legacy peer (here mosquitto_sub) reads the default device's replies as bare JSON objects.
        raw = subprocess.Popen(
            [
                require_binary("mosquitto_sub"),
                *("-h", "127.0.0.1", "-p", str(mosquitto.port), "-C", "1", "-W", "15"),
                *("-u", MQTT_USER, "-P", MQTT_PASSWORD, "-t", f"telemetry/NONE/log/{name}/STATUS/RESPONSE"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)  # let mosquitto_sub subscribe
        team.send("STATUS")
        team.expect("STATUS", "RESPONSE", timeout=10)
        bare = json.loads(raw.communicate(timeout=20)[0])
        assert bare["COMMAND"] == "STATUS-RESPONSE"
        assert bare["STATE"] == "PRIMED"
        assert bare["RPM"] == 100
        team.send("SET_SPEED", RPM=5000)
        assert team.expect("SET_SPEED", "ERROR", timeout=10)["ERROR"] == "device is PRIMED, not READY"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        last = status.get(timeout=10)[1]
        assert last["state"] == "offline"
        assert last["reason"] == "connection lost"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_shutdown_pushes_the_shutdown_state(make_device: Callable[..., Twiddler], shadows: Shadows) -> None:
    device = make_device()
    assert device.wait_for_shadow(20)
    device.stop()
    assert wait_until(lambda: device.state is State.SHUTDOWN, 20)
    assert wait_until(lambda: shadows.get_shadow(device.device_name).get("STATE") == "SHUTDOWN", 20, 0.2)


def test_unpack_peek_jobs_and_slack(
    make_device: Callable[..., Twiddler], driver: Any, make_broker: Callable[..., Any], tmp_path: Any
) -> None:
    import base64

    from braingeneers.iot.device import SLACK_TOPIC

    device = make_device()
    team = driver(device)
    start(device, team)
    team.send("SCHEDULE", uuid=EXPERIMENT, TYPE="ADD", EVERY_X_SECONDS=30, DO={"COMMAND": "TWIDDLE-REQUEST"})
    tag = team.expect("SCHEDULE", "COMPLETE")["TAG"]
    assert device.peek_jobs(10) == []
    assert [job["TAG"] for job in device.peek_jobs(60)] == [tag]

    wells = ["A1", "A2", "B1", "B2"]
    topic = f"telemetry/{EXPERIMENT}/log/{device.device_name}/TWIDDLE/REQUEST"
    assert device.unpack(topic, {"WELL": "A*"}, "WELL", wells, enqueue_schedule=False) == (True, ["A1", "A2"])
    assert device.unpack(topic, {"WELL": "^B[12]$"}, "WELL", wells, enqueue_schedule=False) == (
        True,
        ["B1", "B2"],
    )
    assert device.unpack(topic, {"WELL": "A1"}, "WELL", wells) == (False, ["A1"])
    assert device.unpack(topic, {"WELL": ["B2", "A1"], "N": 7}, "WELL", wells, sort_all=True) == (
        True,
        ["A1", "B2"],
    )
    team.expect("TWIDDLE", "COMPLETE")  # one queued job per item, run in order when READY
    team.expect("TWIDDLE", "COMPLETE")
    assert [(call["WELL"], call["N"]) for call in device.calls] == [("A1", 7), ("B2", 7)]

    inbox = make_broker(f"slack-{uuid.uuid4().hex[:6]}").subscribe_message(SLACK_TOPIC)
    image = tmp_path / "plate.png"
    image.write_bytes(b"\x89PNG fake")
    device.post_to_slack("plate imaged", image)
    _, message = inbox.get(timeout=10)
    assert message["message"] == f"{device.device_name}: plate imaged"
    assert message["filename"] == "plate.png"
    assert base64.b64decode(message["image"]) == b"\x89PNG fake"

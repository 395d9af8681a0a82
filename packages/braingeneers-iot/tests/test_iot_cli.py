"""``braingeneers iot`` and ``python -m braingeneers.iot.authenticate`` against real servers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from iot_servers import MQTT_PASSWORD, MQTT_USER, REDIS_PASSWORD, REDIS_USER, wait_until

from braingeneers.core.cli import main
from braingeneers.iot.device import Device, State
from braingeneers.iot.shadows import Shadows
from braingeneers.iot.testing import StrapiServer

pytestmark = pytest.mark.services


@pytest.fixture
def mqtt_env(mosquitto: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BRAINGENEERS_CREDENTIALS", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("BRAINGENEERS_MQTT_HOST", "127.0.0.1")
    monkeypatch.setenv("BRAINGENEERS_MQTT_PORT", str(mosquitto.port))
    monkeypatch.setenv("BRAINGENEERS_MQTT_USERNAME", MQTT_USER)
    monkeypatch.setenv("BRAINGENEERS_MQTT_PASSWORD", MQTT_PASSWORD)


@pytest.fixture
def strapi_env(strapi: StrapiServer, monkeypatch: pytest.MonkeyPatch) -> Shadows:
    from braingeneers.core import auth

    monkeypatch.setenv("BRAINGENEERS_STRAPI_ENDPOINT", strapi.url)
    monkeypatch.setattr(auth, "_default", strapi)  # the shared token provider hands out the API token
    return Shadows(strapi.url, token_provider=strapi, settle=0.1)


@pytest.fixture
def running_device(
    mqtt_env: None, make_broker: Callable[..., Any], strapi_env: Shadows, tmp_path: Path
) -> Iterator[Device]:
    name = f"clidev-{uuid.uuid4().hex[:8]}"
    device = Device(
        name, primed_default=True, broker=make_broker(name), shadows=strapi_env, tick=0.02, cache_dir=tmp_path
    )
    device.device_specific_handlers["TWIDDLE"] = lambda topic, message: None
    thread = threading.Thread(target=device.run, kwargs={"install_signal_handlers": False}, daemon=True)
    thread.start()
    assert wait_until(lambda: device.state is State.PRIMED, 10)
    yield device
    device.stop()
    thread.join(20)


def test_pub_then_sub_pretty_prints(mqtt_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    base = f"clitest/{uuid.uuid4().hex[:6]}"
    assert main(["iot", "pub", f"{base}/a", '{"x": 1, "y": [1, 2]}', "--retain"]) == 0
    assert main(["iot", "pub", f"{base}/b", "plain text", "--retain"]) == 0
    capsys.readouterr()
    assert main(["iot", "sub", f"{base}/#", "--count", "2", "--timeout", "15"]) == 0
    out = capsys.readouterr().out
    assert f"{base}/a \n" in out
    assert '    "x": 1,' in out
    assert f"{base}/b plain text\n" in out


def test_sub_timeout_exits(mqtt_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    assert main(["iot", "sub", f"nothing/{uuid.uuid4().hex}", "--timeout", "1"]) == 0
    assert time.monotonic() - started < 10
    assert capsys.readouterr().out == ""


def test_send_waits_for_replies(running_device: Device, capsys: pytest.CaptureFixture[str]) -> None:
    name = running_device.device_name
    assert main(["iot", "send", name, "PING"]) == 0
    assert f"telemetry/NONE/log/{name}/PING/RESPONSE" in capsys.readouterr().out
    assert main(["iot", "send", name, "START", '{"UUID": "2026-11-24-e-cli"}']) == 0
    assert '"UUID": "2026-11-24-e-cli"' in capsys.readouterr().out
    assert main(["iot", "send", name, "twiddle", "--uuid", "2026-11-24-e-cli"]) == 0
    out = capsys.readouterr().out
    assert out.index("/TWIDDLE/ACK") < out.index("/TWIDDLE/COMPLETE")
    assert main(["iot", "send", name, "STATUS", "--uuid", "2026-11-24-e-cli"]) == 0
    assert '"STATE": "READY"' in capsys.readouterr().out
    assert main(["iot", "send", name, "FROB", "--uuid", "2026-11-24-e-cli"]) == 1
    assert "Command not supported" in capsys.readouterr().out
    assert main(["iot", "send", name, "PING", "--uuid", "2026-11-24-e-other", "--timeout", "1"]) == 1
    assert "no final reply" in capsys.readouterr().err
    assert main(["iot", "send", name, "PING", "[1]"]) == 1
    assert "must be a JSON object" in capsys.readouterr().err


def test_devices_and_state(
    running_device: Device, strapi_env: Shadows, capsys: pytest.CaptureFixture[str]
) -> None:
    name = running_device.device_name
    assert running_device.wait_for_shadow(20)
    assert main(["iot", "devices", "--type", "Other"]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith(name))
    assert line.split() == [name, "Other", "PRIMED", "NONE"]
    assert main(["iot", "state", "set", name, "NOTE=hello", "COUNT=3", "--remove", "WHO_PAUSED"]) == 0
    shadow = json.loads(capsys.readouterr().out)
    assert shadow["NOTE"] == "hello"
    assert shadow["COUNT"] == 3
    assert "WHO_PAUSED" not in shadow
    assert shadow["STATE"] == "PRIMED"
    assert main(["iot", "state", "get", name]) == 0
    assert json.loads(capsys.readouterr().out) == strapi_env.get_shadow(name)
    assert main(["iot", "state", "get", f"absent-{uuid.uuid4().hex}"]) == 1
    assert "no interaction-things entry named" in capsys.readouterr().err
    assert main(["iot", "state", "set", name, "novalue"]) == 1


def test_queue_and_lock_inspection(
    redis_server: Any,
    make_redis_broker: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BRAINGENEERS_CREDENTIALS", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("BRAINGENEERS_REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("BRAINGENEERS_REDIS_PORT", str(redis_server.port))
    monkeypatch.setenv("BRAINGENEERS_REDIS_USERNAME", REDIS_USER)
    monkeypatch.setenv("BRAINGENEERS_REDIS_PASSWORD", REDIS_PASSWORD)
    broker = make_redis_broker()
    jobs = broker.get_queue("jobs", maxsize=5)
    jobs.put({"n": 1})
    jobs.put({"n": 2})
    assert main(["iot", "queue", "jobs"]) == 0
    out = capsys.readouterr().out
    assert "queue 'jobs': 2 items, maxsize 5" in out
    assert "2 unfinished tasks" in out
    assert main(["iot", "queue", "nosuchqueue"]) == 1
    assert "does not exist" in capsys.readouterr().out
    lock = broker.get_lock("robot-arm", lease=30)
    assert main(["iot", "lock", "robot-arm"]) == 0
    assert "is free" in capsys.readouterr().out
    assert lock.acquire(timeout=5)
    try:
        assert main(["iot", "lock", "robot-arm"]) == 0
        assert "is held; lease ends in" in capsys.readouterr().out
    finally:
        lock.release()


def test_authenticate_delegates_to_auth_login(tmp_path: Path) -> None:
    import jwt

    token = jwt.encode(
        {"sub": "lab-device", "exp": int(time.time()) + 30 * 86400}, "k" * 32, algorithm="HS256"
    )
    target = tmp_path / "token.json"
    done = subprocess.run(
        [sys.executable, "-m", "braingeneers.iot.authenticate", "--token-file", str(target)],
        input=json.dumps({"access_token": token}) + "\n\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"Stored the token in {target}" in done.stdout
    assert json.loads(target.read_text())["access_token"] == token
    refused = subprocess.run(
        [sys.executable, "-m", "braingeneers.iot.authenticate", "picroscope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "braingeneers auth login" in refused.stderr

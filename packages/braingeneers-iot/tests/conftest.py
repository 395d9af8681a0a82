"""Fixtures for the iot tests: real mosquitto and redis-server processes (see ``iot_servers``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the test helper modules beside this file

from iot_servers import MQTT_PASSWORD, MQTT_USER, REDIS_PASSWORD, REDIS_USER, Mosquitto, RedisServer

from braingeneers.core.testing import isolated_endpoint  # noqa: F401


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running mosquitto (password file, ACL, persistence), stopped at teardown."""
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running redis-server with a least-privilege ACL user, stopped at teardown."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_broker(mosquitto: Mosquitto) -> Iterator[Callable[..., Any]]:
    """Build MessageBrokers connected to the test mosquitto; all are shut down at teardown."""
    from braingeneers.iot.messaging import MessageBroker

    brokers: list[MessageBroker] = []

    def make(name: str | None = None, port: int | None = None, **kwargs: Any) -> MessageBroker:
        kwargs.setdefault("username", MQTT_USER)
        kwargs.setdefault("password", MQTT_PASSWORD)
        kwargs.setdefault("reconnect_min_delay", 0.1)
        kwargs.setdefault("reconnect_max_delay", 1.0)
        broker = MessageBroker(name, host="127.0.0.1", port=port or mosquitto.port, **kwargs)
        brokers.append(broker)
        return broker

    yield make
    for broker in brokers:
        broker.shutdown(timeout=1)


from strapi_fixture import strapi  # noqa: E402,F401  (the real Strapi 4 server, session-wide)


@pytest.fixture
def make_redis_broker(redis_server: RedisServer) -> Iterator[Callable[..., Any]]:
    """Build MessageBrokers whose Redis side uses the test redis-server's ACL user."""
    from braingeneers.iot.messaging import MessageBroker
    from braingeneers.iot.settings import RedisConfig

    brokers: list[MessageBroker] = []

    def make(port: int | None = None, password: str = REDIS_PASSWORD) -> MessageBroker:
        config = RedisConfig(
            host="127.0.0.1", port=port or redis_server.port, username=REDIS_USER, password=password
        )
        broker = MessageBroker(redis_config=config)
        brokers.append(broker)
        return broker

    yield make
    for broker in brokers:
        broker.shutdown(timeout=1)

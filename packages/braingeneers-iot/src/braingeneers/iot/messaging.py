"""``MessageBroker``: MQTT publish/subscribe and Redis streams, queues and locks for lab devices.

The method names and arguments of the legacy ``braingeneers.iot.messaging.MessageBroker``
are kept. Connections are opened on first use: a broker used only for MQTT never needs
Redis, Strapi or a token, and one used only for Redis never needs an MQTT broker.

Examples
--------
>>> from braingeneers.iot.messaging import MessageBroker       # doctest: +SKIP
>>> mb = MessageBroker("maxone-3")                              # doctest: +SKIP
>>> mb.subscribe_message("telemetry/+/log/maxone-3/+/REQUEST", on_request)  # doctest: +SKIP
>>> mb.publish_message("telemetry/NONE/log/maxone-3/PING/RESPONSE", {"FROM": "maxone-3"})  # doctest: +SKIP
>>> mb.shutdown()                                               # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from braingeneers.core.config import CredentialsFile
from braingeneers.iot.errors import PublishError
from braingeneers.iot.mqtt import MqttConnection, MqttOptions, default_client_id
from braingeneers.iot.publish_handle import PublishHandle
from braingeneers.iot.settings import MqttConfig, RedisConfig

if TYPE_CHECKING:
    import redis

    from braingeneers.iot.redis_lock import NamedLock
    from braingeneers.iot.redis_queue import NamedQueue
    from braingeneers.iot.streams import StreamListener

__all__ = ["CallableQueue", "MessageBroker"]

logger = logging.getLogger(__name__)

STATUS_TOPIC = "braingeneers/status/{name}"
"""Retained online/offline status topic of a named broker (the last-will goes there too)."""


class CallableQueue(queue.Queue[Any]):
    """A ``queue.Queue`` that can be used as a callback: ``q(topic, message)`` puts ``(topic, message)``."""

    def __call__(self, *args: Any) -> None:
        """Put ``args`` as one tuple."""
        self.put(args)


class MessageBroker:
    """Publish and subscribe over MQTT; streams, queues and locks over Redis.

    Parameters
    ----------
    name
        This client's name: the ``from`` of its messages, its status topic
        (``braingeneers/status/<name>``) and, unless ``client_id`` is given, its MQTT
        client id ``braingeneers-<name>``. Two live processes must not share a name
        (the second one takes over the session; the first raises
        :class:`~braingeneers.iot.errors.ClientIdConflictError`). Without a name the
        client id is random and the session clean.
    credentials_file
        Path of the credentials file (default: core's search order, see
        :mod:`braingeneers.core.config`).
    logger
        Ignored (kept for the legacy signature); this module logs to ``braingeneers.iot.*``.
    client_id
        MQTT client id; default ``braingeneers-<name>`` or a random one.
    persistent_session
        Keep the broker-side session (subscriptions and messages queued while away) for
        ``session_expiry`` seconds after a disconnect. Default: True when the broker has
        a name or client id, False otherwise.
    session_expiry
        Seconds the broker keeps a persistent session of a disconnected client.
    qos
        Default QoS of publishes and subscriptions (1: at least once, deduplicated by
        the envelope id into exactly one callback).
    keepalive
        Seconds between keepalive pings; a half-open link is detected after about 1.5 keepalives.
    status
        Publish a retained ``online`` status on connect and ``offline`` on shutdown, with
        the ``offline`` last-will for a crash (only for a named broker).
    envelope
        Wrap published messages in the JSON envelope (:mod:`braingeneers.iot.envelope`).
        False sends bare payloads like the legacy broker (no duplicate suppression).
    mqtt_config, redis_config
        Complete connection settings; default: resolved from ``host``/``port``/...,
        environment variables and the credentials file (:mod:`braingeneers.iot.settings`).
    host, port, username, password, tls, ca_file, cert_file, key_file
        MQTT connection overrides.
    max_pending
        Unacknowledged published messages kept in memory (sent after a reconnect).
    pending_timeout
        Seconds ``publish_message`` waits for room when ``max_pending`` are queued.
    connect_timeout
        Seconds the first MQTT use waits for the broker before raising.
    reconnect_max_delay
        Upper bound of the reconnect backoff (it starts at 1 s and doubles).
    workers, callback_queue_size
        Callback worker threads and the messages each may queue (back-pressure policy in
        :mod:`braingeneers.iot.callbacks`).
    max_unacked
        Received messages acknowledged to the broker only once their callbacks have
        returned (so they survive a crash of this process); further messages are
        acknowledged when handed to the workers. Keep it below the broker's in-flight
        window (mosquitto ``max_inflight_messages`` 20, EMQX ``max_inflight`` 32), or slow
        callbacks hold back every subscription.
    """

    def __init__(
        self,
        name: str | None = None,
        credentials_file: str | os.PathLike[str] | None = None,
        logger: logging.Logger | None = None,
        *,
        client_id: str | None = None,
        persistent_session: bool | None = None,
        session_expiry: int = 86_400,
        qos: int = 1,
        keepalive: int = 15,
        status: bool = True,
        envelope: bool = True,
        mqtt_config: MqttConfig | None = None,
        redis_config: RedisConfig | None = None,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: bool | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        max_pending: int = 10_000,
        pending_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        reconnect_min_delay: float = 1.0,
        reconnect_max_delay: float = 30.0,
        workers: int = 4,
        callback_queue_size: int = 1000,
        dedupe_capacity: int = 100_000,
        confirm_timeout: float = 10.0,
        max_unacked: int = 16,
    ) -> None:
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
        self.name = name
        self.credentials_file = credentials_file
        self._mqtt_config = mqtt_config
        self._redis_config = redis_config
        self._mqtt_overrides: dict[str, Any] = {
            "host": host,
            "port": port,
            "username": username,
            "password": password,
            "tls": tls,
            "ca_file": ca_file,
            "cert_file": cert_file,
            "key_file": key_file,
        }
        cid = client_id or default_client_id(name)
        self._options = MqttOptions(
            client_id=cid,
            sender=name or cid,
            persistent_session=bool(name or client_id) if persistent_session is None else persistent_session,
            session_expiry=session_expiry,
            keepalive=keepalive,
            qos=qos,
            max_pending=max_pending,
            pending_timeout=pending_timeout,
            connect_timeout=connect_timeout,
            reconnect_min_delay=reconnect_min_delay,
            reconnect_max_delay=reconnect_max_delay,
            status_topic=STATUS_TOPIC.format(name=name) if status and name else None,
            workers=workers,
            callback_queue_size=callback_queue_size,
            dedupe_capacity=dedupe_capacity,
            envelope=envelope,
            confirm_timeout=confirm_timeout,
            detect_collisions=bool(name or client_id),
            max_unacked=max_unacked,
        )
        self._lock = threading.RLock()
        self._mqtt: MqttConnection | None = None
        self._redis: redis.Redis | None = None
        self._listeners: dict[str, StreamListener] = {}
        self._shadows: Any = None

    def __repr__(self) -> str:
        return f"MessageBroker(name={self.name!r}, client_id={self.client_id!r})"

    def __enter__(self) -> MessageBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ------------------------------------------------------------------- MQTT
    @property
    def client_id(self) -> str:
        """The MQTT client id of this broker (stable for its lifetime)."""
        return self._options.client_id

    @property
    def status_topic(self) -> str | None:
        """The retained online/offline status topic, or None for an unnamed broker."""
        return self._options.status_topic

    @property
    def mqtt_config(self) -> MqttConfig:
        """The resolved MQTT connection settings (reads the credentials file if needed)."""
        if self._mqtt_config is None:
            self._mqtt_config = MqttConfig.resolve(self._credentials(), **self._mqtt_overrides)
        return self._mqtt_config

    def _credentials(self) -> str | os.PathLike[str] | CredentialsFile | None:
        return self.credentials_file

    @property
    def mqtt_connection(self) -> MqttConnection:
        """The MQTT connection, opened on first use.

        Raises
        ------
        ConfigError
            No broker is configured.
        AuthError
            The broker refused the username or password.
        MessagingError
            The broker could not be reached within ``connect_timeout``.
        """
        connection = self._mqtt
        if connection is not None:
            return connection
        with self._lock:
            if self._mqtt is None:
                self._mqtt = MqttConnection(self.mqtt_config, self._options)
            return self._mqtt

    def publish_message(
        self,
        topic: str,
        message: Any = None,
        confirm_receipt: bool = False,
        *,
        qos: int | None = None,
        retain: bool = False,
        message_id: str | None = None,
    ) -> PublishHandle:
        """Publish ``message`` to ``topic``.

        Parameters
        ----------
        topic
            MQTT topic (no wildcards), e.g. ``telemetry/<UUID>/log/<device>/<CMD>/<PHASE>``.
        message
            A ``str`` (received as the same ``str``), ``bytes`` (received as ``bytes``) or
            any JSON-serializable value (``None`` included).
        confirm_receipt
            Wait (up to ``confirm_timeout``) until the broker acknowledges this message.
            Safe inside a subscription callback.
        qos
            Override the broker's default QoS.
        retain
            Ask the broker to retain the message for future subscribers.
        message_id
            Envelope id to reuse when retrying the same logical message yourself, so
            receivers see it once.

        Returns
        -------
        PublishHandle
            ``handle.wait(timeout)`` waits for the broker's acknowledgement.

        Raises
        ------
        PublishError
            The message was not queued (offline queue full for ``pending_timeout``), or
            the broker refused it (with ``confirm_receipt``).
        TimeoutError
            ``confirm_receipt`` and no acknowledgement within ``confirm_timeout``; the
            message stays queued and is sent after a reconnect.
        FormatError
            ``message`` is not JSON-serializable.
        """
        handle = self.mqtt_connection.publish(topic, message, qos=qos, retain=retain, message_id=message_id)
        if confirm_receipt and not handle.wait(self._options.confirm_timeout):
            raise TimeoutError(
                f"the MQTT broker has not acknowledged the message to {topic!r} within "
                f"{self._options.confirm_timeout:g} s; it stays queued and is sent after a reconnect"
            )
        return handle

    def subscribe_message(
        self, topic: str, callback: Callable[[str, Any], object] | None = None, *, qos: int | None = None
    ) -> Any:
        """Call ``callback(topic, message)`` for each message on topic filter ``topic``.

        Callbacks run on worker threads, never on the network thread; an exception in one
        is logged and does not affect other messages or subscriptions. Subscribing again
        to the same filter replaces its callback.

        Parameters
        ----------
        topic
            An MQTT topic filter; ``+`` matches one level (possibly empty), a final ``#``
            any number of levels including none.
        callback
            Called with the topic and the decoded message. When None, a
            :class:`CallableQueue` is created that receives ``(topic, message)`` tuples.

        Returns
        -------
        Callable
            ``callback``, or the new :class:`CallableQueue` when none was given.

        Raises
        ------
        ValueError
            ``topic`` is not a valid topic filter.
        MessagingError
            The broker refused the subscription.
        """
        _check_filter(topic)
        target: Callable[[str, Any], object] = callback if callback is not None else CallableQueue()
        self.mqtt_connection.subscribe(topic, target, qos=qos)
        return target

    def unsubscribe_message(self, topic: str) -> None:
        """Stop the subscription to topic filter ``topic`` (no-op if there is none)."""
        if self._mqtt is None or not self._mqtt.unsubscribe(topic):
            logger.debug("unsubscribe_message(%r): no such subscription", topic)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Flush pending publishes (up to ``timeout`` s), mark the status offline, close every connection."""
        with self._lock:
            mqtt_conn, self._mqtt = self._mqtt, None
            listeners = list(self._listeners.values())
            self._listeners.clear()
            client, self._redis = self._redis, None
        for listener in listeners:
            listener.stop(timeout)
        if mqtt_conn is not None:
            mqtt_conn.close(timeout)
        if client is not None:
            client.close()

    # ------------------------------------------------------------------ Redis
    @property
    def redis_config(self) -> RedisConfig:
        """The resolved Redis connection settings (reads the credentials file if needed)."""
        if self._redis_config is None:
            self._redis_config = RedisConfig.resolve(self._credentials())
        return self._redis_config

    @property
    def redis_client(self) -> redis.Redis:
        """The redis-py client (timeouts on every call; no admin command is ever sent)."""
        with self._lock:
            if self._redis is None:
                from braingeneers.iot.redis_client import connect

                self._redis = connect(self.redis_config)
            return self._redis

    def publish_data_stream(
        self, stream_name: str, data: Mapping[str | bytes, Any], stream_size: int | None = None
    ) -> bytes:
        """Append ``data`` to Redis stream ``stream_name``, keeping about ``stream_size`` entries.

        Returns
        -------
        bytes
            The new entry's id.
        """
        from braingeneers.iot.streams import publish

        return publish(self.redis_client, stream_name, data, stream_size)

    def subscribe_data_stream(
        self,
        stream_name: str | list[str],
        callback: Callable[[str, dict[bytes, bytes]], object],
        include_existing_stream_data: bool = True,
    ) -> StreamListener:
        """Call ``callback(stream_name, fields)`` for each entry of one or more Redis streams.

        The listener survives Redis outages and restarts, resuming after the last entry it
        handled. Stop it with :meth:`unsubscribe_data_stream` or :meth:`shutdown`.

        Returns
        -------
        StreamListener
            Callable like the callback (the legacy return value).

        Raises
        ------
        ValueError
            One of the streams already has a listener on this broker.
        """
        from braingeneers.iot.streams import StreamListener

        names = [stream_name] if isinstance(stream_name, str) else list(stream_name)
        with self._lock:
            taken = [n for n in names if n in self._listeners]
            if taken:
                raise ValueError(f"streams {taken} already have a listener; unsubscribe_data_stream first")
            listener = StreamListener(self.redis_client, names, callback, include_existing_stream_data)
            listener.start()
            for name in names:
                self._listeners[name] = listener
        return listener

    def unsubscribe_data_stream(self, stream_name: str) -> None:
        """Stop the listener reading ``stream_name`` (and the other streams it reads)."""
        with self._lock:
            listener = self._listeners.get(stream_name)
            if listener is None:
                return
            for name in listener.streams:
                self._listeners.pop(name, None)
        listener.stop()

    def poll_data_streams(self, stream_dict: Mapping[str, str | bytes], count: int = -1) -> list[Any]:
        """Read entries after the given ids without blocking.

        Parameters
        ----------
        stream_dict
            Stream name → last id seen (exclusive; ``"-"`` or ``"0-0"`` from the start).
        count
            Maximum entries per stream; -1 for all.

        Returns
        -------
        list
            ``[[stream, [(id, {field: value}), ...]], ...]`` (bytes), as redis-py returns it.
        """
        from braingeneers.iot.streams import poll

        return poll(self.redis_client, stream_dict, count)

    def get_queue(
        self, name: str, maxsize: int | None = 0, cleanup_sec: int = 604_800, serializer: str = "json"
    ) -> NamedQueue:
        """Return the cross-host queue ``name`` (``queue.Queue`` interface; JSON or msgpack items).

        See :class:`braingeneers.iot.redis_queue.NamedQueue`.
        """
        from braingeneers.iot.redis_queue import NamedQueue

        return NamedQueue(self.redis_client, name, maxsize, cleanup_sec, serializer)

    def delete_queue(self, name: str) -> None:
        """Delete queue ``name`` and its items."""
        from braingeneers.iot.redis_client import redis_errors
        from braingeneers.iot.redis_queue import queue_keys

        with redis_errors(f"deleting queue {name!r}", self.redis_config):
            self.redis_client.delete(*queue_keys(name))

    def get_lock(self, name: str, cleanup_sec: int | None = None, *, lease: float = 30.0) -> NamedLock:
        """Return the leased cross-host lock ``name`` (see :class:`braingeneers.iot.redis_lock.NamedLock`).

        Parameters
        ----------
        name
            The lock's name.
        cleanup_sec
            Ignored; kept for the legacy signature (the lease bounds how long a crashed
            holder blocks others).
        lease
            Seconds a holder keeps the lock without renewal (renewed while held).
        """
        from braingeneers.iot.redis_lock import NamedLock

        return NamedLock(self.redis_client, name, lease=lease)

    def delete_lock(self, name: str) -> None:
        """Delete lock ``name`` whoever holds it (an administrative reset)."""
        from braingeneers.iot.redis_client import redis_errors
        from braingeneers.iot.redis_lock import lock_key

        with redis_errors(f"deleting lock {name!r}", self.redis_config):
            self.redis_client.delete(lock_key(name))

    # --------------------------------------------------------------- shadows
    @property
    def shadows(self) -> Any:
        """The device-shadows client (``braingeneers.iot.shadows``), created on first use."""
        with self._lock:
            if self._shadows is None:
                from braingeneers.iot import shadows

                factory: Callable[[MessageBroker], Any] = getattr(shadows, "for_broker")  # noqa: B009
                self._shadows = factory(self)
            return self._shadows

    # Legacy shadow methods: thin delegations to the shadows client (braingeneers.iot.shadows.Shadows).
    def get_device_state(self, device_name: str) -> dict[str, Any]:
        """Return the shadow of device ``device_name`` (``{}`` if it has none)."""
        state: dict[str, Any] = self.shadows.get_shadow(device_name)
        return state

    def update_device_state(self, device_name: str, device_state: Mapping[str, Any]) -> dict[str, Any]:
        """Set the top-level keys ``device_state`` in the device's shadow, keeping other keys.

        Concurrent writers of different keys do not lose each other's keys; see
        ``Shadows.update_shadow`` for the guarantee.
        """
        state: dict[str, Any] = self.shadows.update_shadow(device_name, device_state)
        return state

    def delete_device_state(
        self, device_name: str, device_state_keys: list[str] | None = None
    ) -> dict[str, Any]:
        """Delete ``device_state_keys`` from the device's shadow, or empty it when None; return the shadow."""
        state: dict[str, Any] = self.shadows.delete_shadow(device_name, device_state_keys)
        return state

    def create_device(self, device_name: str, device_type: str) -> Any:
        """Return the device (Strapi interaction-thing), creating it if absent.

        ``device_type`` is ``BioPlateScope``, ``Autoculture`` or ``Other``.
        """
        return self.shadows.create_thing(device_name, device_type)

    def list_devices_by_type(self, thing_type_name: str) -> list[dict[str, Any]]:
        """Return ``[{"label": name, "value": id}]`` for the devices of one type (not in the trash)."""
        return [{"label": thing.name, "value": thing.id} for thing in self.shadows.things(thing_type_name)]


def _check_filter(topic: str) -> None:
    """Raise ValueError unless ``topic`` is a valid MQTT topic filter."""
    if not isinstance(topic, str) or not topic or "\x00" in topic or len(topic.encode("utf-8")) > 65535:
        raise ValueError(f"invalid MQTT topic filter {topic!r}: must be a non-empty string")
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(f"invalid MQTT topic filter {topic!r}: '#' must be a whole, final level")
        if "+" in level and level != "+":
            raise ValueError(f"invalid MQTT topic filter {topic!r}: '+' must be a whole level")


__all__ += ["PublishError", "PublishHandle"]

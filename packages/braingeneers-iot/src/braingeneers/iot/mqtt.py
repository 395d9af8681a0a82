"""The MQTT side of the message broker: one paho-mqtt 2 client per broker instance.

:class:`MqttConnection` owns the paho client (MQTT 5, ``CallbackAPIVersion.VERSION2``),
its network thread, the subscription registry, the callback workers
(:mod:`braingeneers.iot.callbacks`) and duplicate suppression
(:mod:`braingeneers.iot.envelope`). :class:`~braingeneers.iot.messaging.MessageBroker`
creates it on first MQTT use; paho is imported only then.

Delivery contract (QoS 1, the default):

* ``publish`` hands the message to paho, which keeps it until the broker acknowledges it
  (PUBACK), across reconnects, up to ``max_pending`` unacknowledged messages. While the
  queue is full ``publish`` waits up to ``pending_timeout`` and then raises
  :class:`~braingeneers.iot.errors.PublishError`; it never raises for a message that
  was queued.
* A persistent session (``clean_start`` false plus a session expiry) makes the broker
  keep subscriptions and queue messages while the subscriber is away.
* Every message carries an envelope id; a receiver runs each subscription's callback
  once per id, so broker redeliveries and publisher retransmissions are dropped.
* A received message is acknowledged (PUBACK/PUBCOMP, paho's manual acknowledgement)
  only after all its callbacks have returned, for up to ``max_unacked`` (16) messages at
  a time: those are redelivered to the restarted process if this one dies. Messages
  beyond that are acknowledged when handed to the callback workers, so slow callbacks
  never fill the broker's in-flight window (mosquitto 20, EMQX 32 by default) and starve
  the other subscriptions. Acknowledgements go out in batches, each as one write: on the
  network thread at the end of each burst of packets it reads
  (:mod:`braingeneers.iot.paho_client`), or from a worker about to go idle (see
  :mod:`braingeneers.iot.callbacks`), and all of them before a clean disconnect.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import ssl
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from braingeneers.core.errors import AuthError
from braingeneers.iot.callbacks import CallbackExecutor
from braingeneers.iot.delivery import Delivery, MessageCallback, _Ack, _Job, _Subscription
from braingeneers.iot.envelope import (
    HEADER_PROPERTY,
    Envelope,
    SeenIds,
    decode,
    encode,
    encode_bare,
    encode_raw,
)
from braingeneers.iot.errors import ClientIdConflictError, MessagingError, PublishError
from braingeneers.iot.publish_handle import PublishHandle
from braingeneers.iot.settings import MqttConfig

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from braingeneers.iot.paho_client import PackedProperties

__all__ = ["MqttConnection", "MqttOptions", "PublishHandle"]

logger = logging.getLogger(__name__)


class _NotConnectedNoise(logging.Filter):
    """Drop paho's "Client is not connected" error.

    paho logs it when its loop thread runs once more after ``disconnect()`` closed the
    socket (a race in every clean shutdown). A real loss of connection is reported by
    this module's own warnings and handled by the reconnect logic.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


paho_logger = logging.getLogger("braingeneers.iot.paho")
"""The logger paho-mqtt writes to (its per-packet DEBUG lines included)."""
paho_logger.addFilter(_NotConnectedNoise())


# CONNACK / DISCONNECT reason codes (MQTT 5) that mean "do not retry".
_AUTH_CODES = {134, 135}  # bad user name or password, not authorized
_TAKEN_OVER = 142  # session taken over
_MARKER_SID = 268_435_455  # the largest subscription identifier, reserved for the instance marker

MARKER_TOPIC = "braingeneers/clients/{client_id}"
"""Retained topic naming the newest process using a client id (client-id collision detection)."""


@dataclass(frozen=True)
class MqttOptions:
    """Tunable behaviour of one MQTT connection (see :class:`~braingeneers.iot.messaging.MessageBroker`)."""

    client_id: str
    sender: str
    persistent_session: bool = True
    session_expiry: int = 86_400
    keepalive: int = 15
    qos: int = 1
    max_pending: int = 10_000
    pending_timeout: float = 30.0
    max_inflight: int = 100
    connect_timeout: float = 10.0
    reconnect_min_delay: float = 1.0
    reconnect_max_delay: float = 30.0
    status_topic: str | None = None
    workers: int = 4
    callback_queue_size: int = 1000
    dedupe_capacity: int = 100_000
    envelope: bool = True
    confirm_timeout: float = 10.0
    detect_collisions: bool = True
    orphan_buffer: int = 10_000
    max_unacked: int = 16


def _is_pattern(topic_filter: str) -> bool:
    """Whether a filter may match topics other than itself (a wildcard or shared subscription)."""
    return "+" in topic_filter or "#" in topic_filter or topic_filter.startswith("$share/")


class MqttConnection(Delivery):
    """A paho-mqtt client with reconnects, restored subscriptions, callback workers and dedupe."""

    def __init__(self, config: MqttConfig, options: MqttOptions) -> None:  # noqa: PLR0915
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.config = config
        self.options = options
        self._lock = threading.RLock()
        self._subs: dict[str, _Subscription] = {}
        self._by_sid: dict[int, _Subscription] = {}
        # Subscription identifiers tell apart the copies a broker sends for overlapping
        # subscriptions. Exact-topic subscriptions cannot overlap each other, so they go
        # without one (sparing a property on every message) until the first wildcard or
        # shared subscription.
        self._use_sub_ids = False
        self._orphans: collections.deque[tuple[str, Envelope, _Ack]] = collections.deque()
        self._active: dict[str, _Ack] = {}
        self._unacked = 0
        self._generation = 0
        self._instance = uuid.uuid4().hex
        self._marker_topic = (
            MARKER_TOPIC.format(client_id=options.client_id) if options.detect_collisions else None
        )
        self._seen = SeenIds(options.dedupe_capacity)
        self._refusals: dict[int, str] = {}
        self._marker_mid: int | None = None
        self._marker_accepted = False
        self._refusal_lock = threading.Lock()
        self._unsent_unsubscribes: set[str] = set()
        self._suback: dict[int, tuple[threading.Event, list[str]]] = {}
        self._connected = threading.Event()
        self._first_attempt_done = threading.Event()
        self._fatal: Exception | None = None
        self._closed = False
        self.connects = 0
        self.disconnects = 0
        self.received = 0
        self.duplicates = 0
        self._last_error: str | None = None
        # Acknowledgements owed to the broker: of messages whose callbacks have returned and
        # of messages acknowledged on hand-off. The network thread sends them at the end of
        # each read burst, a worker when it runs out of work (so at most the executor's
        # linger, 2 ms, after the callback), each time as one write (BurstClient.ack_many).
        # A PUBACK sent from a worker per message would make the two threads trade the GIL
        # for every system call.
        self._done: collections.deque[_Ack] = collections.deque()
        self._executor = CallbackExecutor(
            options.workers,
            options.callback_queue_size,
            name=f"mqtt-callback-{options.client_id}",
            on_idle=self._flush_done,
        )

        from braingeneers.iot.paho_client import BurstClient

        client = BurstClient(
            CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=True,
            manual_ack=True,
        )
        client.suppress_exceptions = True
        client.enable_logger(paho_logger)
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        if config.tls or config.ca_file or config.cert_file:
            client.tls_set(
                ca_certs=config.ca_file,
                certfile=config.cert_file,
                keyfile=config.key_file,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.max_queued_messages_set(options.max_pending)
        client.max_inflight_messages_set(options.max_inflight)
        client.reconnect_delay_set(options.reconnect_min_delay, options.reconnect_max_delay)  # type: ignore[arg-type]
        if options.status_topic:
            client.will_set(
                options.status_topic, self._status("offline", "connection lost"), qos=1, retain=True
            )
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_read_done = self._on_read_done
        self._client = client

        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = options.session_expiry if options.persistent_session else 0
        self._mqtt = mqtt
        self._Properties = Properties
        self._PacketTypes = PacketTypes
        client.connect_async(
            config.host,
            config.port,
            keepalive=options.keepalive,
            clean_start=not options.persistent_session,
            properties=props,
        )
        client.loop_start()
        # Success means "connected at least once": a broker may drop the link right after
        # CONNACK (mosquitto 2.0.11 disconnects a client whose publish the ACL denies, e.g. a
        # read-only user's instance marker) and the network thread then reconnects by itself.
        first_done = self._first_attempt_done.wait(options.connect_timeout)
        if not first_done or self.connects == 0 or self._fatal is not None:
            fatal = self._fatal
            self._stop_client()
            self._executor.shutdown(0)
            if fatal is not None:
                raise fatal
            raise MessagingError(
                f"could not connect to the MQTT broker {config.host}:{config.port} within "
                f"{options.connect_timeout:g} s ({self._last_error or 'no answer'}); check the host, port "
                "and network, or raise connect_timeout"
            )

    # ------------------------------------------------------------------ state
    @property
    def client_id(self) -> str:
        """The MQTT client id (stable for the life of this connection)."""
        return self.options.client_id

    @property
    def is_connected(self) -> bool:
        """Whether the client is connected right now."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until connected; return False on timeout."""
        return self._connected.wait(timeout)

    @property
    def callback_errors(self) -> int:
        """How many callbacks have raised so far."""
        return self._executor.errors

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every received message's callbacks have run; return False on timeout."""
        return self._executor.wait_idle(timeout)

    def pending(self) -> int:
        """Return the number of published messages not yet acknowledged by the broker."""
        return len(self._client._out_messages)

    def _check(self) -> None:
        if self._fatal is not None:
            raise self._fatal
        if self._closed:
            raise MessagingError(
                f"MQTT client {self.client_id} has been shut down; create a new MessageBroker"
            )

    def _status(self, state: str, reason: str) -> bytes:
        return encode_bare(
            {
                "state": state,
                "reason": reason,
                "client_id": self.options.client_id,
                "from": self.options.sender,
                "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )

    # -------------------------------------------------------------- callbacks
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._last_error = f"broker refused the connection: {reason}"
            if reason.value in _AUTH_CODES:
                self._fatal = AuthError(
                    f"MQTT broker {self.config.host}:{self.config.port} refused user "
                    f"{self.config.username!r}: {reason}; check profile-id/profile-key in "
                    "[braingeneers-mqtt] (or the username/password arguments)"
                )
                logger.error("%s; not retrying", self._fatal)
                client.disconnect()
            else:
                logger.warning(
                    "MQTT connection refused by %s: %s; retrying with backoff", self.config.host, reason
                )
            self._first_attempt_done.set()
            return
        self.connects += 1
        with self._lock:
            self._generation += 1
        logger.info(
            "MQTT connected to %s:%s as %s (session present: %s)",
            self.config.host,
            self.config.port,
            self.client_id,
            flags.session_present,
        )
        if self._marker_topic:
            if self.connects == 1:
                marker = {
                    "instance": self._instance,
                    "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                info = client.publish(self._marker_topic, encode_bare(marker), qos=1, retain=True)
                self._marker_mid = info.mid
            self._send_subscribe(
                _Subscription(self._marker_topic, _ignore, _MARKER_SID, 1), retain_handling=0
            )
        with self._lock:
            subs = list(self._subs.values())
            dropped, self._unsent_unsubscribes = sorted(self._unsent_unsubscribes), set()
        if dropped and flags.session_present:
            client.unsubscribe(dropped)  # removed while offline: the kept session still has them
        for sub in subs:
            # Restore subscriptions (a broker that lost the session needs them); retained
            # messages are not sent again for subscriptions the session still had.
            self._send_subscribe(sub, retain_handling=1)
        if self.options.status_topic:
            client.publish(self.options.status_topic, self._status("online", "connected"), qos=1, retain=True)
        self._connected.set()
        self._first_attempt_done.set()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._last_error = "connection failed"
        logger.debug("MQTT connection to %s:%s failed; retrying", self.config.host, self.config.port)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected:
            self.disconnects += 1
        if self._closed:
            return
        if reason.value == _TAKEN_OVER:
            self._fatal = ClientIdConflictError(
                f"another client connected to {self.config.host}:{self.config.port} with client id "
                f"{self.client_id!r} and took over its session; this client stops instead of taking it back. "
                "Give each process its own name/client_id"
            )
            logger.error("%s", self._fatal)
            client.disconnect()
            return
        if was_connected:
            logger.warning("MQTT connection to %s lost (%s); reconnecting", self.config.host, reason)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        # paho calls this on its network thread holding its outgoing-message lock, which the
        # publishing thread needs too: the common case (accepted, nothing recorded) returns first.
        if reason.value < 0x80 and not self._refusals and mid != self._marker_mid:
            return
        if mid == self._marker_mid:
            self._marker_mid = None
            self._marker_accepted = not reason.is_failure
            if self._marker_accepted:
                return
            logger.warning(
                "client-id collision detection is off for %r: the broker refused its instance marker on "
                "%s (%s); give user %r write access to that topic to enable it",
                self.client_id,
                self._marker_topic,
                reason,
                self.config.username,
            )
            return
        if reason.is_failure:
            logger.error("broker refused published message (mid %d): %s", mid, reason)
            with self._refusal_lock:
                self._refusals[mid] = str(reason)
                if len(self._refusals) > 10_000:
                    self._refusals.pop(next(iter(self._refusals)))
        elif self._refusals:
            with self._refusal_lock:
                self._refusals.pop(mid, None)

    def _publish_refusal(self, mid: int) -> str | None:
        with self._refusal_lock:
            return self._refusals.get(mid)

    def _on_subscribe(
        self, client: Any, userdata: Any, mid: int, reasons: list[Any], properties: Any
    ) -> None:
        failures = [str(r) for r in reasons if r.is_failure]
        for failure in failures:
            logger.error("broker refused a subscription (mid %d): %s", mid, failure)
        with self._lock:
            waiter = self._suback.pop(mid, None)
        if waiter is not None:
            waiter[1].extend(failures)
            waiter[0].set()

    def _on_read_done(self) -> None:
        # After each read burst of the network thread: the acknowledgements owed so far go
        # out as one write (those of this burst's messages and of finished callbacks).
        if self._done:
            self._flush_done()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # Called by paho inside BurstClient.loop_read, whose on_read_done sends what joins _done here.
        self.received += 1
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            logger.error("dropping a message whose topic is not UTF-8")
            return
        ids = getattr(msg.properties, "SubscriptionIdentifier", None) if msg.properties else None
        id_list: list[int] = (ids if isinstance(ids, list) else [ids]) if ids else []
        if topic == self._marker_topic:
            self._check_marker(bytes(msg.payload))
            if id_list == [_MARKER_SID]:
                if msg.qos > 0:
                    client.ack(msg.mid, msg.qos)
                return
        envelope = decode(bytes(msg.payload), _envelope_header(msg.properties))
        ack = _Ack(envelope.id)
        if msg.qos > 0:
            ack.copies.append((msg.mid, msg.qos, self._generation))
        with self._lock:
            jobs, ack_now = self._route(topic, id_list, envelope, ack)
        if ack_now:
            self._done.append(ack)  # acknowledged at the end of this read burst
        self._submit(jobs)

    def _check_marker(self, payload: bytes) -> None:
        """Stop if the retained instance marker of our client id names another, newer instance."""
        if not payload:
            return
        owner = decode(payload).body
        if isinstance(owner, dict) and owner.get("instance") not in (None, self._instance):
            self._fatal = ClientIdConflictError(
                f"another process connected to {self.config.host}:{self.config.port} with client id "
                f"{self.client_id!r} (instance started at {owner.get('ts')}) and took over its session; "
                "this client stops instead of taking it back. Give each process its own name/client_id"
            )
            logger.error("%s", self._fatal)
            self._client.disconnect()

    # ---------------------------------------------------------------- actions
    def _new_sub_id(self, topic: str) -> int:
        """Return a subscription identifier derived from the filter (stable across processes)."""
        sid = zlib.crc32(topic.encode("utf-8")) % (_MARKER_SID - 1) + 1
        while sid in self._by_sid:
            sid = sid % (_MARKER_SID - 1) + 1
        return sid

    def _send_subscribe(self, sub: _Subscription, retain_handling: int) -> int | None:
        from paho.mqtt.subscribeoptions import SubscribeOptions

        props = None
        if sub.sub_id:
            props = self._Properties(self._PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
            props.SubscriptionIdentifier = sub.sub_id
        rc, mid = self._client.subscribe(
            sub.filter,
            options=SubscribeOptions(qos=sub.qos, retainHandling=retain_handling),
            properties=props,
        )
        if rc != self._mqtt.MQTT_ERR_SUCCESS:
            return None
        return mid

    def _register(self, topic: str, callback: MessageCallback, qos: int) -> _Subscription:
        """Record a subscription and choose its identifier (call under the lock)."""
        existing = self._subs.get(topic)
        if _is_pattern(topic) and not self._use_sub_ids:
            # From now on subscriptions may overlap: give the exact ones identifiers too,
            # re-sending them (the broker replaces a subscription to the same filter).
            self._use_sub_ids = True
            for old in self._subs.values():
                old.sub_id = self._new_sub_id(old.filter)
                self._by_sid[old.sub_id] = old
                if old.filter != topic and self.is_connected:
                    self._send_subscribe(old, retain_handling=1)
        if existing is not None and existing.sub_id:
            sub_id = existing.sub_id
        else:
            sub_id = self._new_sub_id(topic) if self._use_sub_ids else 0
        sub = _Subscription(topic, callback, sub_id, qos)
        self._subs[topic] = sub
        if sub_id:
            self._by_sid[sub_id] = sub
        return sub

    def subscribe(
        self, topic: str, callback: MessageCallback, qos: int | None = None, timeout: float = 10.0
    ) -> None:
        """Register ``callback`` for topic filter ``topic`` and wait for the broker's SUBACK.

        Raises
        ------
        MessagingError
            The broker refused the subscription.
        """
        self._check()
        mid: int | None = None
        suback: tuple[threading.Event, list[str]] = (threading.Event(), [])
        with self._lock:
            self._unsent_unsubscribes.discard(topic)
            sub = self._register(topic, callback, self.options.qos if qos is None else qos)
            sub_id = sub.sub_id
            held = [o for o in self._orphans if self._mqtt.topic_matches_sub(topic, o[0])]
            jobs: list[_Job] = []
            done: list[_Ack] = []
            for t, e, ack in held:
                mine = self._dedupe([sub], t, e, ack)
                jobs += mine
                if mine and e.id is not None:
                    self._active.setdefault(e.id, ack)
                elif not mine:
                    done.append(ack)
            if held:
                kept = [o for o in self._orphans if not self._mqtt.topic_matches_sub(topic, o[0])]
                self._orphans.clear()
                self._orphans.extend(kept)
            if self.is_connected:  # otherwise _on_connect subscribes after the reconnect
                mid = self._send_subscribe(sub, retain_handling=0)
                if mid is not None:
                    self._suback[mid] = suback
        if held:
            logger.info("delivering %d messages that arrived before the subscription to %r", len(held), topic)
        self._send_acks(done)
        self._submit(jobs)
        if mid is None:
            return
        if not suback[0].wait(timeout):
            with self._lock:
                self._suback.pop(mid, None)
            logger.warning("no SUBACK for %r within %g s; it is sent again after a reconnect", topic, timeout)
            return
        if suback[1]:
            with self._lock:
                self._subs.pop(topic, None)
                self._by_sid.pop(sub_id, None)
            raise MessagingError(
                f"MQTT broker {self.config.host} refused the subscription to {topic!r}: {suback[1][0]}"
            )

    def unsubscribe(self, topic: str) -> bool:
        """Remove the subscription to ``topic``; return False if there was none."""
        with self._lock:
            sub = self._subs.pop(topic, None)
            if sub is None:
                return False
            self._by_sid.pop(sub.sub_id, None)
            dropped = [o[2] for o in self._orphans if self._mqtt.topic_matches_sub(topic, o[0])]
            self._orphans = collections.deque(
                o for o in self._orphans if not self._mqtt.topic_matches_sub(topic, o[0])
            )
            offline = not self.is_connected
            if offline:
                self._unsent_unsubscribes.add(topic)
        self._send_acks(dropped)
        if not offline:
            self._client.unsubscribe(topic)
        return True

    def publish(
        self,
        topic: str,
        message: Any,
        *,
        qos: int | None = None,
        retain: bool = False,
        message_id: str | None = None,
    ) -> PublishHandle:
        """Publish ``message`` (see :meth:`~braingeneers.iot.messaging.MessageBroker.publish_message`)."""
        self._check()
        qos = self.options.qos if qos is None else qos
        mid_str: str | None = None
        properties: PackedProperties | None = None
        if not self.options.envelope:
            payload = encode_bare(message)
        elif isinstance(message, (bytes, bytearray, memoryview)):  # raw payload, envelope in a property
            from braingeneers.iot.paho_client import user_property

            mid_str, payload, header = encode_raw(message, self.options.sender, message_id)
            properties = user_property(HEADER_PROPERTY, header)
        else:
            mid_str, payload = encode(message, self.options.sender, message_id)
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc == 0:  # MQTT_ERR_SUCCESS: sent, or queued until the in-flight window has room
            return PublishHandle(info, mid_str, topic, self._publish_refusal)
        deadline = time.monotonic() + self.options.pending_timeout
        while True:
            rc = info.rc
            if rc == self._mqtt.MQTT_ERR_SUCCESS or (rc == self._mqtt.MQTT_ERR_NO_CONN and qos > 0):
                return PublishHandle(info, mid_str, topic, self._publish_refusal)
            if rc == self._mqtt.MQTT_ERR_QUEUE_SIZE:
                self._check()
                if time.monotonic() >= deadline:
                    raise PublishError(
                        f"message to {topic!r} not queued: {self.options.max_pending} messages have "
                        f"waited for the broker {self.config.host} for {self.options.pending_timeout:g} s; "
                        "the broker is unreachable or too slow"
                    )
                time.sleep(0.01)
                info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
                continue
            if rc == self._mqtt.MQTT_ERR_NO_CONN:
                raise MessagingError(
                    f"QoS 0 message to {topic!r} not sent: not connected to {self.config.host} "
                    "(use QoS 1 to queue messages while disconnected)"
                )
            raise PublishError(f"message to {topic!r} not sent: {self._mqtt.error_string(rc)}")

    def _stop_client(self) -> None:
        with contextlib.suppress(Exception):
            self._client.disconnect()
        with contextlib.suppress(Exception):
            self._client.loop_stop()

    def close(self, timeout: float = 5.0) -> None:
        """Send pending messages (up to ``timeout`` s), mark the status offline, disconnect, stop workers."""
        if self._closed:
            return
        deadline = time.monotonic() + timeout
        if self._fatal is None and self.is_connected:
            self._flush_done()  # before DISCONNECT, or the broker sends them again next session
            if self.options.status_topic:
                self._client.publish(
                    self.options.status_topic, self._status("offline", "shutdown"), qos=1, retain=True
                )
            if self._marker_topic and self._marker_accepted:
                self._client.publish(self._marker_topic, b"", qos=1, retain=True)
            while self.pending() and self.is_connected and time.monotonic() < deadline:
                time.sleep(0.01)
            if self.pending():
                logger.warning("%d published messages not acknowledged at shutdown", self.pending())
        self._closed = True
        self._stop_client()
        self._executor.shutdown(max(0.5, deadline - time.monotonic()))


def _envelope_header(properties: Any) -> str | None:
    """Return the envelope a raw ``bytes`` payload came with (user property ``HEADER_PROPERTY``)."""
    pairs = getattr(properties, "UserProperty", None) if properties is not None else None
    if pairs:
        for key, value in pairs:
            if key == HEADER_PROPERTY:
                return str(value)
    return None


def _ignore(topic: str, message: Any) -> None:
    """Do nothing (the instance marker is handled on the network thread)."""


def default_client_id(name: str | None) -> str:
    """Return ``braingeneers-<name>`` for a named broker, else ``braingeneers-<random uuid>``."""
    return f"braingeneers-{name}" if name else f"braingeneers-{uuid.uuid4().hex}"

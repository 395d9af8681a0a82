"""paho-mqtt's client with a network loop that reads packets in bursts and acknowledges them together.

paho's network thread reads one packet per ``select()`` when it has nothing of its own in
flight (a subscriber), and writes each acknowledgement with its own ``send()``, after
waking itself through its socket pair: several system calls per received message.
:class:`BurstClient` changes four things, all inside paho's own loop:

* :meth:`BurstClient.loop_read` reads every packet already waiting on the socket (up to
  :data:`BURST` before it lets paho write and check the keepalive) and then calls
  ``on_read_done``; the connection sends the acknowledgements it owes there, so the
  PUBACKs of one burst go out together;
* :meth:`BurstClient.ack_many` queues the PUBACKs of several QoS 1 messages as one write;
* packets of 4 kB or more are queued as a ``memoryview``, so paho's ``packet[pos:]`` before
  each ``send()`` no longer copies the whole packet (one copy fewer per large message);
* received QoS 0/1 PUBLISH packets are decoded by :func:`decode_publish`, which copies the
  payload once (paho's decoder copies it about six times, and twice more per property)
  and reads the properties itself (:class:`ReceivedProperties`, 7 µs where paho's
  parser takes 50).

Outgoing user properties are packed once by :func:`user_property`.

They use paho internals (``_packet_read``, ``_loop_rc_handle``, ``_packet_queue``,
``_handle_publish``, ``_handle_on_message``, ``_send_puback``) that are the same from
paho-mqtt 2.0 to 2.2; the package allows ``paho-mqtt<3``, and :data:`FAST_PATH` is False
(plain paho behaviour) if a release no longer has them. The test suite asserts it is True
for the paho it installs.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties, VariableByteIntegers

try:
    from paho.mqtt.exception import MalformedPacket, MQTTException
except ImportError:  # paho-mqtt 2.0, 2.1
    from paho.mqtt.properties import MalformedPacket, MQTTException  # type: ignore[attr-defined]

from braingeneers.iot.mqtt import paho_logger

__all__ = [
    "BURST",
    "FAST_PATH",
    "BurstClient",
    "PackedProperties",
    "ReceivedProperties",
    "decode_publish",
    "user_property",
]

logger = logging.getLogger("braingeneers.iot.mqtt")

BURST = 64
"""Packets one :meth:`BurstClient.loop_read` call may read before paho writes again.

paho's own bound, the number of its messages in flight, applies when it is larger.
"""

_INTERNALS = (
    "_packet_read",
    "_loop_rc_handle",
    "_packet_queue",
    "_handle_publish",
    "_handle_on_message",
    "_send_puback",
)
FAST_PATH = all(callable(getattr(mqtt.Client, name, None)) for name in _INTERNALS)
"""Whether the installed paho has the internals the burst loop and ``ack_many`` use."""

_VIEW_FROM = 4096  # packets at least this long are queued as memoryviews (see _packet_queue)
_PUBACK = 0x40
_USER_PROPERTY = b"\x26"  # property identifier 38
_u16 = struct.Struct("!H")
_puback = struct.Struct("!BBH")  # PUBACK, remaining length 2, packet id: "success" in MQTT 3.1.1 and 5


class BurstClient(mqtt.Client):
    """A :class:`paho.mqtt.client.Client` that reads in bursts and acknowledges in batches.

    Attributes
    ----------
    on_read_done
        Called on the network thread after each :meth:`loop_read`, including one that
        read nothing or lost the connection (exceptions are logged).
    """

    on_read_done: Callable[[], object] | None = None

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read the packets waiting on the socket (at most :data:`BURST`), then call ``on_read_done``."""
        try:
            if not FAST_PATH:
                return super().loop_read(max_packets)
            return self._read_burst()
        finally:
            hook = self.on_read_done
            if hook is not None:
                try:
                    hook()
                except Exception:
                    logger.exception("read hook %r raised", hook)

    def _read_burst(self) -> MQTTErrorCode:
        # paho's loop_read with a larger bound: it stops at the first packet not yet complete.
        for _ in range(max(BURST, len(self._out_messages) + len(self._in_messages))):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: Iterable[int]) -> None:
        """Acknowledge several QoS 1 messages (``manual_ack``) with one queued write."""
        if not FAST_PATH:
            for mid in mids:
                self.ack(mid, 1)
            return
        mids = list(mids)
        if not mids:
            return
        if paho_logger.isEnabledFor(logging.DEBUG):  # paho logs each packet it sends at DEBUG
            paho_logger.debug("Sending PUBACK x%d (Mids: %s)", len(mids), mids)
        self._packet_queue(_PUBACK, b"".join([_puback.pack(_PUBACK, 2, mid) for mid in mids]), 0, 0)

    def _handle_publish(self) -> MQTTErrorCode:
        # paho's own PUBLISH handling for QoS 0 and 1 over MQTT 5, with a decoder that copies
        # the payload once: paho's copies everything after the topic about six times, and
        # twice more per property, which for a 100 kB message cost more than the rest of
        # its handling. QoS 2 and MQTT 3 go to paho unchanged.
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if not FAST_PATH or qos == 2 or self._protocol != mqtt.MQTTv5:
            return super()._handle_publish()
        try:
            message = decode_publish(header, self._in_packet["packet"])
        except (MQTTException, UnicodeDecodeError) as exc:
            paho_logger.error("received a malformed PUBLISH packet: %s", exc)
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        if paho_logger.isEnabledFor(logging.DEBUG):  # what paho logs for each PUBLISH
            paho_logger.debug(
                "Received PUBLISH (d%d, q%d, r%d, m%d), %r, properties=%s, ...  (%d bytes)",
                message.dup,
                message.qos,
                message.retain,
                message.mid,
                message._topic,
                message.properties,
                len(message.payload),
            )
        message.timestamp = time.monotonic()
        self._handle_on_message(message)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(message.mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_queue(
        self,
        command: int,
        packet: bytes | bytearray,
        mid: int,
        qos: int,
        info: mqtt.MQTTMessageInfo | None = None,
    ) -> MQTTErrorCode:
        # paho sends packet[pos:] for each write, which copies a bytes or bytearray packet
        # whole; a memoryview slices without copying (a 100 kB message, one copy fewer).
        if FAST_PATH and len(packet) >= _VIEW_FROM:
            packet = memoryview(packet)  # type: ignore[assignment]
        return super()._packet_queue(command, packet, mid, qos, info)


def decode_publish(header: int, packet: bytes | bytearray) -> mqtt.MQTTMessage:
    """Decode an MQTT 5 PUBLISH packet (``packet``: everything after the fixed header).

    Gives the :class:`paho.mqtt.client.MQTTMessage` paho's decoder gives, copying the payload
    once; its ``properties`` are a :class:`ReceivedProperties`.

    Raises
    ------
    paho.mqtt.properties.MalformedPacket
        The packet is shorter than its lengths say.
    """
    end = len(packet)
    if end < 2:
        raise MalformedPacket("PUBLISH packet without a topic length")
    pos = 2 + ((packet[0] << 8) | packet[1])
    if pos > end:
        raise MalformedPacket("PUBLISH packet shorter than its topic")
    topic = bytes(packet[2:pos])
    mid = 0
    if header & 0x06:  # QoS 1 or 2: a packet identifier follows
        if pos + 2 > end:
            raise MalformedPacket("PUBLISH packet shorter than its topic and packet identifier")
        mid = (packet[pos] << 8) | packet[pos + 1]
        pos += 2
    props_len, shift = _read_varint(packet, pos)
    props_end = pos + shift + props_len
    if props_end > end:
        raise MalformedPacket("PUBLISH packet shorter than its properties")
    properties = ReceivedProperties(packet, pos + shift, props_end)
    message = mqtt.MQTTMessage(mid, topic)
    message.dup = bool(header & 0x08)
    message.qos = (header & 0x06) >> 1
    message.retain = bool(header & 0x01)
    message.properties = properties
    payload = packet[props_end:]
    message.payload = payload if type(payload) is bytes else bytes(payload)
    return message


def _read_varint(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    """Read an MQTT variable byte integer at ``pos``; return ``(value, bytes used)``."""
    value = 0
    for used in range(4):
        if pos + used >= len(data):
            raise MalformedPacket("packet ends inside a variable byte integer")
        byte = data[pos + used]
        value |= (byte & 127) << (7 * used)
        if not byte & 128:
            return value, used + 1
    raise MalformedPacket("variable byte integer longer than four bytes")


_PUBLISH_TABLES = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]


class ReceivedProperties(Properties):
    """The properties of a received MQTT 5 PUBLISH, read without paho's property machinery.

    paho's :meth:`~paho.mqtt.properties.Properties.unpack` spends about 40 µs on one user
    property or subscription identifier; this reads the eight PUBLISH properties of MQTT 5
    (section 3.3.2.3) in a few µs. Each one present is an attribute named as paho names
    it, with paho's value: ``SubscriptionIdentifier`` and ``UserProperty`` are lists, the
    other properties single values. paho's tables are shared by every instance, so its
    methods (``str()``, ``json()``, ``isEmpty()``) work as on its own objects.
    """

    packetType = _PUBLISH_TABLES.packetType  # noqa: N815  (paho's attribute name)
    types = _PUBLISH_TABLES.types
    names = _PUBLISH_TABLES.names
    properties = _PUBLISH_TABLES.properties

    def __init__(self, data: bytes | bytearray, pos: int, end: int) -> None:
        # Neither Properties.__init__ (its tables are the class attributes above) nor its
        # __setattr__: the attributes found go in directly.
        found: dict[str, Any] = {}
        while pos < end:
            ident, used = _read_varint(data, pos)
            pos += used
            kind = _PUBLISH_PROPERTIES.get(ident)
            if kind is None:
                raise MalformedPacket(f"property {ident} is not allowed in PUBLISH")
            name, reader = kind
            value, pos = reader(data, pos, end)
            if name in _LISTS:
                found.setdefault(name, []).append(value)
            elif name in found:
                raise MalformedPacket(f"property {name} appears more than once")
            else:
                found[name] = value
        self.__dict__.update(found)


def _need(end: int, stop: int) -> None:
    if stop > end:
        raise MalformedPacket("property runs past the end of the properties")


def _byte(data: bytes | bytearray, pos: int, end: int) -> tuple[int, int]:
    _need(end, pos + 1)
    return data[pos], pos + 1


def _int16(data: bytes | bytearray, pos: int, end: int) -> tuple[int, int]:
    _need(end, pos + 2)
    return (data[pos] << 8) | data[pos + 1], pos + 2


def _int32(data: bytes | bytearray, pos: int, end: int) -> tuple[int, int]:
    _need(end, pos + 4)
    return int.from_bytes(data[pos : pos + 4], "big"), pos + 4


def _vbi(data: bytes | bytearray, pos: int, end: int) -> tuple[int, int]:
    value, used = _read_varint(data, pos)
    _need(end, pos + used)
    return value, pos + used


def _binary(data: bytes | bytearray, pos: int, end: int) -> tuple[bytes, int]:
    length, pos = _int16(data, pos, end)
    _need(end, pos + length)
    return bytes(data[pos : pos + length]), pos + length


def _text(data: bytes | bytearray, pos: int, end: int) -> tuple[str, int]:
    raw, pos = _binary(data, pos, end)
    text = raw.decode("utf-8")  # strict: refuses encoded surrogates (MQTT-1.5.4-1)
    if "\x00" in text or "\ufeff" in text:
        raise MalformedPacket("MQTT string holds U+0000 or U+FEFF (MQTT-1.5.4-2, -3)")
    return text, pos


def _pair(data: bytes | bytearray, pos: int, end: int) -> tuple[tuple[str, str], int]:
    key, pos = _text(data, pos, end)
    value, pos = _text(data, pos, end)
    return (key, value), pos


_Reader = Callable[[bytes | bytearray, int, int], tuple[Any, int]]
_PUBLISH_PROPERTIES: dict[int, tuple[str, _Reader]] = {  # paho's names
    1: ("PayloadFormatIndicator", _byte),
    2: ("MessageExpiryInterval", _int32),
    3: ("ContentType", _text),
    8: ("ResponseTopic", _text),
    9: ("CorrelationData", _binary),
    11: ("SubscriptionIdentifier", _vbi),
    35: ("TopicAlias", _int16),
    38: ("UserProperty", _pair),
}
_LISTS = frozenset({"SubscriptionIdentifier", "UserProperty"})


class PackedProperties(Properties):
    """MQTT 5 PUBLISH properties packed once, for :meth:`paho.mqtt.client.Client.publish`.

    paho builds a :class:`~paho.mqtt.properties.Properties` object in pure Python and
    packs it again for every (re)transmission, about 30 µs for one user property; paho's
    publish path only calls ``pack()`` (and ``str()`` when it logs), so this holds the
    packed bytes instead. Make one with :func:`user_property`.
    """

    _packed: bytes
    _text: str

    def __init__(self, packed: bytes, text: str) -> None:
        # Neither Properties.__init__ nor its __setattr__ (which allows only property names).
        object.__setattr__(self, "_packed", packed)
        object.__setattr__(self, "_text", text)

    def pack(self) -> bytes:
        """Return the packed properties (length prefix included)."""
        return self._packed

    def __str__(self) -> str:
        return self._text

    __repr__ = __str__


def user_property(key: str, value: str) -> PackedProperties:
    """Return PUBLISH properties holding one MQTT 5 user property ``(key, value)``.

    Raises
    ------
    ValueError
        ``key`` or ``value`` is longer than 65,535 bytes in UTF-8 (an MQTT string's limit).
    """
    k, v = key.encode("utf-8"), value.encode("utf-8")
    if len(k) > 0xFFFF or len(v) > 0xFFFF:
        raise ValueError(f"MQTT user property {key!r} is longer than 65,535 bytes")
    body = b"".join((_USER_PROPERTY, _u16.pack(len(k)), k, _u16.pack(len(v)), v))
    packed = VariableByteIntegers.encode(len(body)) + body  # type: ignore[no-untyped-call]
    return PackedProperties(packed, f"[UserProperty : [({key!r}, {value!r})]]")

"""paho_client: the PUBLISH decoder and property packing agree with paho's own code, byte for byte."""

from __future__ import annotations

import random
import struct
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from braingeneers.iot.paho_client import FAST_PATH, BurstClient, decode_publish, user_property


def _paho_decodes(header: int, packet: bytes) -> mqtt.MQTTMessage:
    """Decode with paho's own PUBLISH handling (any paho 2.x: 2.0 decodes inline)."""
    got: list[mqtt.MQTTMessage] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    client.on_message = lambda c, u, msg: got.append(msg)
    client._in_packet = {"command": header, "packet": packet}  # type: ignore[typeddict-item]
    assert mqtt.Client._handle_publish(client) == MQTTErrorCode.MQTT_ERR_SUCCESS
    return got[0]


def _random_publish(rng: random.Random) -> tuple[int, bytes]:
    topic = bytes(rng.choice(b"ab/+#\xc3\xa9") for _ in range(rng.randint(0, 30)))
    qos = rng.choice([0, 1])
    header = 0x30 | (qos << 1) | rng.choice([0, 1]) | (rng.choice([0, 8]) if qos else 0)
    props = Properties(PacketTypes.PUBLISH)
    for _ in range(rng.randint(0, 2)):
        props.SubscriptionIdentifier = rng.randint(1, 268_435_455)
    for _ in range(rng.randint(0, 3)):
        props.UserProperty = ("k" * rng.randint(0, 3), "vü" * rng.randint(0, 300))
    optional: list[tuple[str, Any]] = [
        ("ContentType", "application/json"),
        ("ResponseTopic", "reply/to"),
        ("CorrelationData", rng.randbytes(5)),
        ("MessageExpiryInterval", rng.randint(0, 2**32 - 1)),
        ("PayloadFormatIndicator", 1),
        ("TopicAlias", rng.randint(1, 65_535)),
    ]
    for name, value in optional:
        if rng.random() < 0.3:
            setattr(props, name, value)
    payload = rng.randbytes(rng.choice([0, 1, 10, 1000, 200_000]))
    mid = struct.pack("!H", rng.randint(1, 65_535)) if qos else b""
    return header, struct.pack("!H", len(topic)) + topic + mid + props.pack() + payload


def test_decode_publish_gives_what_paho_gives() -> None:
    rng = random.Random(6)
    names = ("SubscriptionIdentifier", "UserProperty", "ContentType", "ResponseTopic", "CorrelationData")
    for _ in range(1500):
        header, packet = _random_publish(rng)
        theirs, ours = _paho_decodes(header, packet), decode_publish(header, packet)
        assert (ours._topic, ours.mid, ours.qos, ours.retain, ours.dup) == (
            theirs._topic,
            theirs.mid,
            theirs.qos,
            theirs.retain,
            theirs.dup,
        )
        assert ours.payload == theirs.payload
        assert type(ours.payload) is bytes
        assert str(ours.properties) == str(theirs.properties)
        assert ours.properties.json() == theirs.properties.json()
        assert ours.properties.isEmpty() == theirs.properties.isEmpty()
        for name in names:
            assert getattr(ours.properties, name, None) == getattr(theirs.properties, name, None)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (b"\x02\x0b\x80", "inside a variable byte integer"),  # a subscription id cut short
        (b"\x03\x26\x00\x05", "past the end of the properties"),  # a user property cut short
        (b"\x02\x63\x00", "not allowed in PUBLISH"),  # property 99
        (b"\x04\x01\x00\x01\x01", "more than once"),  # payload format indicator twice
        (b"\x06\x03\x00\x03a\x00b", "U\\+0000"),  # a content type holding U+0000
        (b"\x09", "shorter than its properties"),
    ],
)
def test_malformed_properties_raise_and_drop_the_connection(props: bytes, message: str) -> None:
    from paho.mqtt.properties import MQTTException

    packet = b"\x00\x01a\x00\x07" + props
    with pytest.raises(MQTTException, match=message):
        decode_publish(0x32, packet)
    assert FAST_PATH
    client = BurstClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    client.on_message = lambda c, u, msg: pytest.fail("a malformed packet reached on_message")
    client._in_packet = {"command": 0x32, "packet": packet}  # type: ignore[typeddict-item]
    assert client._handle_publish() == MQTTErrorCode.MQTT_ERR_PROTOCOL


def test_truncated_topic_or_packet_identifier_raise() -> None:
    from paho.mqtt.properties import MQTTException

    for packet, message in [
        (b"\x00", "without a topic length"),
        (b"\x00\x09a/b", "shorter than its topic"),
        (b"\x00\x01a\x00", "shorter than its topic and packet identifier"),
    ]:
        with pytest.raises(MQTTException, match=message):
            decode_publish(0x32, packet)


def test_user_property_packs_as_paho_does() -> None:
    for key, value in [("bg-envelope", '{"bg":1}'), ("k", "ü✓" * 300), ("x", "y" * 65_535), ("", "")]:
        theirs = Properties(PacketTypes.PUBLISH)
        theirs.UserProperty = (key, value)
        assert user_property(key, value).pack() == theirs.pack()
        unpacked = Properties(PacketTypes.PUBLISH)
        unpacked.unpack(user_property(key, value).pack())
        assert unpacked.UserProperty == [(key, value)]
    with pytest.raises(ValueError, match="longer than 65,535 bytes"):
        user_property("k", "y" * 65_536)

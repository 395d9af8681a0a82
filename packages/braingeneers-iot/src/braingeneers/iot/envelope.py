"""The JSON envelope that carries every message this package publishes over MQTT.

A published message becomes one UTF-8 JSON object::

    {"bg": 1, "id": "5f0c...", "ts": "2026-11-24T20:31:07.123456+00:00",
     "from": "maxone-3", "type": "json", "body": {"COMMAND": "PING-REQUEST"}}

``bg``
    Envelope version (1). Together with the other five keys it marks the object as an
    envelope; any other payload is a bare legacy message.
``id``
    A 128-bit hex id (64 random bits per process, then a counter), fixed when
    ``publish_message`` is called. Retransmissions
    by the client library and redeliveries by the broker carry the same id, so a
    receiver calls back once per id.
``ts``
    UTC time of publication, ISO 8601 with microseconds.
``from``
    The sender's broker name (or client id).
``type``
    How ``body`` decodes: ``"json"`` (any JSON value), ``"text"`` (a string, kept a
    string: ``"42"`` stays ``"42"``) or ``"bytes"`` (base64 of the raw bytes: the form
    :func:`encode` writes and peers may send; ``MessageBroker`` sends bytes raw, below).

A ``bytes`` body is sent differently over MQTT 5 (:func:`encode_raw`): the payload is the
raw bytes themselves and the envelope, without ``body``, travels as JSON in the MQTT 5
user property :data:`HEADER_PROPERTY`::

    payload:        the bytes, e.g. of a PNG image
    user property:  bg-envelope = {"bg":1,"id":"5f0c...","ts":"...","from":"picroscope-2",
                                   "type":"bytes"}

This saves the base64 step (a third more bytes on the wire, and in CPython about 2.5 µs
to encode and 3.5 µs to decode per kB of body) and lets peers that ignore properties, such as
``mosquitto_sub`` or the legacy broker, see the bytes unchanged. :func:`decode` reads
both forms, so a peer may still send a base64 envelope.

Bare payloads from legacy peers (or ``mosquitto_pub``) are decoded as the legacy
broker did: UTF-8 JSON if it parses, else the UTF-8 text, else the raw ``bytes``. They
carry no id, so they are never deduplicated.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from braingeneers.core.errors import FormatError
from braingeneers.iot import json_codec

__all__ = ["HEADER_PROPERTY", "Envelope", "SeenIds", "decode", "encode", "encode_bare", "encode_raw"]

HEADER_PROPERTY = "bg-envelope"
"""Name of the MQTT 5 user property that carries the envelope of a raw ``bytes`` payload."""

_KEYS = frozenset({"bg", "id", "ts", "from", "type", "body"})
_HEADER_KEYS = _KEYS - {"body"}


@dataclass(frozen=True)
class Envelope:
    """One decoded message: the body plus the envelope fields (None for bare payloads)."""

    body: Any
    id: str | None = None
    ts: str | None = None
    sender: str | None = None


class _IdSource:
    """Message ids: 64 random bits drawn once per process, then a 64-bit counter.

    Unique within a process by construction and across processes with overwhelming
    probability; no system call per message (``os.urandom`` would release the GIL on
    every publish and make the publishing thread wait to get it back).
    """

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFFFFFF:016x}"


new_id = _IdSource()
"""Return a fresh message id (32 hex digits: a per-process random prefix and a counter)."""


class _UtcStamp:
    """ISO 8601 UTC timestamps with microseconds, formatting the date and time once per second.

    ``datetime.now(timezone.utc).isoformat()`` costs more than encoding a small message
    body; this gives the same text (always with the microseconds) in a third of the time.
    """

    def __init__(self) -> None:
        self._cache = (-1, "")  # (epoch second, its "YYYY-MM-DDTHH:MM:SS"), replaced as one object

    def __call__(self) -> str:
        now = time.time()
        second = int(now)
        cached, prefix = self._cache
        if second != cached:
            prefix = datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
            self._cache = (second, prefix)
        return f"{prefix}.{int((now - second) * 1_000_000):06d}+00:00"


utc_stamp = _UtcStamp()
"""Return the current UTC time as ISO 8601 text, e.g. ``2026-11-24T20:31:07.123456+00:00``."""


def encode(body: Any, sender: str, message_id: str | None = None) -> tuple[str, bytes]:
    """Wrap ``body`` in an envelope; return ``(id, payload)``.

    Parameters
    ----------
    body
        A ``str`` (sent as text), ``bytes``/``bytearray`` (sent as base64), or any
        JSON-serializable value (``None`` included).
    sender
        Name recorded in ``from``.
    message_id
        Reuse an id (a caller's own retry of the same message); new when None.

    Raises
    ------
    FormatError
        ``body`` is not JSON-serializable.
    """
    mid = message_id or new_id()
    if isinstance(body, str):
        kind, value = "text", body
    elif isinstance(body, (bytes, bytearray, memoryview)):
        kind, value = "bytes", base64.b64encode(bytes(body)).decode("ascii")
    else:
        kind, value = "json", body
    # One encoder call writes the whole envelope: joining a separately written body to
    # its header would copy a large body once more, into freshly allocated memory.
    envelope = {"bg": 1, "id": mid, "ts": utc_stamp(), "from": sender, "type": kind, "body": value}
    try:
        return mid, json_codec.dumps(envelope)
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError (lone surrogates) included
        raise _not_json(body, exc) from None


def encode_raw(
    body: bytes | bytearray | memoryview, sender: str, message_id: str | None = None
) -> tuple[str, bytes, str]:
    """Envelope a ``bytes`` body that is sent as the raw payload; return ``(id, payload, header)``.

    ``header`` is the envelope without ``body`` as JSON text, for the MQTT 5 user property
    :data:`HEADER_PROPERTY`; :func:`decode` given the payload and this header returns
    the body as ``bytes``.

    Raises
    ------
    FormatError
        ``sender`` or ``message_id`` cannot be written as JSON (a lone surrogate), or the
        header is longer than an MQTT string may be (65,535 bytes).
    """
    mid = message_id or new_id()
    header = {"bg": 1, "id": mid, "ts": utc_stamp(), "from": sender, "type": "bytes"}
    try:
        packed = json_codec.dumps(header)
    except (TypeError, ValueError) as exc:
        raise _not_json(header, exc) from None
    if len(packed) > 0xFFFF:
        raise FormatError(
            f"envelope of a bytes message is {len(packed)} bytes, more than an MQTT user property "
            "holds (65,535): use a shorter message_id and sender name"
        )
    return mid, bytes(body), packed.decode("utf-8")


def encode_bare(body: Any) -> bytes:
    """Encode ``body`` the legacy way (no envelope): text and bytes raw, anything else JSON."""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    try:
        return json.dumps(body, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise _not_json(body, exc) from None


def _not_json(body: Any, exc: Exception) -> FormatError:
    return FormatError(f"message body of type {type(body).__name__} is not JSON-serializable: {exc}")


def _bare(payload: bytes) -> Any:
    """Decode a payload as the legacy broker did: JSON if it parses, else text, else bytes."""
    try:
        return json_codec.loads(payload)
    except UnicodeDecodeError:
        return payload
    except ValueError:
        return payload.decode("utf-8")


def decode(payload: bytes, header: str | None = None) -> Envelope:
    """Decode a received payload: an envelope if it is one, else a bare legacy message.

    Parameters
    ----------
    payload
        The message payload.
    header
        The value of the user property :data:`HEADER_PROPERTY`, if the message had one:
        then ``payload`` is the raw ``bytes`` body (see :func:`encode_raw`). A header that
        is not a valid envelope is ignored and the payload decoded on its own.
    """
    if header is not None:
        try:
            head = json.loads(header)
        except ValueError:
            head = None
        if type(head) is dict and head.keys() == _HEADER_KEYS and head["bg"] == 1 and head["type"] == "bytes":
            mid = head["id"] if isinstance(head["id"], str) and head["id"] else None
            return Envelope(payload, mid, head["ts"], head["from"])
    doc = _bare(payload)
    if not isinstance(doc, dict) or doc.keys() != _KEYS or doc.get("bg") != 1:
        return Envelope(doc)
    kind, value = doc["type"], doc["body"]
    if kind == "bytes" and isinstance(value, str):
        try:
            value = base64.b64decode(value, validate=True)
        except ValueError:
            return Envelope(doc)
    elif kind not in ("json", "text"):
        return Envelope(doc)
    mid = doc["id"] if isinstance(doc["id"], str) and doc["id"] else None
    return Envelope(value, mid, doc["ts"], doc["from"])


class SeenIds:
    """A bounded record of message ids already handled (oldest forgotten first).

    Parameters
    ----------
    capacity
        How many ids to remember. A duplicate that arrives after more than this many
        newer messages is not recognised.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def add(self, message_id: str) -> bool:
        """Record ``message_id``; return False if it was already recorded (a duplicate)."""
        if message_id in self._ids:
            return False
        self._ids[message_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def clear(self) -> None:
        """Forget every id."""
        self._ids.clear()

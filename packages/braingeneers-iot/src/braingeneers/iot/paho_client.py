"""paho-mqtt's client with a network loop that reads packets in bursts and acknowledges them together.

paho's network thread reads one packet per ``select()`` when it has nothing of its own in
flight (a subscriber), and writes each acknowledgement with its own ``send()``, after
waking itself through its socket pair: several system calls per received message.
:class:`BurstClient` changes three things, all inside paho's own loop and with paho's
own steps:

* :meth:`BurstClient.loop_read` reads every packet already waiting on the socket (up to
  :data:`BURST` before it lets paho write and check the keepalive) and then calls
  ``on_read_done``; the connection sends the acknowledgements it owes there, so the
  PUBACKs of one burst go out together;
* :meth:`BurstClient.ack_many` queues the PUBACKs of several QoS 1 messages as one write;
* packets of 4 kB or more are queued as a ``memoryview``, so paho's ``packet[pos:]`` before
  each ``send()`` no longer copies the whole packet (one copy fewer per large message).

They use paho internals (``_packet_read``, ``_loop_rc_handle``, ``_packet_queue``) that
are the same from paho-mqtt 2.0 to 2.2; the package allows ``paho-mqtt<3``, and
:data:`FAST_PATH` is False (plain paho behaviour, one PUBACK per call of ``ack``) if a
release no longer has them. The test suite asserts it is True for the paho it installs.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from braingeneers.iot.mqtt import paho_logger

__all__ = ["BURST", "FAST_PATH", "BurstClient"]

logger = logging.getLogger("braingeneers.iot.mqtt")

BURST = 64
"""Packets one :meth:`BurstClient.loop_read` call may read before paho writes again.

paho's own bound, the number of its messages in flight, applies when it is larger.
"""

_INTERNALS = ("_packet_read", "_loop_rc_handle", "_packet_queue")
FAST_PATH = all(callable(getattr(mqtt.Client, name, None)) for name in _INTERNALS)
"""Whether the installed paho has the internals the burst loop and ``ack_many`` use."""

_VIEW_FROM = 4096  # packets at least this long are queued as memoryviews (see _packet_queue)
_PUBACK = 0x40
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

"""The handle ``publish_message`` returns: wait for the broker's acknowledgement of one message."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from braingeneers.iot.errors import PublishError

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

__all__ = ["PublishHandle"]


class PublishHandle:
    """Tracks one published message until the broker acknowledges it.

    Attributes
    ----------
    message_id
        The envelope id (None for messages sent without an envelope).
    mid
        paho's packet id.
    topic
        The topic it was published to.
    """

    def __init__(
        self,
        info: mqtt.MQTTMessageInfo,
        message_id: str | None,
        topic: str,
        refusal: Callable[[int], str | None],
    ) -> None:
        self._info = info
        self._refusal = refusal  # the broker's refusal of a packet id, if it refused it
        self.message_id = message_id
        self.mid = info.mid
        self.topic = topic

    def is_published(self) -> bool:
        """Whether the broker has acknowledged the message (always True for QoS 0 once sent)."""
        with self._info._condition:
            return bool(self._info._published)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the broker acknowledges the message.

        Safe to call from inside a subscription callback (callbacks do not run on the
        network thread).

        Parameters
        ----------
        timeout
            Seconds to wait; None waits as long as it takes.

        Returns
        -------
        bool
            True once acknowledged, False if ``timeout`` passed first (the message stays
            queued and is still sent after a reconnect).

        Raises
        ------
        PublishError
            The broker refused the message (MQTT 5 PUBACK reason code, e.g. not authorized).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        cond = self._info._condition
        with cond:
            while not self._info._published:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                cond.wait(0.1 if remaining is None else min(remaining, 0.1))
        refusal = self._refusal(self.mid)
        if refusal is not None:
            raise PublishError(f"broker refused the message on {self.topic!r}: {refusal}")
        return True

    def __repr__(self) -> str:
        return f"PublishHandle(topic={self.topic!r}, message_id={self.message_id!r}, mid={self.mid})"

"""Delivery of received MQTT messages: from the network thread to callbacks and back to the broker.

:class:`Delivery` is the receiving half of :class:`~braingeneers.iot.mqtt.MqttConnection`
(which inherits it and owns the state it uses): it finds the subscriptions a message is
for, drops copies whose envelope id a subscription has already seen, hands the callbacks
to the workers (:mod:`braingeneers.iot.callbacks`) and keeps the ledger of
acknowledgements, so a message is acknowledged to the broker only when its callbacks
have returned (see the delivery contract in :mod:`braingeneers.iot.mqtt`).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from braingeneers.iot.callbacks import CallbackExecutor, _name
from braingeneers.iot.envelope import Envelope, SeenIds

if TYPE_CHECKING:
    from braingeneers.iot.mqtt import MqttOptions
    from braingeneers.iot.paho_client import BurstClient

__all__ = ["Delivery", "MessageCallback"]

logger = logging.getLogger("braingeneers.iot.mqtt")  # the connection's logger: one place to watch

MessageCallback = Callable[[str, Any], object]
"""A subscription callback: ``callback(topic, message)``."""

_SLOW_CALLBACK = 0.001  # a callback that ran this long (s) is acknowledged by its worker at once


class _Ack:
    """The acknowledgements owed to the broker for one received message.

    PUBACK (or PUBCOMP) is sent only when every callback the message triggered has
    returned, so messages still queued for callbacks when the process dies are redelivered
    by a persistent session. ``copies`` holds ``(packet id, qos, connection generation)``
    of each received copy; copies from an earlier connection are not acknowledged (the
    broker sends them again, and they are then recognised as duplicates).
    """

    __slots__ = ("copies", "deferred", "key", "remaining")

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.remaining = 0
        self.deferred = False
        self.copies: list[tuple[int, int, int]] = []


_Job = tuple[str, MessageCallback, str, Any, _Ack]


@dataclass
class _Subscription:
    filter: str
    callback: MessageCallback
    sub_id: int  # 0: subscribed without a subscription identifier (see _register)
    qos: int


class Delivery:
    """Route received messages to callbacks and acknowledge them once the callbacks have returned.

    A mixin: :class:`~braingeneers.iot.mqtt.MqttConnection` creates the state below and
    calls :meth:`_route` (under ``_lock``), :meth:`_submit` and :meth:`_flush_done` from its
    network thread; the workers run :meth:`_run`.
    """

    options: MqttOptions
    duplicates: int
    _lock: threading.RLock
    _client: BurstClient
    _mqtt: Any  # the paho.mqtt.client module
    _generation: int
    _subs: dict[str, _Subscription]
    _by_sid: dict[int, _Subscription]
    _orphans: collections.deque[tuple[str, Envelope, _Ack]]
    _seen: SeenIds
    _active: dict[str, _Ack]
    _unacked: int
    _done: collections.deque[_Ack]
    _executor: CallbackExecutor

    def _route(
        self, topic: str, id_list: list[int], envelope: Envelope, ack: _Ack
    ) -> tuple[list[_Job], bool]:
        """Return the callbacks to run for a message and whether to acknowledge it now (under the lock)."""
        matches = self._matching(topic, id_list)
        if not matches and self.options.persistent_session:
            # A persistent session delivers its backlog as soon as we connect, possibly before
            # the process has subscribed again: hold it for that subscription. It is
            # acknowledged now: the session may hold filters this process never subscribes to
            # again, and unacknowledged messages would fill the broker's in-flight window.
            if len(self._orphans) >= self.options.orphan_buffer:
                logger.warning("holding too many messages for no subscription; dropping the oldest")
                self._orphans.popleft()
            self._orphans.append((topic, envelope, ack))
            return [], True
        jobs = self._dedupe(matches, topic, envelope, ack)
        running = self._active.get(envelope.id) if envelope.id is not None else None
        if not jobs:
            if running is not None and running.deferred:
                # a copy of a message whose callbacks still run: acknowledge both together
                running.copies.extend(ack.copies)
                return [], False
            return [], True
        if envelope.id is not None:
            self._active.setdefault(envelope.id, ack)
        if ack.copies and self._unacked < self.options.max_unacked:
            ack.deferred = True  # acknowledged when its callbacks have returned
            self._unacked += 1
            return jobs, False
        return jobs, True  # beyond max_unacked: acknowledged on hand-off

    def _matching(self, topic: str, id_list: list[int]) -> list[_Subscription]:
        """Return the subscriptions a message is for (by subscription id, else by topic).

        A copy without identifiers is for the exact subscription to its topic when there is
        one (while that is the only kind of subscription, see :meth:`subscribe`). Otherwise
        (identifiers of a session left by an earlier process, or none at all) every
        subscription whose filter matches the topic gets it.
        """
        if id_list:
            subs = [self._by_sid[i] for i in id_list if i in self._by_sid]
            if subs:
                return subs
        else:
            exact = self._subs.get(topic)
            if exact is not None:
                return [exact]
        return [s for s in self._subs.values() if self._mqtt.topic_matches_sub(s.filter, topic)]

    def _dedupe(self, subs: list[_Subscription], topic: str, envelope: Envelope, ack: _Ack) -> list[_Job]:
        """Return the callbacks to run for one message, once per envelope id (call under the lock)."""
        jobs = []
        for sub in subs:
            if envelope.id is not None and not self._seen.add(f"{sub.filter}\x00{envelope.id}"):
                self.duplicates += 1
                logger.debug("dropping duplicate %s on %s", envelope.id, topic)
                continue
            jobs.append((sub.filter, sub.callback, topic, envelope.body, ack))
            ack.remaining += 1
        return jobs

    def _submit(self, jobs: list[_Job]) -> None:
        """Hand callbacks to the workers (outside the lock: this may wait, see the back-pressure policy)."""
        for key, callback, topic, body, ack in jobs:
            self._executor.submit(key, self._run, callback, topic, body, ack)

    def _run(self, callback: MessageCallback, topic: str, body: Any, ack: _Ack) -> None:
        """Run one callback on a worker, then acknowledge the message if it was the last one.

        The acknowledgement joins the batch in ``_done`` (sent by the network thread after
        its next read, or by this worker when it runs out of work) unless the callback was
        slow: after a crash the broker redelivers at most the messages finished in the last
        couple of milliseconds besides the one in progress.
        """
        started = time.monotonic()
        try:
            callback(topic, body)
        except Exception:
            self._executor.errors += 1
            logger.exception(
                "callback %s raised on %s; the error is isolated to this message", _name(callback), topic
            )
        finally:
            with self._lock:
                ack.remaining -= 1
                finished = ack.remaining <= 0
                if finished and ack.key is not None and self._active.get(ack.key) is ack:
                    del self._active[ack.key]
            if finished:
                self._done.append(ack)
                if time.monotonic() - started >= _SLOW_CALLBACK:
                    self._flush_done()

    def _flush_done(self) -> None:
        """Acknowledge the messages whose callbacks have all returned (any thread)."""
        acks = []
        done = self._done
        try:
            while True:
                acks.append(done.popleft())
        except IndexError:  # emptied (another thread may be flushing too)
            pass
        if acks:
            self._send_acks(acks)

    def _send_acks(self, acks: list[_Ack]) -> None:
        """Acknowledge received copies of the current connection (outside the lock)."""
        owed: list[tuple[int, int, int]] = []
        with self._lock:
            generation = self._generation
            for ack in acks:
                owed += ack.copies
                ack.copies = []
                if ack.deferred and ack.remaining <= 0:
                    ack.deferred = False
                    self._unacked -= 1
        pubacks = []
        for mid, qos, gen in owed:
            if gen != generation:
                continue
            if qos == 1:
                pubacks.append(mid)
            elif qos == 2:
                self._client.ack(mid, qos)
        if pubacks:
            self._client.ack_many(pubacks)  # one write for the whole batch

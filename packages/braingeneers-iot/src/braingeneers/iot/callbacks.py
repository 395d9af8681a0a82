"""Worker threads that run user callbacks away from the MQTT network thread.

Back-pressure policy
--------------------
Each subscription is pinned to one of ``workers`` threads (by its topic filter), so the
callbacks of one subscription run one at a time and in arrival order, while a slow
callback on one subscription does not hold up subscriptions pinned to other workers.
The MQTT connection acknowledges a QoS 1/2 message only once its callbacks have run, so
the broker's in-flight window is the first bound on what waits here. Each worker also
holds at most ``queue_size`` messages (queued or running). When that is full, the network
thread *waits* for room (it never drops a message); while it waits it reads no more
packets, so the broker holds the following messages and TCP flow control slows the
sender. A warning is logged every few seconds while the wait lasts. A callback that
never returns therefore eventually stalls delivery; the stall is logged, never silent.

An exception raised by a callback is logged with its traceback and counted; the worker
goes on with the next message.

Batching
--------
A worker calls ``on_idle`` when it runs out of messages and is about to wait for more
(not before the short pauses below). Under a steady stream (it was woken again within
``linger`` of going idle) it first pauses for ``linger`` seconds and then takes what
arrived meanwhile as one batch, instead of being woken for each message: in CPython
every wake-up costs GIL hand-offs with the network thread, which cost a third of the
throughput in the benchmark. A message that arrives during such a pause waits at most
``linger`` (2 ms by default); at lower rates a message wakes its worker at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

__all__ = ["CallbackExecutor"]

logger = logging.getLogger(__name__)

_STOP = object()


class CallbackExecutor:
    """Run callbacks on worker threads, one ordered queue per worker.

    Parameters
    ----------
    workers
        Number of worker threads.
    queue_size
        Messages each worker may hold before :meth:`submit` waits.
    name
        Prefix of the worker threads' names.
    linger
        Seconds an idle worker pauses to gather a batch while messages arrive faster than
        that; 0 never pauses.
    on_idle
        Called on a worker thread each time that worker runs out of messages and is about to
        wait for more, at most ``linger`` after its last message (exceptions are logged).
    """

    def __init__(
        self,
        workers: int = 4,
        queue_size: int = 1000,
        name: str = "braingeneers-callback",
        linger: float = 0.002,
        on_idle: Callable[[], object] | None = None,
    ) -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError("workers and queue_size must be at least 1")
        self.errors = 0
        self.queue_size = queue_size
        self._linger = linger
        self._on_idle = on_idle
        # A C-level SimpleQueue per worker, bounded by a semaphore of free slots: a slot is
        # taken by submit and given back when the callback has returned.
        self._queues: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in range(workers)]
        self._slots = [threading.Semaphore(queue_size) for _ in range(workers)]
        self._threads = [
            threading.Thread(target=self._work, args=(i,), name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        self._closed = False
        for thread in self._threads:
            thread.start()

    def submit(self, key: str, fn: Callable[..., object], *args: Any) -> None:
        """Queue ``fn(*args)`` on the worker owning ``key``; wait while that worker's queue is full."""
        if self._closed:
            raise RuntimeError("callback executor is shut down")
        index = zlib.crc32(key.encode("utf-8")) % len(self._queues)
        slots = self._slots[index]
        if not slots.acquire(blocking=False):
            started = time.monotonic()
            next_warning = 5.0
            while not slots.acquire(timeout=0.5):
                waited = time.monotonic() - started
                if waited >= next_warning:
                    logger.warning(
                        "callback queue for %r has been full for %.0f s: a callback is slow or stuck; "
                        "delivery of further messages is held back until it returns",
                        key,
                        waited,
                    )
                    next_warning += 5.0
        self._queues[index].put((fn, args))

    def _work(self, index: int) -> None:
        q, slots = self._queues[index], self._slots[index]
        steady = False  # woken again soon after the last wait: gather batches
        while True:
            try:
                item = q.get_nowait()
            except queue.Empty:
                if steady:
                    steady = False
                    time.sleep(self._linger)
                    continue
                if self._on_idle is not None:
                    try:
                        self._on_idle()
                    except Exception:
                        logger.exception("idle hook %s raised", _name(self._on_idle))
                waited = time.monotonic()
                item = q.get()
                steady = self._linger > 0 and time.monotonic() - waited < self._linger
            if item is _STOP:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:
                self.errors += 1
                logger.exception("callback %s raised; the error is isolated to this message", _name(fn))
            finally:
                slots.release()

    def pending(self) -> int:
        """Return the number of queued or running callbacks."""
        return sum(self.queue_size - slots._value for slots in self._slots)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued callback has run; return False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pending():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        """Let queued callbacks finish (up to ``timeout`` seconds in total), then stop the workers."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        for q in self._queues:
            q.put(_STOP)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            logger.warning("callbacks still running at shutdown are left to finish on their daemon threads")


def _name(fn: Callable[..., object]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)

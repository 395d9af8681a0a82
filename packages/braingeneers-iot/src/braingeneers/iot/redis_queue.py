"""``NamedQueue``: a ``queue.Queue`` shared across processes and hosts through Redis.

Keys (``<name>`` is the queue's name):

``bpy-queue2-<name>``
    A LIST of serialized items (LPUSH to put, BRPOP to get).
``bpy-queue2-meta-<name>``
    A HASH with ``maxsize`` (fixed by the first handle that creates the queue, then
    shared by every handle) and ``unfinished`` (items put and not yet ``task_done``).

Both keys expire ``cleanup_sec`` after the last ``put`` or ``task_done``. Items are JSON
(or msgpack with ``serializer="msgpack"``), never pickle: a tuple comes back as a list.
A bounded ``put`` checks the length and pushes in one Lua script, so ``maxsize`` holds
however many handles put at once. ``get(timeout=...)`` blocks on the server (BRPOP).
"""

from __future__ import annotations

import json
import logging
import queue
import random
import time
from typing import TYPE_CHECKING, Any

from braingeneers.core.errors import ConfigError, FormatError
from braingeneers.iot.redis_client import block_slice, redis_errors

if TYPE_CHECKING:
    import redis

__all__ = ["NamedQueue", "queue_keys"]

logger = logging.getLogger(__name__)

_PUT = """
local maxsize = tonumber(redis.call('HGET', KEYS[2], 'maxsize') or '0')
if maxsize > 0 and redis.call('LLEN', KEYS[1]) >= maxsize then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'unfinished', 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""

_TASK_DONE = """
local n = tonumber(redis.call('HGET', KEYS[1], 'unfinished') or '0')
if n <= 0 then return -1 end
redis.call('HINCRBY', KEYS[1], 'unfinished', -1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
return n - 1
"""


def queue_keys(name: str) -> tuple[str, str]:
    """Return the item-list and metadata keys of queue ``name``."""
    return f"bpy-queue2-{name}", f"bpy-queue2-meta-{name}"


class NamedQueue:
    """A cross-host FIFO queue with the ``queue.Queue`` interface (see the module docs).

    Parameters
    ----------
    client
        A redis-py client (``MessageBroker.redis_client``).
    name
        The queue's name; every handle with the same name shares the queue.
    maxsize
        Capacity; 0 or None for unbounded. The first handle fixes it.
    cleanup_sec
        Seconds of inactivity after which Redis deletes the queue.
    serializer
        ``"json"`` or ``"msgpack"`` (needs the ``msgpack`` extra).
    """

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        maxsize: int | None = 0,
        cleanup_sec: int = 604_800,
        serializer: str = "json",
    ) -> None:
        if serializer not in ("json", "msgpack"):
            raise ValueError(f"serializer must be 'json' or 'msgpack', not {serializer!r}")
        if serializer == "msgpack":
            try:
                import msgpack  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
            except ImportError:
                raise ConfigError(
                    'serializer="msgpack" needs the msgpack extra: pip install "braingeneers-iot[msgpack]"'
                ) from None
        self.name = name
        self.serializer = serializer
        self.cleanup_sec = int(cleanup_sec)
        self._client = client
        self._items, self._meta = queue_keys(name)
        with redis_errors(f"creating queue {name!r}"):
            pipe = client.pipeline()
            pipe.hsetnx(self._meta, "maxsize", int(maxsize or 0))
            pipe.hget(self._meta, "maxsize")
            pipe.expire(self._meta, self.cleanup_sec)
            _, stored, _ = pipe.execute()
            self._put = client.register_script(_PUT)
            self._task_done = client.register_script(_TASK_DONE)
        self.maxsize = int(stored or 0)
        if maxsize and self.maxsize != int(maxsize):
            logger.warning("queue %r already exists with maxsize %d; %d ignored", name, self.maxsize, maxsize)

    def __repr__(self) -> str:
        return f"NamedQueue({self.name!r}, maxsize={self.maxsize})"

    # ------------------------------------------------------------ encoding
    def _dumps(self, item: Any) -> bytes:
        try:
            if self.serializer == "msgpack":
                import msgpack  # type: ignore[import-untyped,import-not-found,unused-ignore]

                return bytes(msgpack.packb(item, use_bin_type=True))
            return json.dumps(item, allow_nan=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise FormatError(
                f"queue {self.name!r}: item is not {self.serializer}-serializable: {exc}"
            ) from None

    def _loads(self, data: bytes) -> Any:
        if self.serializer == "msgpack":
            import msgpack  # type: ignore[import-untyped,import-not-found,unused-ignore]

            return msgpack.unpackb(data, raw=False)
        return json.loads(data)

    # -------------------------------------------------------------- queue API
    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item``; when the queue is full, wait (up to ``timeout``) or raise ``queue.Full``."""
        data = self._dumps(item)
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        delay = 0.002
        while True:
            with redis_errors(f"put on queue {self.name!r}"):
                if self._put(keys=[self._items, self._meta], args=[data, self.cleanup_sec]):
                    return
            if not block or (deadline is not None and time.monotonic() >= deadline):
                raise queue.Full
            pause = delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic()))
            time.sleep(pause * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 0.05)

    def put_nowait(self, item: Any) -> None:
        """Put ``item`` without waiting; raise ``queue.Full`` when the queue is full."""
        self.put(item, block=False)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Remove and return the oldest item; wait (up to ``timeout``) or raise ``queue.Empty``."""
        if not block:
            with redis_errors(f"get on queue {self.name!r}"):
                data: Any = self._client.rpop(self._items)
            if data is None:
                raise queue.Empty
            return self._loads(data)
        if timeout is not None and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        deadline = None if timeout is None else time.monotonic() + timeout
        slice_ = block_slice(self._client)
        while True:
            remaining = slice_ if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise queue.Empty
            wait = min(slice_, remaining)
            with redis_errors(f"get on queue {self.name!r}"):
                answer: Any = self._client.brpop([self._items], timeout=max(wait, 0.01))
            if answer is not None:
                return self._loads(answer[1])

    def get_nowait(self) -> Any:
        """Remove and return the oldest item; raise ``queue.Empty`` if there is none."""
        return self.get(block=False)

    def task_done(self) -> None:
        """Mark one item taken with ``get`` as processed (for :meth:`join`).

        Raises
        ------
        ValueError
            Called more times than items were put.
        """
        with redis_errors(f"task_done on queue {self.name!r}"):
            left = self._task_done(keys=[self._meta], args=[self.cleanup_sec])
        if int(left) < 0:
            raise ValueError(f"task_done() called too many times on queue {self.name!r}")

    def join(self, timeout: float | None = None) -> None:
        """Wait until every item put has been marked ``task_done`` (by any handle).

        Raises
        ------
        TimeoutError
            ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with redis_errors(f"join on queue {self.name!r}"):
                unfinished = int(self._client.hget(self._meta, "unfinished") or 0)
            if unfinished <= 0:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"queue {self.name!r} still has {unfinished} unfinished items")
            time.sleep(0.02)

    def qsize(self) -> int:
        """Return the number of items in the queue now."""
        with redis_errors(f"qsize of queue {self.name!r}"):
            return int(self._client.llen(self._items))

    def empty(self) -> bool:
        """Return True if the queue holds no item now."""
        return self.qsize() == 0

    def full(self) -> bool:
        """Return True if the queue is bounded and holds ``maxsize`` items now."""
        return self.maxsize > 0 and self.qsize() >= self.maxsize

"""``NamedLock``: a mutual-exclusion lock across processes and hosts, with a lease.

The lock is the key ``bpy-lock-<name>`` holding a random token, set with
``SET NX PX <lease>``. While held, a daemon thread renews the lease every third of it,
so a live holder keeps the lock as long as it likes, and a crashed (or frozen) holder
loses it at most ``lease`` seconds later. Release and renewal compare the token in a Lua
script, so a holder whose lease ran out can neither release nor extend the lock someone
else now holds: it gets :class:`~braingeneers.iot.errors.LockNotOwnedError`.

Each acquisition also increments ``bpy-lock-fence-<name>`` and exposes the value as
``NamedLock.fence``, a fencing token that grows with every acquisition.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from typing import TYPE_CHECKING

from braingeneers.iot.errors import LockNotOwnedError
from braingeneers.iot.redis_client import redis_errors

if TYPE_CHECKING:
    import redis

__all__ = ["NamedLock", "lock_key"]

logger = logging.getLogger(__name__)

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def lock_key(name: str) -> str:
    """Return the Redis key of lock ``name``."""
    return f"bpy-lock-{name}"


class NamedLock:
    """A leased Redis lock with the ``threading.Lock`` interface (not reentrant).

    Parameters
    ----------
    client
        A redis-py client (``MessageBroker.redis_client``).
    name
        The lock's name; every handle with the same name contends for one lock.
    lease
        Seconds a holder keeps the lock without renewing it.
    renew
        Renew the lease from a background thread while held.
    """

    def __init__(self, client: redis.Redis, name: str, lease: float = 30.0, renew: bool = True) -> None:
        if lease <= 0:
            raise ValueError("lease must be positive")
        self.name = name
        self.lease = float(lease)
        self.renew = renew
        self.fence: int | None = None
        self._client = client
        self._key = lock_key(name)
        self._token: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._renew_script = client.register_script(_RENEW)
        self._release_script = client.register_script(_RELEASE)

    def __repr__(self) -> str:
        return f"NamedLock({self.name!r}, lease={self.lease:g}, held={self._token is not None})"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock; return False if not taken (non-blocking, or ``timeout`` s passed).

        Raises
        ------
        RuntimeError
            This handle already holds the lock.
        """
        if self._token is not None:
            raise RuntimeError(f"lock {self.name!r} is already held by this handle (it is not reentrant)")
        token = uuid.uuid4().hex
        lease_ms = int(self.lease * 1000)
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        delay = 0.001
        while True:
            with redis_errors(f"acquiring lock {self.name!r}"):
                if self._client.set(self._key, token, nx=True, px=lease_ms):
                    self.fence = int(self._client.incr(f"bpy-lock-fence-{self.name}"))
                    break
            if not blocking or (deadline is not None and time.monotonic() >= deadline):
                return False
            pause = delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic()))
            time.sleep(pause * random.uniform(0.5, 1.5))
            delay = min(delay * 1.5, 0.02)
        self._token = token
        if self.renew:
            self._stop.clear()
            self._renewer = threading.Thread(
                target=self._renew_loop, args=(token,), name=f"lock-renew-{self.name}", daemon=True
            )
            self._renewer.start()
        return True

    def _renew_loop(self, token: str) -> None:
        interval = self.lease / 3
        expires = time.monotonic() + self.lease
        while not self._stop.wait(interval):
            try:
                with redis_errors(f"renewing lock {self.name!r}"):
                    ok = self._renew_script(keys=[self._key], args=[token, int(self.lease * 1000)])
            except Exception as exc:
                if time.monotonic() >= expires:
                    logger.error("lock %r: lease expired while Redis was unreachable (%s)", self.name, exc)
                    return
                logger.warning("lock %r: renewal failed (%s); retrying", self.name, exc)
                continue
            if not ok:
                logger.error("lock %r was lost: its lease expired before renewal", self.name)
                return
            expires = time.monotonic() + self.lease

    def release(self) -> None:
        """Release the lock.

        Raises
        ------
        RuntimeError
            This handle does not hold the lock.
        LockNotOwnedError
            The lease had expired (the lock may since belong to someone else, whom this
            call leaves alone).
        """
        token = self._token
        if token is None:
            raise RuntimeError(f"release of lock {self.name!r}, which this handle does not hold")
        self._token = None
        self._stop.set()
        if self._renewer is not None and self._renewer is not threading.current_thread():
            self._renewer.join(5)
        self._renewer = None
        with redis_errors(f"releasing lock {self.name!r}"):
            released = self._release_script(keys=[self._key], args=[token])
        if not released:
            raise LockNotOwnedError(
                f"lock {self.name!r}: the lease of {self.lease:g} s expired before release; "
                "another holder may have run concurrently"
            )

    def locked(self) -> bool:
        """Return True if anyone holds the lock now."""
        with redis_errors(f"checking lock {self.name!r}"):
            return bool(self._client.exists(self._key))

    def __enter__(self) -> NamedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

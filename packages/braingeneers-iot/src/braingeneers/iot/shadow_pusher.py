"""Pushes a device's state to its shadow on a thread of its own: coalesced, retried until it lands."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from braingeneers.core.errors import BraingeneersError
from braingeneers.iot.shadows import Shadows

__all__ = ["ShadowPusher", "ShadowSource"]

# Logged under the device module's name, where the device's other messages go.
_log = logging.getLogger("braingeneers.iot.device")


class ShadowSource(Protocol):
    """What :class:`ShadowPusher` reads from a device (``braingeneers.iot.device.Device`` has it)."""

    device_name: str
    device_type: str

    @property
    def shadows(self) -> Shadows:
        """The shadows client the state is pushed through."""
        ...

    @property
    def device_state(self) -> dict[str, Any]:
        """The shadow content to push."""
        ...


class ShadowPusher:
    """Pushes ``device.device_state`` to the device's shadow on a thread of its own.

    Requests are coalesced (many requests while a push runs, one more push); a failed push
    (Strapi unreachable) is retried every ``retry`` seconds until it lands. The first push
    creates the device's interaction thing.

    Parameters
    ----------
    device
        The device whose state is pushed.
    retry
        Seconds between attempts while pushes fail.
    """

    def __init__(self, device: ShadowSource, retry: float) -> None:
        self.device = device
        self.retry = retry
        self._cond = threading.Condition()
        self._dirty = False
        self._busy = False
        self._closing = False
        self._created = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the pushing thread (once)."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name=f"{self.device.device_name}-shadow", daemon=True
                )
                self._thread.start()

    def request(self) -> None:
        """Ask for a push of the current state (coalesced with pending requests)."""
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no push is pending or running; return whether that happened within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._dirty and not self._busy, timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._dirty or self._closing)
                if not self._dirty:
                    return
                self._dirty, self._busy = False, True
            ok = self._push()
            with self._cond:
                self._busy = False
                if not ok:
                    self._dirty = True
                self._cond.notify_all()
                if not ok:
                    if self._closing:
                        return
                    self._cond.wait(self.retry)

    def _push(self) -> bool:
        device = self.device
        try:
            if not self._created:
                device.shadows.create_thing(device.device_name, device.device_type)
                self._created = True
            device.shadows.update_shadow(device.device_name, device.device_state)
        except (BraingeneersError, OSError) as exc:
            _log.warning("%s: shadow push failed (%s); retrying in %g s", device.device_name, exc, self.retry)
            return False
        return True

    def close(self, timeout: float) -> None:
        """Push the final state once more (one attempt, bounded by ``timeout``) and stop the thread."""
        if self._thread is None:
            return
        with self._cond:
            self._closing = True
            self._dirty = True
            self._cond.notify_all()
        self._thread.join(timeout)

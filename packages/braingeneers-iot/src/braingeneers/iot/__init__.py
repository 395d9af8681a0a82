"""Messaging and devices for the Braingeneers lab.

The MQTT/Redis ``MessageBroker``, device shadows and the ``Device`` state machine live
here. As in the legacy package, ``from braingeneers.iot import MessageBroker, Device``
works; the names are imported from their modules on first access, so importing this
package loads neither paho-mqtt nor redis.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__: str = version("braingeneers-iot")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from braingeneers.iot.device import Device
    from braingeneers.iot.messaging import MessageBroker
    from braingeneers.iot.shadows import DatabaseInteractor

_LAZY = {
    "DatabaseInteractor": "braingeneers.iot.shadows",
    "Device": "braingeneers.iot.device",
    "MessageBroker": "braingeneers.iot.messaging",
}

__all__ = ["DatabaseInteractor", "Device", "MessageBroker", "__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

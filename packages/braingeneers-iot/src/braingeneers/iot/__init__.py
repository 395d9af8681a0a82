"""Messaging and devices for the Braingeneers lab.

The MQTT/Redis ``MessageBroker``, device shadows and the ``Device`` state machine
live here. Importing this package loads neither paho-mqtt nor redis.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("braingeneers-iot")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

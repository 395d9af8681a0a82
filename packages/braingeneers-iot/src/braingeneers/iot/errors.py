"""Errors raised by the MQTT and Redis messaging layer.

All derive from :class:`braingeneers.core.errors.BraingeneersError`; a wrong MQTT or Redis
password raises :class:`braingeneers.core.errors.AuthError` and a bad setting
:class:`braingeneers.core.errors.ConfigError`, both from core.
"""

from __future__ import annotations

from braingeneers.core.errors import BraingeneersError, ConflictError

__all__ = [
    "ClientIdConflictError",
    "LockNotOwnedError",
    "MessagingError",
    "PublishError",
]


class MessagingError(BraingeneersError, ConnectionError):
    """The MQTT broker or Redis server failed, refused a request or could not be reached in time."""


class PublishError(MessagingError):
    """A message was not accepted: the offline queue stayed full, or the broker refused it."""


class ClientIdConflictError(MessagingError):
    """Another client connected with this client id and took the session over.

    The broker stops reconnecting instead of taking the id back (which would start a
    take-over loop between the two clients). Give each process its own ``name`` or
    ``client_id``.
    """


class LockNotOwnedError(ConflictError):
    """A lock was released or extended by a holder whose lease had already expired."""

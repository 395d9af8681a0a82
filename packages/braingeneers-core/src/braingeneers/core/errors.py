"""The exception hierarchy shared by every ``braingeneers.*`` distribution.

Every error the toolkit raises on bad input, bad configuration or an unreachable
service derives from :class:`BraingeneersError`, so callers can catch one type.
Messages name the file, field or host involved and say what to do about it.
Where a built-in exception has the same meaning, the error also derives from it
(``NotFoundError`` is a ``FileNotFoundError``), so code written against the
legacy package keeps catching what it caught before.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BraingeneersError",
    "ConfigError",
    "ConflictError",
    "FormatError",
    "NotFoundError",
    "StorageError",
]


class BraingeneersError(Exception):
    """Base class of every error raised by the braingeneers toolkit."""


class ConfigError(BraingeneersError, ValueError):
    """A configuration file, section, key or environment variable is missing or malformed."""


class AuthError(BraingeneersError, PermissionError):
    """A service-account token is missing, malformed, expired or was refused."""


class StorageError(BraingeneersError, OSError):
    """Reading or writing an object failed: server unreachable, refused or errored."""


class NotFoundError(StorageError, FileNotFoundError):
    """The object, file or record does not exist."""


class ConflictError(StorageError):
    """A conditional write lost a race: the object changed since it was read."""


class FormatError(BraingeneersError, ValueError):
    """A file or document does not follow its format: corrupt data or invalid metadata."""

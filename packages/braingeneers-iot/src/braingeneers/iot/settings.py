"""Connection settings for the MQTT broker and the Redis server.

Each value is taken from the first of these that sets it:

1. the argument passed to :class:`~braingeneers.iot.messaging.MessageBroker`;
2. an environment variable (below);
3. the credentials file (:mod:`braingeneers.core.config`): section ``[braingeneers-mqtt]``
   (``endpoint``, ``port``, ``profile-id``, ``profile-key``, optional ``tls``, ``ca-file``,
   ``cert-file``, ``key-file``) or ``[redis]`` (``host``, ``port``, ``username``,
   ``password``, optional ``tls``, ``ca-file``, ``db``);
4. the documented default.

=================================  =====================================  ==================
MQTT                               Redis                                  default
=================================  =====================================  ==================
``BRAINGENEERS_MQTT_HOST``         ``BRAINGENEERS_REDIS_HOST``            none (MQTT), the
                                                                          lab's Redis host
``BRAINGENEERS_MQTT_PORT``         ``BRAINGENEERS_REDIS_PORT``            1883 / 6379
``BRAINGENEERS_MQTT_USERNAME``     ``BRAINGENEERS_REDIS_USERNAME``        none
``BRAINGENEERS_MQTT_PASSWORD``     ``BRAINGENEERS_REDIS_PASSWORD``        none
``BRAINGENEERS_MQTT_TLS``          ``BRAINGENEERS_REDIS_TLS``             false
``BRAINGENEERS_MQTT_CA_FILE``      ``BRAINGENEERS_REDIS_CA_FILE``         system CAs
``BRAINGENEERS_MQTT_CERT_FILE``    (client certificates: MQTT only)       none
``BRAINGENEERS_MQTT_KEY_FILE``                                            none
=================================  =====================================  ==================

The credentials file is read only when a value is still missing after arguments and
environment, so a host given entirely by arguments needs no file. MQTT settings never
need the ``[redis]`` section and Redis settings never need ``[braingeneers-mqtt]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from braingeneers.core.config import DEFAULT_REDIS_HOST, CredentialsFile, Section
from braingeneers.core.errors import ConfigError

__all__ = ["MqttConfig", "RedisConfig"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value is not None and value.strip() != "" else None


def _env_bool(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None:
        return None
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"environment variable {name} must be true or false, not {value!r}")


def _env_int(name: str) -> int | None:
    value = _env(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, not {value!r}") from None


def _section(credentials: str | os.PathLike[str] | CredentialsFile | None, name: str) -> Section | None:
    """Return a credentials-file section, or None when the file or section is absent."""
    try:
        creds = credentials if isinstance(credentials, CredentialsFile) else CredentialsFile.load(credentials)
    except ConfigError:
        if credentials is not None:
            raise
        return None
    return creds.section(name) if name in creds else None


def _pick(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


@dataclass(frozen=True)
class MqttConfig:
    """Where and how to connect to the MQTT broker."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def resolve(
        cls,
        credentials: str | os.PathLike[str] | CredentialsFile | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: bool | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> MqttConfig:
        """Combine arguments, environment and credentials file (in that order of precedence).

        Raises
        ------
        ConfigError
            No host is set anywhere, a value is malformed, or an explicitly named
            credentials file cannot be read.
        """
        host = _pick(host, _env("BRAINGENEERS_MQTT_HOST"))
        username = _pick(username, _env("BRAINGENEERS_MQTT_USERNAME"))
        password = _pick(password, _env("BRAINGENEERS_MQTT_PASSWORD"))
        section = None
        if host is None or username is None or password is None or credentials is not None:
            section = _section(credentials, "braingeneers-mqtt")
        values = section.values if section is not None else {}
        host = _pick(host, values.get("endpoint") or None)
        if host is None:
            raise ConfigError(
                "no MQTT broker configured: pass host=..., set BRAINGENEERS_MQTT_HOST, or add "
                "'endpoint = <host>' to the [braingeneers-mqtt] section of the credentials file"
            )
        file_port = section.get_int("port", 1883) if section is not None else None
        file_tls = section.get_bool("tls", False) if section is not None else None
        return cls(
            host=host,
            port=int(_pick(port, _env_int("BRAINGENEERS_MQTT_PORT"), file_port, 1883)),
            username=_pick(username, values.get("profile-id") or None),
            password=_pick(password, values.get("profile-key") or None),
            tls=bool(_pick(tls, _env_bool("BRAINGENEERS_MQTT_TLS"), file_tls, False)),
            ca_file=_pick(ca_file, _env("BRAINGENEERS_MQTT_CA_FILE"), values.get("ca-file") or None),
            cert_file=_pick(cert_file, _env("BRAINGENEERS_MQTT_CERT_FILE"), values.get("cert-file") or None),
            key_file=_pick(key_file, _env("BRAINGENEERS_MQTT_KEY_FILE"), values.get("key-file") or None),
        )


@dataclass(frozen=True)
class RedisConfig:
    """Where and how to connect to the Redis server."""

    host: str = DEFAULT_REDIS_HOST
    port: int = 6379
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    db: int = 0
    socket_timeout: float = 10.0

    @classmethod
    def resolve(
        cls,
        credentials: str | os.PathLike[str] | CredentialsFile | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: bool | None = None,
        ca_file: str | None = None,
        db: int | None = None,
    ) -> RedisConfig:
        """Combine arguments, environment and credentials file (in that order of precedence).

        Raises
        ------
        ConfigError
            A value is malformed, or an explicitly named credentials file cannot be read.
        """
        host = _pick(host, _env("BRAINGENEERS_REDIS_HOST"))
        password = _pick(password, _env("BRAINGENEERS_REDIS_PASSWORD"))
        section = None
        if host is None or password is None or credentials is not None:
            section = _section(credentials, "redis")
        values = section.values if section is not None else {}
        file_port = section.get_int("port", 6379) if section is not None else None
        file_tls = section.get_bool("tls", False) if section is not None else None
        file_db = section.get_int("db", 0) if section is not None else None
        return cls(
            host=_pick(host, values.get("host") or None, DEFAULT_REDIS_HOST),
            port=int(_pick(port, _env_int("BRAINGENEERS_REDIS_PORT"), file_port, 6379)),
            username=_pick(username, _env("BRAINGENEERS_REDIS_USERNAME"), values.get("username") or None),
            password=_pick(password, values.get("password") or values.get("redis_password") or None),
            tls=bool(_pick(tls, _env_bool("BRAINGENEERS_REDIS_TLS"), file_tls, False)),
            ca_file=_pick(ca_file, _env("BRAINGENEERS_REDIS_CA_FILE"), values.get("ca-file") or None),
            db=int(_pick(db, _env_int("BRAINGENEERS_REDIS_DB"), file_db, 0)),
        )

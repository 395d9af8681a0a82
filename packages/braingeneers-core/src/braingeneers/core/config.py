"""The Braingeneers credentials file, parsed in one place.

The lab keeps its service settings in an INI file, by default
``~/.aws/credentials`` (the same file boto3 reads). Its location is chosen in
this order:

1. the ``path`` argument;
2. the ``BRAINGENEERS_CREDENTIALS`` environment variable;
3. the ``AWS_SHARED_CREDENTIALS_FILE`` environment variable (boto3's own);
4. ``~/.aws/credentials``.

Sections and keys (defaults in brackets):

* ``[default]`` or any other S3 profile: ``aws_access_key_id``,
  ``aws_secret_access_key``, optional ``endpoint_url``;
* ``[braingeneers-mqtt]``: ``profile-id`` (user), ``profile-key`` (password),
  ``endpoint`` (host), ``port`` [1883];
* ``[redis]``: ``host`` [``redis.braingeneers.gi.ucsc.edu``], ``port`` [6379],
  ``password`` (legacy key ``redis_password``), ``tls`` [false];
* ``[strapi]``: ``endpoint`` (base URL including ``/api``), optional ``api_key``.

A missing file, section or key, or a malformed value, raises
:class:`~braingeneers.core.errors.ConfigError` naming the file, the section and
the key. Secrets never appear in ``repr``.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from pathlib import Path

from braingeneers.core.errors import ConfigError

__all__ = [
    "CREDENTIALS_ENV",
    "CredentialsFile",
    "MqttSettings",
    "RedisSettings",
    "S3Profile",
    "Section",
    "StrapiSettings",
    "credentials_path",
]

CREDENTIALS_ENV = "BRAINGENEERS_CREDENTIALS"
_AWS_ENV = "AWS_SHARED_CREDENTIALS_FILE"
DEFAULT_REDIS_HOST = "redis.braingeneers.gi.ucsc.edu"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def credentials_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the credentials file to use, following the documented search order.

    Parameters
    ----------
    path
        An explicit location; wins over every environment variable.

    Returns
    -------
    pathlib.Path
        The chosen location, with ``~`` expanded. It may not exist.
    """
    chosen = path or os.environ.get(CREDENTIALS_ENV) or os.environ.get(_AWS_ENV) or "~/.aws/credentials"
    return Path(chosen).expanduser()


@dataclass(frozen=True)
class Section:
    """One section of the credentials file, with typed access that names what is wrong."""

    file: Path
    name: str
    values: dict[str, str] = field(repr=False)

    def _where(self, key: str) -> str:
        return f"{self.file}, section [{self.name}], key '{key}'"

    def get(self, key: str) -> str:
        """Return a value as text; raise :class:`~braingeneers.core.errors.ConfigError` if it is absent."""
        if key not in self.values:
            raise ConfigError(f"{self._where(key)} is missing: add '{key} = ...' to that section")
        return self.values[key]

    def require(self, *keys: str) -> str:
        """Return the first of ``keys`` that is present and non-empty, else raise a ``ConfigError``."""
        for key in keys:
            value = self.values.get(key, "").strip()
            if value:
                return value
        alternatives = " or ".join(f"'{k}'" for k in keys)
        raise ConfigError(f"{self._where(keys[0])} is missing or empty: set {alternatives} in that section")

    def get_int(self, key: str, default: int | None = None) -> int:
        """Return an integer value; raise a ``ConfigError`` if absent (and no default) or malformed."""
        raw = self.values.get(key)
        if raw is None or not raw.strip():
            if default is None:
                raise ConfigError(f"{self._where(key)} is missing: add '{key} = <integer>'")
            return default
        try:
            return int(raw.strip())
        except ValueError:
            raise ConfigError(f"{self._where(key)} must be an integer, not {raw.strip()!r}") from None

    def get_bool(self, key: str, default: bool = False) -> bool:
        """Return a boolean value (true/false, yes/no, on/off, 1/0)."""
        raw = self.values.get(key)
        if raw is None:
            return default
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{self._where(key)} must be true or false, not {raw.strip()!r}")


@dataclass(frozen=True)
class S3Profile:
    """Keys of one S3 profile (``[default]`` unless another is named)."""

    name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    endpoint_url: str | None = None


@dataclass(frozen=True)
class MqttSettings:
    """The ``[braingeneers-mqtt]`` section."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class RedisSettings:
    """The ``[redis]`` section."""

    host: str
    port: int
    password: str | None = field(repr=False)
    tls: bool = False


@dataclass(frozen=True)
class StrapiSettings:
    """The ``[strapi]`` section."""

    endpoint: str
    api_key: str | None = field(default=None, repr=False)


class CredentialsFile:
    """A parsed credentials file.

    Parameters
    ----------
    path
        The file's location.
    sections
        Section name → key → value, as read.

    Examples
    --------
    >>> creds = CredentialsFile.load()                   # doctest: +SKIP
    >>> creds.mqtt().host                                # doctest: +SKIP
    'mqtt.braingeneers.gi.ucsc.edu'
    """

    def __init__(self, path: Path, sections: dict[str, dict[str, str]]) -> None:
        self.path = path
        self._sections = sections

    def __repr__(self) -> str:
        return f"CredentialsFile({str(self.path)!r}, sections={sorted(self._sections)})"

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> CredentialsFile:
        """Read the credentials file chosen by :func:`credentials_path`.

        Raises
        ------
        ConfigError
            The file does not exist, cannot be read, or is not valid INI.
        """
        location = credentials_path(path)
        try:
            text = location.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"credentials file {location} does not exist: create it, or point "
                f"{CREDENTIALS_ENV} (or the credentials argument) at the lab's credentials file"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"credentials file {location} cannot be read: {exc}") from None
        parser = configparser.ConfigParser(interpolation=None, default_section="__no_defaults__")
        try:
            parser.read_string(text, source=str(location))
        except configparser.Error as exc:
            first_line = str(exc).splitlines()[0]
            raise ConfigError(
                f"credentials file {location} is not a valid INI file ({first_line}); fix or regenerate it"
            ) from None
        sections = {name: dict(parser.items(name)) for name in parser.sections()}
        return cls(location, sections)

    @property
    def sections(self) -> list[str]:
        """Names of the sections present."""
        return list(self._sections)

    def __contains__(self, name: object) -> bool:
        return name in self._sections

    def section(self, name: str) -> Section:
        """Return section ``name``; raise a ``ConfigError`` naming the file if it is absent."""
        if name not in self._sections:
            raise ConfigError(
                f"{self.path} has no section [{name}] (found: {', '.join(self.sections) or 'none'}); "
                f"add it to the credentials file"
            )
        return Section(self.path, name, self._sections[name])

    def s3_profile(self, name: str = "default") -> S3Profile:
        """Return the keys of S3 profile ``name``."""
        section = self.section(name)
        return S3Profile(
            name=name,
            access_key_id=section.require("aws_access_key_id"),
            secret_access_key=section.require("aws_secret_access_key"),
            endpoint_url=section.values.get("endpoint_url") or None,
        )

    def mqtt(self) -> MqttSettings:
        """Return the ``[braingeneers-mqtt]`` settings."""
        section = self.section("braingeneers-mqtt")
        return MqttSettings(
            host=section.require("endpoint"),
            port=section.get_int("port", 1883),
            username=section.require("profile-id"),
            password=section.require("profile-key"),
        )

    def redis(self) -> RedisSettings:
        """Return the ``[redis]`` settings."""
        section = self.section("redis")
        password = section.values.get("password") or section.values.get("redis_password") or None
        return RedisSettings(
            host=section.values.get("host") or DEFAULT_REDIS_HOST,
            port=section.get_int("port", 6379),
            password=password,
            tls=section.get_bool("tls", False),
        )

    def strapi(self) -> StrapiSettings:
        """Return the ``[strapi]`` settings."""
        section = self.section("strapi")
        return StrapiSettings(
            endpoint=section.require("endpoint").rstrip("/"),
            api_key=section.values.get("api_key") or None,
        )

"""Where Braingeneers data lives: an S3-compatible service or a local mirror of it.

The endpoint is process-wide. It is, in order of precedence:

1. the last :func:`set_default_endpoint` call in this process;
2. the ``ENDPOINT`` environment variable;
3. ``DEFAULT_ENDPOINT`` (``https://s3.braingeneers.gi.ucsc.edu``).

An endpoint is either an ``http://`` / ``https://`` URL of an S3-compatible
service (the lab's Ceph on the PRP, the PRP-internal
``http://rook-ceph-rgw-nautiluss3.rook``, AWS, ...) or a local directory,
absolute or relative (a relative one is resolved against the working directory
when it is set), optionally written as ``file:///path``.

**The local-mirror mapping.** A local directory endpoint mirrors the lab's
bucket, ``braingeneers``: ``s3://braingeneers/<key>`` is the file
``<root>/<key>``, so a mirror keeps ``<root>/ephys/<uuid>/metadata.json`` exactly
as the legacy package did, and the same code and the same ``s3://`` URIs work
against S3 and against the mirror. A URI of another bucket cannot be mapped and
raises :class:`~braingeneers.core.errors.ConfigError`; use a plain path for
such files. Plain local paths always mean themselves, whatever the endpoint.

:func:`set_default_endpoint` also writes ``ENDPOINT`` (and
``BRAINGENEERS_VERIFY_SSL``) into ``os.environ``, so worker processes started
afterwards, forked or spawned, use the same endpoint, and it bumps
:func:`endpoint_generation` and calls the callbacks registered with
:func:`on_endpoint_change`, so every client built for the old endpoint is
rebuilt before its next use.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from braingeneers.core.errors import ConfigError

__all__ = [
    "DEFAULT_ENDPOINT",
    "ENDPOINT_ENV",
    "MIRROR_BUCKET",
    "Endpoint",
    "current_endpoint",
    "endpoint_generation",
    "get_default_endpoint",
    "local_path",
    "on_endpoint_change",
    "parse_endpoint",
    "set_default_endpoint",
    "to_uri",
]

DEFAULT_ENDPOINT = "https://s3.braingeneers.gi.ucsc.edu"
ENDPOINT_ENV = "ENDPOINT"
VERIFY_SSL_ENV = "BRAINGENEERS_VERIFY_SSL"
MIRROR_BUCKET = "braingeneers"

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_current: Endpoint | None = None
_generation = 0
_listeners: list[Callable[[Endpoint], None]] = []


@dataclass(frozen=True)
class Endpoint:
    """A parsed endpoint: an S3 service URL or a local mirror root.

    Attributes
    ----------
    url
        The S3 service URL, or ``None`` for a local mirror.
    root
        The absolute mirror directory, or ``None`` for an S3 service.
    verify_ssl_cert
        Whether TLS certificates of the S3 service are verified.
    """

    url: str | None = None
    root: Path | None = None
    verify_ssl_cert: bool = True

    @property
    def is_local(self) -> bool:
        """Whether this endpoint is a local directory."""
        return self.root is not None

    def __str__(self) -> str:
        return str(self.root) if self.root is not None else str(self.url)


def parse_endpoint(text: str | os.PathLike[str], verify_ssl_cert: bool = True) -> Endpoint:
    """Parse an endpoint string: an ``http(s)://`` URL or a local directory.

    Raises
    ------
    ~braingeneers.core.errors.ConfigError
        The value is empty or uses another scheme (``s3://``, ``ftp://``, ...).
    """
    value = os.fspath(text).strip()
    if not value:
        raise ConfigError(f"empty endpoint: set {ENDPOINT_ENV} to an https:// URL or a local directory")
    scheme = urlsplit(value).scheme.lower()
    if scheme in {"http", "https"}:
        parts = urlsplit(value)
        if not parts.hostname:
            raise ConfigError(f"endpoint {value!r} has no host name: expected e.g. {DEFAULT_ENDPOINT}")
        return Endpoint(url=value.rstrip("/"), verify_ssl_cert=verify_ssl_cert)
    if scheme == "file":
        return Endpoint(root=Path(unquote(urlsplit(value).path)).resolve(), verify_ssl_cert=verify_ssl_cert)
    if scheme and len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise ConfigError(
            f"endpoint {value!r} has unsupported scheme '{scheme}://': use the http(s):// URL of an "
            f"S3-compatible service or a local directory (check {ENDPOINT_ENV} and set_default_endpoint)"
        )
    return Endpoint(root=Path(value).expanduser().resolve(), verify_ssl_cert=verify_ssl_cert)


def current_endpoint() -> Endpoint:
    """Return the endpoint in force (see the module documentation for the precedence)."""
    if _current is not None:
        return _current
    verify = os.environ.get(VERIFY_SSL_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}
    return parse_endpoint(os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT, verify)


def get_default_endpoint() -> str:
    """Return the endpoint in force as a string: an S3 URL or an absolute directory."""
    return str(current_endpoint())


def set_default_endpoint(
    endpoint: str | os.PathLike[str] | None = None, verify_ssl_cert: bool = True
) -> None:
    """Point every client of this process, and worker processes started later, at ``endpoint``.

    Parameters
    ----------
    endpoint
        An ``http(s)://`` S3 URL or a local directory. ``None`` means the
        ``ENDPOINT`` environment variable, or ``DEFAULT_ENDPOINT``.
    verify_ssl_cert
        Verify the S3 service's TLS certificate (turn off only for test servers).

    Raises
    ------
    ~braingeneers.core.errors.ConfigError
        The endpoint cannot be parsed.
    """
    global _current, _generation  # noqa: PLW0603 - the endpoint is process-wide by design
    parsed = parse_endpoint(endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT, verify_ssl_cert)
    with _lock:
        _current = parsed
        _generation += 1
        os.environ[ENDPOINT_ENV] = str(parsed)
        os.environ[VERIFY_SSL_ENV] = "1" if verify_ssl_cert else "0"
        listeners = list(_listeners)
    _log.info("endpoint set to %s", parsed)
    for callback in listeners:
        callback(parsed)


def endpoint_generation() -> int:
    """Return a counter bumped by every :func:`set_default_endpoint`; clients rebuild when it changes."""
    return _generation


def on_endpoint_change(callback: Callable[[Endpoint], None]) -> Callable[[Endpoint], None]:
    """Register ``callback`` to run with the new :class:`Endpoint` after every change.

    Returns the callback, so it can be used as a decorator.
    """
    with _lock:
        _listeners.append(callback)
    return callback


def local_path(uri: str | os.PathLike[str], endpoint: Endpoint | None = None) -> Path | None:
    """Map ``uri`` to a local file, or return ``None`` when it must be fetched from S3.

    Plain paths and ``file://`` URIs always map to themselves. ``s3://`` URIs map
    into a local mirror endpoint (``s3://braingeneers/<key>`` → ``<root>/<key>``)
    and stay remote (``None``) under an S3 endpoint.

    Raises
    ------
    ~braingeneers.core.errors.ConfigError
        An ``s3://`` URI of another bucket under a local mirror, or an unsupported scheme.
    """
    if not isinstance(uri, str):
        return Path(os.fspath(uri))
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme or len(scheme) == 1:
        return Path(uri).expanduser()
    if scheme == "file":
        return Path(unquote(parts.path))
    if scheme != "s3":
        raise ConfigError(f"{uri!r}: unsupported scheme '{scheme}://'; use s3:// URIs or local paths")
    where = endpoint or current_endpoint()
    if where.root is None:
        return None
    if parts.netloc != MIRROR_BUCKET:
        raise ConfigError(
            f"{uri!r} is in bucket '{parts.netloc}', but the local endpoint {where.root} mirrors only "
            f"s3://{MIRROR_BUCKET}/: use a plain local path for this file, or an S3 endpoint"
        )
    key = PurePosixPath(unquote(parts.path.lstrip("/")))
    if ".." in key.parts:
        raise ConfigError(f"{uri!r}: '..' is not allowed in an object key")
    return where.root.joinpath(*key.parts)


def to_uri(path: str | os.PathLike[str], endpoint: Endpoint | None = None) -> str:
    """Return the ``s3://braingeneers/...`` URI of a file inside a local mirror.

    Raises
    ------
    ~braingeneers.core.errors.ConfigError
        The endpoint is not a local mirror, or ``path`` lies outside it.
    """
    where = endpoint or current_endpoint()
    if where.root is None:
        raise ConfigError(
            f"endpoint {where} is not a local directory: there is no mirror to map {path!r} from"
        )
    absolute = Path(path).expanduser().resolve()
    try:
        relative = absolute.relative_to(where.root)
    except ValueError:
        raise ConfigError(f"{absolute} is outside the local endpoint {where.root}") from None
    return f"s3://{MIRROR_BUCKET}/{relative.as_posix()}"

"""Opening Redis connections and turning redis-py failures into typed errors.

Every connection has a socket timeout and a connect timeout, so no call hangs;
blocking commands wait in slices shorter than the socket timeout. Nothing here needs
an admin command: the client works under a least-privilege ACL user.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from braingeneers.core.errors import AuthError
from braingeneers.iot.errors import MessagingError
from braingeneers.iot.settings import RedisConfig

if TYPE_CHECKING:
    import redis

__all__ = ["BLOCK_SLICE", "SOCKET_TIMEOUT", "connect", "redis_errors"]

SOCKET_TIMEOUT = 10.0
"""Seconds any single Redis reply may take."""

BLOCK_SLICE = 5.0
"""Longest single server-side wait of a blocking command (below ``SOCKET_TIMEOUT``)."""


def connect(config: RedisConfig, socket_timeout: float = SOCKET_TIMEOUT) -> redis.Redis:
    """Return a redis-py client for ``config`` (connections open lazily, bytes replies)."""
    import redis

    return redis.Redis(
        host=config.host,
        port=config.port,
        db=config.db,
        username=config.username,
        password=config.password,
        ssl=config.tls,
        ssl_ca_certs=config.ca_file if config.tls else None,
        socket_timeout=socket_timeout,
        socket_connect_timeout=5.0,
        health_check_interval=15,
        decode_responses=False,
    )


@contextlib.contextmanager
def redis_errors(what: str, config: RedisConfig | None = None) -> Iterator[None]:
    """Re-raise redis-py errors inside the block as ``AuthError`` or ``MessagingError`` naming ``what``."""
    import redis.exceptions as rex

    where = f" on {config.host}:{config.port}" if config is not None else ""
    try:
        yield
    except (rex.AuthenticationError, rex.AuthenticationWrongNumberOfArgsError) as exc:
        raise AuthError(
            f"Redis{where} refused the credentials for {what}: {exc}; check [redis] username/password"
        ) from exc
    except rex.NoPermissionError as exc:
        raise AuthError(f"the Redis user may not run {what}{where}: {exc}") from exc
    except (rex.ConnectionError, rex.TimeoutError) as exc:
        raise MessagingError(f"Redis{where} unreachable or too slow during {what}: {exc}") from exc

"""Opening Redis connections and turning redis-py failures into typed errors.

Every connection has a socket timeout (``RedisConfig.socket_timeout``, 10 s) and a
connect timeout, so no call hangs; blocking commands wait in slices shorter than the
socket timeout. Nothing here needs
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

__all__ = ["BLOCK_SLICE", "RETRIES", "block_slice", "connect", "redis_errors"]

RETRIES = 2
"""Retries of a Redis call after a dropped connection or a timeout."""

BLOCK_SLICE = 5.0
"""Longest single server-side wait of a blocking command (and at most half the socket timeout)."""


def block_slice(client: redis.Redis) -> float:
    """Return the longest server-side wait that stays below ``client``'s socket timeout."""
    timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
    return BLOCK_SLICE if not timeout else min(BLOCK_SLICE, float(timeout) / 2)


def connect(config: RedisConfig) -> redis.Redis:
    """Return a redis-py client for ``config`` (connections open lazily, bytes replies)."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis(
        host=config.host,
        port=config.port,
        db=config.db,
        username=config.username,
        password=config.password,
        ssl=config.tls,
        ssl_ca_certs=config.ca_file if config.tls else None,
        socket_timeout=config.socket_timeout,
        socket_connect_timeout=min(5.0, config.socket_timeout),
        health_check_interval=15,
        # Two retries after a dropped connection or a timeout, 0.1-1 s apart: a call fails
        # after at most about three socket timeouts plus a second.
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), RETRIES),
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

"""Redis streams: append entries, read them back, and listen for new ones.

A :class:`StreamListener` reads with ``XREAD BLOCK`` from the last id it has seen on each
stream, so it resumes exactly where it stopped after a Redis outage or restart (as far
as the server still holds the entries): it logs the outage, retries with a backoff of up
to 5 s, and never dies. It runs the callback on its own thread; an exception in the
callback is logged and the entry counts as seen. :meth:`StreamListener.stop` ends it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from braingeneers.iot.redis_client import block_slice, redis_errors

if TYPE_CHECKING:
    import redis

__all__ = ["StreamListener", "poll", "publish"]

logger = logging.getLogger(__name__)


def publish(
    client: redis.Redis,
    stream_name: str,
    data: Mapping[str | bytes, Any],
    stream_size: int | None = None,
    exact: bool = False,
) -> bytes:
    """Append ``data`` to ``stream_name`` and return the new entry's id.

    Parameters
    ----------
    stream_size
        Keep about this many newest entries (``MAXLEN ~``: Redis trims whole nodes, so a
        few more may stay); None keeps everything.
    exact
        Trim to exactly ``stream_size`` (slower on the server).
    """
    fields = {(k.encode("utf-8") if isinstance(k, str) else k): v for k, v in data.items()}
    with redis_errors(f"XADD to stream {stream_name!r}"):
        return bytes(
            client.xadd(
                stream_name,
                fields,  # type: ignore[arg-type]
                maxlen=stream_size,
                approximate=not exact,
            )
        )


def poll(client: redis.Redis, stream_dict: Mapping[str, str | bytes], count: int = -1) -> list[Any]:
    """Read entries after the given ids without blocking (``XREAD`` is already exclusive).

    ``"-"`` and ``"0-0"`` read from the start. Returns redis-py's
    ``[[stream, [(id, {field: value}), ...]], ...]``.
    """
    streams: dict[Any, Any] = {
        name: ("0-0" if last in ("-", b"-") else last) for name, last in stream_dict.items()
    }
    with redis_errors(f"XREAD of {', '.join(stream_dict)}"):
        answer = client.xread(streams, count=None if count is None or count < 0 else count)
    return list(answer or [])


class StreamListener:
    """A thread that calls ``callback(stream_name, fields)`` for each new entry of some streams.

    Calling the listener calls the callback (so code that kept the legacy return value,
    the callback, keeps working).

    Parameters
    ----------
    client
        A redis-py client.
    streams
        Stream names.
    callback
        Called with the stream name and the entry's fields (bytes keys and values).
    include_existing
        Start from the beginning of each stream, else after its newest entry now.
    block_ms
        Longest single wait on the server; bounds how fast :meth:`stop` takes effect.
    """

    def __init__(
        self,
        client: redis.Redis,
        streams: Iterable[str],
        callback: Callable[[str, dict[bytes, bytes]], object],
        include_existing: bool = True,
        block_ms: int = 1000,
    ) -> None:
        self.streams = list(streams)
        self.callback = callback
        self.block_ms = min(block_ms, int(block_slice(client) * 1000))
        self.errors = 0
        self.outages = 0
        self._client = client
        self._include_existing = include_existing
        self.last_ids: dict[str, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"redis-stream-{'+'.join(self.streams)}", daemon=True
        )

    def __call__(self, stream_name: str, fields: dict[bytes, bytes]) -> object:
        """Call the callback."""
        return self.callback(stream_name, fields)

    def __repr__(self) -> str:
        return f"StreamListener({self.streams!r}, running={self.is_running})"

    @property
    def is_running(self) -> bool:
        """Whether the listener thread is alive."""
        return self._thread.is_alive()

    def start(self) -> StreamListener:
        """Resolve the starting ids, then start the thread; return self."""
        for name in self.streams:
            if self._include_existing:
                self.last_ids[name] = b"0-0"
            else:
                with redis_errors(f"XREVRANGE of stream {name!r}"):
                    newest: Any = self._client.xrevrange(name, count=1)
                self.last_ids[name] = bytes(newest[0][0]) if newest else b"0-0"
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop listening and wait (up to ``timeout`` s) for the thread to end."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        import redis.exceptions as rex

        backoff = 0.1
        down = False
        while not self._stop.is_set():
            try:
                answer: Any = self._client.xread(
                    dict(self.last_ids),  # type: ignore[arg-type]
                    count=500,
                    block=self.block_ms,
                )
            except (rex.ConnectionError, rex.TimeoutError, OSError) as exc:
                if not down:
                    self.outages += 1
                    logger.warning("stream listener %s: Redis unreachable (%s); retrying", self.streams, exc)
                down = True
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:  # a bug or an odd server answer must not kill the listener
                if self._stop.is_set():
                    return
                logger.exception("stream listener %s: unexpected error; retrying", self.streams)
                self._stop.wait(1.0)
                continue
            if down:
                logger.info(
                    "stream listener %s: Redis is back; resuming after %s", self.streams, self.last_ids
                )
                down = False
            backoff = 0.1
            for raw_name, entries in answer or []:
                name = raw_name.decode("utf-8") if isinstance(raw_name, bytes) else str(raw_name)
                for entry_id, fields in entries:
                    if self._stop.is_set():
                        return
                    try:
                        self.callback(name, fields)
                    except Exception:
                        self.errors += 1
                        logger.exception("stream callback for %r raised; continuing", name)
                    self.last_ids[name] = bytes(entry_id)

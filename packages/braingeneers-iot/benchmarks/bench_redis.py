"""Benchmark: NamedQueue put/get and NamedLock beside bare redis-py, through a local redis-server.

* queue: ``NamedQueue.put`` (one Lua call: bounded check, LPUSH, counters, TTLs) and
  ``NamedQueue.get`` (BRPOP) of small JSON items, against bare ``LPUSH`` of the same JSON
  and bare ``BRPOP``;
* lock: uncontended ``NamedLock`` acquire+release (SET NX PX, INCR fence, compare-and-delete
  script, renewal thread start/stop) against redis-py's own ``Lock``.

Single client, sequential, loopback: this measures per-operation overhead over one round
trip. ``ratio`` is ours/bare in operations per second (above 1 means ours is faster).

Usage: ``python bench_redis.py [--quick]``. Needs Debian's redis-server.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from braingeneers.iot.messaging import MessageBroker
from braingeneers.iot.settings import RedisConfig


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [*argv, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start")


def _rate(count: int, op: Callable[[int], object]) -> float:
    best = 0.0
    for _ in range(2):
        started = time.perf_counter()
        for i in range(count):
            op(i)
        best = max(best, count / (time.perf_counter() - started))
    return best


def main() -> None:
    quick = "--quick" in sys.argv
    n = 3_000 if quick else 20_000
    item = {"well": "A1", "frame": 123, "values": [1.5, 2.5, 3.5]}
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = _start_redis(Path(tmp))
        try:
            bare = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
            mb = MessageBroker(redis_config=RedisConfig(host="127.0.0.1", port=port))
            q = mb.get_queue("bench", maxsize=0)
            bounded = mb.get_queue("bench-bounded", maxsize=n * 4)
            payload = json.dumps(item)
            rows = [
                (
                    "queue put ops/s",
                    _rate(n, lambda i: q.put(item)),
                    _rate(n, lambda i: bare.lpush("bare", payload)),
                ),
                (
                    "queue get ops/s",
                    _rate(n, lambda i: q.get(timeout=1)),
                    _rate(n, lambda i: bare.brpop(["bare"], 1)),
                ),
                (
                    "bounded put ops/s",
                    _rate(n, lambda i: bounded.put(item)),
                    _rate(n, lambda i: bare.lpush("b2", payload)),
                ),
            ]
            lock_n = max(300, n // 10)
            ours_lock = mb.get_lock("bench-lock", lease=30)
            bare_lock = bare.lock("bare-lock", timeout=30)

            def ours_cycle(i: int) -> None:
                ours_lock.acquire()
                ours_lock.release()

            def bare_cycle(i: int) -> None:
                bare_lock.acquire()
                bare_lock.release()

            rows.append(("lock acquire+release/s", _rate(lock_n, ours_cycle), _rate(lock_n, bare_cycle)))
            mb.shutdown()
            bare.close()
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"\nRedis through local redis-server ({'quick' if quick else 'full'} run, {n} operations)")
    print(f"{'measure':<24}{'ours':>12}{'bare redis-py':>15}{'ratio':>8}")
    for name, ours, base in rows:
        print(f"{name:<24}{ours:>12,.0f}{base:>15,.0f}{ours / base:>8.2f}")
    print("bare: LPUSH/BRPOP of the same JSON, redis-py Lock (no lease renewal, no fencing token)")


if __name__ == "__main__":
    main()

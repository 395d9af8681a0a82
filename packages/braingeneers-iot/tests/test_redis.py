"""Redis queues, locks and streams against a real redis-server with a least-privilege ACL user."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from iot_servers import REDIS_PASSWORD, REDIS_USER, RedisServer, wait_until

from braingeneers.core.errors import AuthError, FormatError
from braingeneers.iot.errors import LockNotOwnedError

pytestmark = [pytest.mark.services, pytest.mark.timeout(180)]


def test_acl_user_has_no_admin_rights_and_wrong_password_is_auth_error(make_redis_broker: Any) -> None:
    import redis.exceptions

    mb = make_redis_broker()
    with pytest.raises(redis.exceptions.NoPermissionError):
        mb.redis_client.config_set("notify-keyspace-events", "t")
    q = mb.get_queue("acl-check")  # works without any admin command
    q.put(1)
    assert q.get(timeout=1) == 1
    bad = make_redis_broker(password="wrong")
    with pytest.raises(AuthError, match="refused the credentials"):
        bad.get_queue("x").put(1)


def test_queue_round_trips_json_items(make_redis_broker: Any) -> None:
    q = make_redis_broker().get_queue("rt")
    items = [{"a": [1, 2.5, None, True]}, "42", 42, [1, "x"], None, "", {"nested": {"k": "ü"}}]
    for item in items:
        q.put(item)
    assert [q.get(timeout=1) for _ in items] == items
    assert q.empty()
    with pytest.raises(FormatError, match="not json-serializable"):
        q.put(object())


def test_queue_msgpack_keeps_bytes(make_redis_broker: Any) -> None:
    q = make_redis_broker().get_queue("mp", serializer="msgpack")
    q.put({"raw": b"\x00\xff", "n": 3})
    assert q.get(timeout=1) == {"raw": b"\x00\xff", "n": 3}


def test_get_really_blocks_for_its_timeout_and_get_nowait_returns_the_item(make_redis_broker: Any) -> None:
    q = make_redis_broker().get_queue("block")
    started = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(timeout=1.5)
    assert 1.4 < time.monotonic() - started < 3
    with pytest.raises(queue.Empty):
        q.get_nowait()
    q.put("x")
    assert q.get_nowait() == "x"
    threading.Timer(0.5, q.put, args=("late",)).start()
    started = time.monotonic()
    assert q.get(timeout=5) == "late"
    assert 0.4 < time.monotonic() - started < 2


def test_maxsize_holds_across_handles_and_put_times_out(make_redis_broker: Any) -> None:
    mb = make_redis_broker()
    first = mb.get_queue("bounded", maxsize=2)
    second = make_redis_broker().get_queue("bounded", maxsize=5)  # the first handle fixed maxsize
    assert second.maxsize == 2
    for _ in range(3):
        with pytest.raises(queue.Empty):
            second.get(block=False)  # empty gets hand out no capacity
    first.put(1)
    second.put(2)
    assert first.full()
    with pytest.raises(queue.Full):
        second.put_nowait(3)
    started = time.monotonic()
    with pytest.raises(queue.Full):
        first.put(3, timeout=1)
    assert 0.9 < time.monotonic() - started < 2.5
    assert second.qsize() == 2
    assert first.get(timeout=1) == 1
    second.put(3, timeout=1)
    assert [second.get(timeout=1), second.get(timeout=1)] == [2, 3]


def test_unbounded_queue_is_never_full(make_redis_broker: Any) -> None:
    q = make_redis_broker().get_queue("unbounded", maxsize=None)
    assert not q.full()
    q.put(1)
    assert not q.full()


def test_join_and_task_done_across_handles(make_redis_broker: Any) -> None:
    producer = make_redis_broker().get_queue("jobs")
    consumer = make_redis_broker().get_queue("jobs")
    producer.join(timeout=1)  # nothing put yet
    for i in range(3):
        producer.put(i)
    with pytest.raises(TimeoutError, match="3 unfinished"):
        producer.join(timeout=0.3)

    def work() -> None:
        for _ in range(3):
            consumer.get(timeout=5)
            time.sleep(0.05)
            consumer.task_done()

    threading.Thread(target=work).start()
    producer.join(timeout=10)
    with pytest.raises(ValueError, match="too many times"):
        consumer.task_done()


def test_four_producers_four_consumers_lose_and_duplicate_nothing(make_redis_broker: Any) -> None:
    total, producers, consumers, maxsize = 10_000, 4, 4, 200
    name = "many"
    make_redis_broker().get_queue(name, maxsize=maxsize)
    received: list[list[int]] = [[] for _ in range(consumers)]
    over_capacity: list[int] = []
    done = threading.Event()

    def produce(k: int) -> None:
        q = make_redis_broker().get_queue(name)
        for i in range(k, total, producers):
            q.put(i, timeout=30)

    def consume(k: int) -> None:
        q = make_redis_broker().get_queue(name)
        while True:
            try:
                received[k].append(q.get(timeout=0.5))
                q.task_done()
            except queue.Empty:
                if done.is_set():
                    return

    def watch() -> None:
        q = make_redis_broker().get_queue(name)
        while not done.is_set():
            size = q.qsize()
            if size > maxsize:
                over_capacity.append(size)
            time.sleep(0.01)

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(producers)]
    threads += [threading.Thread(target=consume, args=(k,)) for k in range(consumers)]
    watcher = threading.Thread(target=watch)
    for t in [*threads, watcher]:
        t.start()
    for t in threads[:producers]:
        t.join(120)
    make_redis_broker().get_queue(name).join(timeout=60)
    done.set()
    for t in [*threads, watcher]:
        t.join(30)
    flat = [i for part in received for i in part]
    assert len(flat) == total  # none lost, none duplicated
    assert sorted(flat) == list(range(total))
    assert over_capacity == []
    assert sum(1 for part in received if part) == consumers  # all consumers took part


def test_delete_queue(make_redis_broker: Any) -> None:
    mb = make_redis_broker()
    q = mb.get_queue("gone", maxsize=3)
    q.put(1)
    mb.delete_queue("gone")
    assert q.qsize() == 0
    assert mb.get_queue("gone").maxsize == 0


# ------------------------------------------------------------------ locks
def test_lock_basics_context_manager_and_fence(make_redis_broker: Any) -> None:
    mb = make_redis_broker()
    lock = mb.get_lock("basic", lease=5)
    other = make_redis_broker().get_lock("basic", lease=5)
    with lock as held:
        assert held is lock
        assert lock.locked()
        assert other.acquire(blocking=False) is False
        started = time.monotonic()
        assert other.acquire(timeout=0.5) is False
        assert 0.4 < time.monotonic() - started < 1.5
        first_fence = lock.fence
    assert not lock.locked()
    assert other.acquire(timeout=1)
    assert other.fence is not None
    assert first_fence is not None
    assert other.fence > first_fence
    other.release()
    with pytest.raises(RuntimeError, match="does not hold"):
        other.release()


def test_lease_is_renewed_while_held(make_redis_broker: Any) -> None:
    lock = make_redis_broker().get_lock("renewed", lease=1.0)
    other = make_redis_broker().get_lock("renewed", lease=1.0)
    assert lock.acquire()
    assert other.acquire(timeout=3.5) is False  # more than 3 leases: renewal keeps it
    lock.release()
    assert other.acquire(timeout=1)
    other.release()


def test_holder_past_its_lease_cannot_release_the_next_holders_lock(make_redis_broker: Any) -> None:
    from braingeneers.iot.redis_lock import NamedLock

    mb = make_redis_broker()
    stale = NamedLock(mb.redis_client, "lease", lease=0.3, renew=False)
    assert stale.acquire()
    time.sleep(0.5)
    fresh = make_redis_broker().get_lock("lease", lease=10)
    assert fresh.acquire(timeout=1)
    with pytest.raises(LockNotOwnedError, match="expired"):
        stale.release()
    assert fresh.locked()  # still held by the fresh holder
    fresh.release()


def test_delete_lock_resets_it(make_redis_broker: Any) -> None:
    mb = make_redis_broker()
    lock = mb.get_lock("reset", lease=30)
    assert lock.acquire()
    mb.delete_lock("reset")
    assert mb.get_lock("reset").acquire(timeout=1)


def _worker_script(port: int, body: str) -> str:
    return textwrap.dedent(
        f"""
        import sys, time
        from braingeneers.iot.messaging import MessageBroker
        from braingeneers.iot.settings import RedisConfig
        mb = MessageBroker(redis_config=RedisConfig(
            host="127.0.0.1", port={port}, username={REDIS_USER!r}, password={REDIS_PASSWORD!r}))
        r = mb.redis_client
        """
    ) + textwrap.dedent(body)


def test_eight_processes_never_overlap_in_the_lock(redis_server: RedisServer, make_redis_broker: Any) -> None:
    body = """
    lock = mb.get_lock("contended", lease=5)
    overlaps = 0
    for _ in range(500):
        with lock:
            if r.incr("inside") != 1:
                overlaps += 1
            r.incr("total")
            r.decr("inside")
    print(overlaps)
    """
    script = _worker_script(redis_server.port, body)
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(8)
    ]
    outs = [p.communicate(timeout=150)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8
    assert [int(o.strip()) for o in outs] == [0] * 8
    r = make_redis_broker().redis_client
    assert int(r.get("total")) == 8 * 500


def test_sigkilled_holders_lock_is_freed_after_its_lease(
    redis_server: RedisServer, make_redis_broker: Any
) -> None:
    body = """
    lock = mb.get_lock("crash", lease=1.5)
    lock.acquire()
    print("held", flush=True)
    time.sleep(60)
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _worker_script(redis_server.port, body)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        lock = make_redis_broker().get_lock("crash", lease=5)
        assert lock.acquire(timeout=2.5) is False  # renewed while the holder lives
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        started = time.monotonic()
        assert lock.acquire(timeout=5)
        assert time.monotonic() - started < 1.5 + 1.5  # the lease, plus slack for a loaded machine
        lock.release()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


# ---------------------------------------------------------------- streams
def test_poll_data_streams_is_exclusive(make_redis_broker: Any) -> None:
    mb = make_redis_broker()
    r = mb.redis_client
    for seq in (8, 9, 10, 19, 20, 110):
        r.xadd("ids", {"seq": seq}, id=f"1-{seq}")
    after = mb.poll_data_streams({"ids": "1-19"})
    assert [e[0] for e in after[0][1]] == [b"1-20", b"1-110"]
    assert [e[0] for e in mb.poll_data_streams({"ids": "1-9"})[0][1]] == [b"1-10", b"1-19", b"1-20", b"1-110"]
    assert len(mb.poll_data_streams({"ids": "-"})[0][1]) == 6
    assert len(mb.poll_data_streams({"ids": "0-0"}, count=2)[0][1]) == 2
    assert mb.poll_data_streams({"ids": "1-110"}) == []


def test_publish_data_stream_trims_and_encodes_keys(make_redis_broker: Any) -> None:
    mb = make_redis_broker()
    for i in range(300):
        mb.publish_data_stream("trim", {"i": str(i), b"raw": b"\x00"}, stream_size=10)
    r = mb.redis_client
    assert 10 <= r.xlen("trim") < 300  # MAXLEN ~ trims whole nodes
    newest = r.xrevrange("trim", count=1)[0][1]
    assert newest == {b"i": b"299", b"raw": b"\x00"}


def test_stream_listener_existing_new_stop_and_legacy_call(make_redis_broker: Any) -> None:
    mb = make_redis_broker()
    mb.publish_data_stream("s1", {"n": "0"})
    got: list[tuple[str, bytes]] = []
    listener = mb.subscribe_data_stream(["s1", "s2"], lambda s, f: got.append((s, f[b"n"])))
    mb.publish_data_stream("s2", {"n": "1"})
    assert wait_until(lambda: len(got) == 2, 5)
    assert sorted(got) == [("s1", b"0"), ("s2", b"1")]
    with pytest.raises(ValueError, match="already have a listener"):
        mb.subscribe_data_stream("s1", lambda s, f: None)
    listener("s9", {b"n": b"direct"})  # callable like the legacy return value
    assert got[-1] == ("s9", b"direct")
    mb.unsubscribe_data_stream("s2")
    assert not listener.is_running
    new_only: list[bytes] = []
    mb.subscribe_data_stream("s1", lambda s, f: new_only.append(f[b"n"]), include_existing_stream_data=False)
    mb.publish_data_stream("s1", {"n": "2"})
    assert wait_until(lambda: new_only == [b"2"], 5)


def test_stream_listener_survives_a_redis_restart_and_resumes(
    redis_server: RedisServer, make_redis_broker: Any, tmp_path: Path
) -> None:
    mb = make_redis_broker()
    got: list[int] = []
    raised: list[int] = []

    def on_entry(stream: str, fields: dict[bytes, bytes]) -> None:
        n = int(fields[b"n"])
        if n == 3:
            raised.append(n)
            raise RuntimeError("callback failure is isolated")
        got.append(n)

    listener = mb.subscribe_data_stream("restart", on_entry)
    writer = make_redis_broker()
    for n in range(5):
        writer.publish_data_stream("restart", {"n": str(n)})
    assert wait_until(lambda: len(got) == 4, 5)
    redis_server.stop(signal.SIGKILL)
    time.sleep(1.5)  # the listener sees the outage and keeps retrying
    assert listener.is_running
    redis_server.start()
    for n in range(5, 10):
        writer.publish_data_stream("restart", {"n": str(n)})
    assert wait_until(lambda: len(got) == 9, 15)
    assert got == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert raised == [3]
    mb.shutdown()
    assert not listener.is_running


def test_blackholed_redis_raises_typed_errors_in_bounded_time(redis_server: RedisServer) -> None:
    from faultproxy import FaultProxy

    from braingeneers.iot.errors import MessagingError
    from braingeneers.iot.messaging import MessageBroker
    from braingeneers.iot.settings import RedisConfig

    with FaultProxy(redis_server.port) as link:
        config = RedisConfig(
            host="127.0.0.1", port=link.port, username=REDIS_USER, password=REDIS_PASSWORD, socket_timeout=1.0
        )
        mb = MessageBroker(redis_config=config)
        try:
            q = mb.get_queue("hole")
            lock = mb.get_lock("hole", lease=5)
            got: list[bytes] = []
            mb.subscribe_data_stream("hole-stream", lambda s, f: got.append(f[b"n"]))
            q.put(1)
            link.set_mode("blackhole")
            for call in (lambda: q.put(2), lambda: q.get(timeout=5), lock.acquire, q.qsize):
                started = time.monotonic()
                with pytest.raises(MessagingError, match="unreachable or too slow"):
                    call()
                assert time.monotonic() - started < 8  # three 1 s socket timeouts plus backoff
            link.set_mode("pass")
            link.close_all()
            assert q.get(timeout=5) == 1
            writer = MessageBroker(
                redis_config=RedisConfig(
                    host="127.0.0.1", port=redis_server.port, username=REDIS_USER, password=REDIS_PASSWORD
                )
            )
            writer.publish_data_stream("hole-stream", {"n": "after"})
            writer.shutdown()
            assert wait_until(lambda: got == [b"after"], 15)  # the listener lived through it
        finally:
            mb.shutdown(timeout=2)

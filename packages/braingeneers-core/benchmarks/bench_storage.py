"""Benchmark: byte-range reads, the primitive data readers use over S3.

Runs against a moto S3 server on loopback (started here) and a local mirror, and prints
each approach beside its baselines:

* legacy: one ``get_object(Range=...)`` after another with a bare boto3 client, as the
  0.3 readers did;
* bound: one ``get_object`` of the same total number of bytes (what the server can stream);
* braingeneers: ``braingeneers.core.read_ranges`` (concurrent ranged GETs on one client).

Usage: ``python bench_storage.py [--quick]``. Numbers depend on the machine; moto is a
Python server, so over loopback it is CPU-bound and this measures the client's overhead
rather than network latency.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import boto3

import braingeneers.core as core
from braingeneers.core.loopback import moto_server, moto_server_binary


def _timed(func, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    quick = "--quick" in sys.argv
    n_ranges, range_size = (16, 256 * 1024) if quick else (64, 256 * 1024)
    payload = os.urandom(n_ranges * range_size * 2)
    ranges = [(2 * i * range_size, (2 * i + 1) * range_size) for i in range(n_ranges)]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if moto_server_binary() is None:
        raise SystemExit("moto_server not found: install the bench group (moto[server])")
    with moto_server() as url:
        core.set_default_endpoint(url)
        bare = boto3.client("s3", endpoint_url=url)
        bare.create_bucket(Bucket="braingeneers")
        key = "ephys/bench/data.raw"
        bare.put_object(Bucket="braingeneers", Key=key, Body=payload)
        uri = f"s3://braingeneers/{key}"
        expected = [payload[a:b] for a, b in ranges]
        assert core.read_ranges(uri, ranges) == expected  # agree before timing

        def legacy() -> None:
            for a, b in ranges:
                bare.get_object(Bucket="braingeneers", Key=key, Range=f"bytes={a}-{b - 1}")["Body"].read()

        def bound() -> None:
            total = n_ranges * range_size
            bare.get_object(Bucket="braingeneers", Key=key, Range=f"bytes=0-{total - 1}")["Body"].read()

        def ours() -> None:
            core.read_ranges(uri, ranges)

        mib = n_ranges * range_size / 2**20
        t_legacy, t_bound, t_ours = _timed(legacy), _timed(bound), _timed(ours)
        print(f"S3 (moto, loopback): {n_ranges} ranges x {range_size // 1024} KiB = {mib:.0f} MiB")
        print(f"  legacy sequential ranged GETs  {t_legacy:7.3f} s  {mib / t_legacy:7.1f} MiB/s")
        print(f"  bound: one GET of same bytes   {t_bound:7.3f} s  {mib / t_bound:7.1f} MiB/s")
        print(f"  braingeneers read_ranges       {t_ours:7.3f} s  {mib / t_ours:7.1f} MiB/s")
        print(f"  speed-up vs legacy {t_legacy / t_ours:5.2f}x; fraction of bound {t_bound / t_ours:5.2f}")

        with tempfile.TemporaryDirectory() as mirror:
            core.set_default_endpoint(mirror)
            Path(mirror, key).parent.mkdir(parents=True)
            Path(mirror, key).write_bytes(payload)
            local = Path(mirror, key)

            def plain() -> None:
                with open(local, "rb") as handle:
                    for a, b in ranges:
                        handle.seek(a)
                        handle.read(b - a)

            t_plain, t_mirror = _timed(plain), _timed(lambda: core.read_ranges(uri, ranges))
            print("Local mirror:")
            print(f"  plain seek+read                {t_plain:7.3f} s")
            print(
                f"  braingeneers read_ranges       {t_mirror:7.3f} s  (overhead {t_mirror / t_plain:5.2f}x)"
            )


if __name__ == "__main__":
    main()

"""Benchmark: Maxwell (HDF5) reads over a loopback moto S3 server, beside one plain boto3 GET.

A synthetic legacy MaxOne file (1028 x 60 000 frames, time-major 1028 x 2048 chunks,
~123 MB) is uploaded to a moto server on 127.0.0.1. For each read the table shows our
time, the requests it made (HEAD + range GETs, chunk prefetches included), the bytes
fetched, MB/s, and one boto3 ``get_object`` of the same number of bytes (the bound:
one request, no HDF5). The first row includes opening the file (superblock, object
headers, chunk index).

Usage: ``python bench_s3.py``. Numbers depend on the machine (the dev box is a shared
2-vCPU VM); moto copies the whole object for every range request, so over moto the
request count, not the bytes, dominates (real S3 does not behave like this).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from braingeneers.core.loopback import moto_server, moto_server_binary

FRAMES = 60_000


def plain_get(client: Any, key: str, nbytes: int) -> float:
    """Seconds for one boto3 GET of ``nbytes`` bytes of the object."""
    begin = time.perf_counter()
    client.get_object(Bucket="braingeneers", Key=key, Range=f"bytes=0-{nbytes - 1}")["Body"].read()
    return time.perf_counter() - begin


def main() -> None:
    import boto3

    import braingeneers.core as core
    from braingeneers.core.transfer import upload
    from braingeneers.data.formats.maxwell import generate_metadata
    from braingeneers.data.recording import open_experiment
    from braingeneers.data.synthetic.maxwell import write_maxwell

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if moto_server_binary() is None:
        print("bench_s3 skipped: moto_server not found (install the bench group)")
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-s3-maxwell-"))
    uuid = "2024-01-01-e-bench-s3"
    rng = np.random.default_rng(0)
    data = rng.integers(400, 624, size=(1024, FRAMES), dtype=np.uint16)
    path = write_maxwell(data, folder / "original/data/rec.raw.h5", channels=np.arange(1024))
    with moto_server() as url:
        try:
            core.set_default_endpoint(url)
            client = boto3.client("s3", endpoint_url=url)
            client.create_bucket(Bucket="braingeneers")
            key = f"ephys/{uuid}/original/data/rec.raw.h5"
            upload(path, f"s3://braingeneers/{key}")
            meta = generate_metadata(folder, uuid=uuid)
            meta.source = None
            size_mb = path.stat().st_size / 1e6
            print(
                f"loopback S3 (moto), legacy Maxwell {size_mb:.0f} MB, "
                f"1028 x {FRAMES} frames, chunks 1028 x 2048"
            )
            header = ("read", "ours ms", "requests", "MB fetched", "ours MB/s", "GET ms", "GET MB/s")
            print(f"{header[0]:<34}" + "".join(f"{h:>11}" for h in header[1:]))
            rec = open_experiment(meta, 0)
            cases = [
                ("open + 64 ch x 20 000 frames", 10_000, 30_000, 64),
                ("64 ch x 20 000 frames", 30_000, 50_000, 64),
                ("all 1024 ch x 20 000 frames", 5_000, 25_000, 1024),
                ("4 ch x 2048 frames (window)", 40_000, 42_048, 4),
            ]
            for name, start, stop, count in cases:
                channels = np.sort(rng.choice(1024, size=count, replace=False))
                source = rec.reader(0).source if rec._readers[0] is not None else None
                before = (source.requests, source.bytes_fetched) if source else (0, 0)
                begin = time.perf_counter()
                got = rec.read(start, stop, channels, units="raw")
                took = time.perf_counter() - begin
                assert np.array_equal(got, data[channels, start:stop])
                source = rec.reader(0).source
                requests = source.requests - before[0]
                fetched = source.bytes_fetched - before[1]
                get = plain_get(client, key, max(fetched, 1))
                print(
                    f"{name:<34}{took * 1e3:11.1f}{requests:11d}{fetched / 1e6:11.1f}"
                    f"{fetched / took / 1e6:11.1f}"
                    f"{get * 1e3:11.1f}{fetched / get / 1e6:11.1f}"
                )
            windows = rng.integers(0, FRAMES - 2048, size=20)
            selection = np.sort(rng.choice(1024, size=64, replace=False))
            source = rec.reader(0).source
            requests_before = source.requests
            begin = time.perf_counter()
            for start in windows:
                rec.read(int(start), int(start) + 2048, selection, units="raw")
            rate = len(windows) / (time.perf_counter() - begin)
            print(
                f"random 2048-frame windows, 64 ch: {rate:.1f} windows/s, "
                f"{(source.requests - requests_before) / len(windows):.1f} requests per window"
            )
            rec.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark: random 1 s x 64-channel windows from a Zarr copy vs from the original, over S3.

Against a moto S3 server on loopback (started here), for

* a synthetic legacy Maxwell MaxOne experiment (``sig`` of 1028 rows x 1.2 M frames, HDF5
  chunks of all rows x 2048 frames as acquisition writes them, 2.5 GB), and
* a synthetic Axion 6-well experiment (384 channels x 1.2 M frames, frame-interleaved int16,
  two files; one well = one experiment of 64 channels),

it converts each experiment with ``braingeneers.data.zarr_convert`` (S3 -> S3) and reads the
same random windows (1 s, 64 contiguous channels, raw counts) through ``open_experiment``
from the original (the format readers' range reads, ``braingeneers.data.sources``) and from
the Zarr copy (``ZarrReader`` over ``braingeneers.data.zarr_store``). Printed: requests per
window, median and p95 latency, MB/s of delivered counts, bytes stored vs original and
conversion MB/s, with the original/Zarr ratios.

A second table compares S3 access layers for zarr on the Maxwell copy: the toolkit's
``S3Store`` (core's boto3 client), zarr's ``ObjectStore`` over obstore and zarr's
``FsspecStore`` over s3fs, each only when importable (s3fs pins botocore tightly; see
docs/zarr.md).

Usage: ``python bench_zarr_s3.py [--quick] [--layers-only] [--frames N] [--windows N]``.

moto is a Python server on the same (possibly shared) machine: it moves about 15 MB/s and
copies the *whole object* on every GET, so a ranged read of a large original file costs
time proportional to the file's size (printed as "server cost of one 1-byte GET"). That
inflates the original's latency far more than the copy's (whose shards are tens of MB), and
makes the full 2.5 GB run take the better part of an hour. Requests per window and bytes
per window carry over to a real S3/Ceph endpoint unchanged; latencies do not.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from braingeneers.core import endpoint, storage
from braingeneers.core.loopback import moto_server, moto_server_binary
from braingeneers.core.transfer import upload
from braingeneers.data.metadata import BatchMetadata, load_metadata
from braingeneers.data.recording import open_experiment
from braingeneers.data.synthetic.signal import synthetic_signal
from braingeneers.data.zarr_convert import DEFAULT_LAYOUT, convert_experiment, zarr_experiment

WINDOW_CHANNELS = 64
TILE_FRAMES = 65536


class Tiled:
    """A lazy ``[channels, frames]`` array repeating one realistic synthetic tile along time."""

    def __init__(self, channels: int, frames: int, sample_rate: float, offset: int, dtype: Any) -> None:
        tile, _ = synthetic_signal(channels, TILE_FRAMES, sample_rate, seed=11)
        self.tile = (tile.astype(np.int32) + offset).astype(dtype)
        self.shape = (channels, frames)

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        rows, cols = key
        start, stop, _ = cols.indices(self.shape[1])
        index = np.arange(start, stop) % TILE_FRAMES
        return self.tile[rows][:, index]


def _create_bucket(url: str) -> None:
    """Point core's storage at the moto server at ``url`` and create the ``braingeneers`` bucket."""
    endpoint.set_default_endpoint(url)
    storage.s3_client().create_bucket(Bucket="braingeneers")


def _publish(folder: Path, uuid: str) -> BatchMetadata:
    base = f"s3://braingeneers/ephys/{uuid}/"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        upload(path, base + path.relative_to(folder).as_posix())
    return load_metadata(uuid)


def _maxwell(folder: Path, frames: int) -> BatchMetadata:
    from braingeneers.data.formats import maxwell
    from braingeneers.data.metadata import save_metadata
    from braingeneers.data.synthetic.maxwell import write_maxwell

    data = Tiled(1024, frames, 20000.0, 512, np.uint16)
    write_maxwell(data, folder / "original/data/bench.raw.h5", layout="legacy")
    meta = maxwell.generate_metadata(folder)
    meta.uuid = "2026-11-24-e-bench-maxwell"
    save_metadata(meta, folder / "metadata.json")
    return _publish(folder, meta.uuid)


def _axion(folder: Path, frames: int) -> BatchMetadata:
    from braingeneers.data.synthetic.axion import write_axion_batch

    data = Tiled(384, frames, 12500.0, 0, np.int16)
    write_axion_batch(folder, data[:, 0:frames], frames // 2 + 1, uuid="2026-11-24-e-bench-axion")
    return _publish(folder, "2026-11-24-e-bench-axion")


def _requests(recording: Any) -> int:
    """Requests made so far by a recording's open readers (store requests for Zarr, range GETs else)."""
    from braingeneers.data.formats.zarr import ZarrReader

    total = 0
    for reader in recording._readers:
        if isinstance(reader, ZarrReader):
            total += reader.requests
        elif reader is not None:
            total += int(reader.source.requests)
    return total


def _windows(recording: Any, picks: list[tuple[int, int]], frames: int) -> tuple[list[float], list[int], int]:
    times, counts, nbytes = [], [], 0
    for start, channel in picks:
        before = _requests(recording)
        began = time.perf_counter()
        out = recording.read(start, start + frames, slice(channel, channel + WINDOW_CHANNELS), units="raw")
        times.append(time.perf_counter() - began)
        counts.append(_requests(recording) - before)
        nbytes += out.nbytes
    return times, counts, nbytes


def _get_overhead_ms(uri: str) -> float:
    """Median latency of a 1-byte ranged GET of ``uri``: the server's fixed cost per request on that object.

    moto copies the whole object on every GET, so this grows with the object's size (a real S3 or
    Ceph endpoint does not); it is printed so the window latencies can be read with it in mind.
    """
    samples = []
    for _ in range(5):
        began = time.perf_counter()
        storage.read_range(uri, 0, 1)
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1e3


def _stored_bytes(uri: str) -> int:
    return sum(item.size for item in storage.list_objects(uri))


def _row(label: str, times: list[float], reqs: list[int], nbytes: int) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    row = {
        "requests": statistics.mean(reqs),
        "median_ms": statistics.median(times) * 1e3,
        "p95_ms": p95 * 1e3,
        "mb_s": nbytes / sum(times) / 1e6,
    }
    print(
        f"  {label:22} {row['requests']:9.1f} {row['median_ms']:10.1f} {row['p95_ms']:9.1f}"
        f" {row['mb_s']:8.1f}"
    )
    return row


def _compare(
    title: str, meta: BatchMetadata, experiment: str, windows: int, rng: np.random.Generator
) -> None:
    original_uri = meta.block_uri(meta.ephys_experiments[experiment].blocks[0])
    sizes = sum(storage.size(meta.block_uri(b)) for b in meta.ephys_experiments[experiment].blocks)
    began = time.perf_counter()
    result = convert_experiment(meta, experiment, workers=2, progress=False)
    seconds = time.perf_counter() - began
    stored = _stored_bytes(result.store)
    with open_experiment(meta, experiment) as original:
        rate = int(original.sample_rate)
        num_frames, num_channels = original.num_frames, original.num_channels
        copy_meta = BatchMetadata.from_dict(meta.to_dict(), source=meta.source)
        copy_meta.ephys_experiments[experiment] = zarr_experiment(
            meta.ephys_experiments[experiment], result.store, num_frames
        )
        picks = [
            (
                int(rng.integers(0, num_frames - rate)),
                int(rng.integers(0, num_channels - WINDOW_CHANNELS + 1)),
            )
            for _ in range(windows)
        ]
        with open_experiment(copy_meta, experiment) as copy:
            copy.read(0, 1, units="raw")  # open the store (metadata reads) before timing
            original.read(0, 1, units="raw")
            first = picks[0]
            np.testing.assert_array_equal(
                copy.read(first[0], first[0] + rate, units="raw"),
                original.read(first[0], first[0] + rate, units="raw"),
            )
            print(
                f"\n## {title}: {num_channels} channels x {num_frames} frames at {rate} Hz; "
                f"{windows} random 1 s x {WINDOW_CHANNELS}-channel windows"
            )
            print(f"  {'source':22} {'req/win':>9} {'median ms':>10} {'p95 ms':>9} {'MB/s':>8}")
            orig = _row("original (readers)", *_windows(original, picks, rate))
            zarr_row = _row("zarr copy", *_windows(copy, picks, rate))
    print(
        f"  ratio original/zarr: requests {orig['requests'] / zarr_row['requests']:.1f}x, median latency "
        f"{orig['median_ms'] / zarr_row['median_ms']:.1f}x, p95 {orig['p95_ms'] / zarr_row['p95_ms']:.1f}x, "
        f"throughput {zarr_row['mb_s'] / orig['mb_s']:.1f}x"
    )
    shards = sum(1 for item in storage.list_objects(result.store) if "/raw/c/" in item.uri)
    print(
        f"  bytes: original files {sizes / 1e6:.0f} MB ({original_uri.rsplit('/', 1)[-1]}, ...), this "
        f"experiment's counts {result.raw_bytes / 1e6:.0f} MB, zarr copy {stored / 1e6:.0f} MB "
        f"({result.raw_bytes / stored:.2f}x smaller than the counts, {sizes / stored:.2f}x smaller than the "
        f"files; {shards} shard objects, {result.ranges} ranges)"
    )
    shard = next(item.uri for item in storage.list_objects(result.store) if "/raw/c/" in item.uri)
    print(
        f"  server cost of one 1-byte GET: {_get_overhead_ms(original_uri):.0f} ms on the original file, "
        f"{_get_overhead_ms(shard):.0f} ms on a shard (moto copies the whole object per GET)"
    )
    print(
        f"  conversion S3 -> S3 incl. verification: {result.raw_bytes / seconds / 1e6:.1f} MB/s of counts "
        f"({seconds:.1f} s, 2 workers)"
    )


def _store_layers(uri: str, url: str) -> dict[str, Callable[[], Any]]:
    from braingeneers.data.zarr_store import open_store

    bucket, prefix = uri[len("s3://") :].split("/", 1)
    layers: dict[str, Callable[[], Any]] = {"braingeneers S3Store (boto3)": lambda: open_store(uri)}
    try:
        import obstore.store
        from zarr.storage import ObjectStore

        def make_obstore() -> Any:
            inner = obstore.store.S3Store(
                bucket,
                prefix=prefix,
                endpoint=url,
                region="us-east-1",
                access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                client_options={"allow_http": True},
            )
            return ObjectStore(inner, read_only=True)

        layers["zarr ObjectStore (obstore)"] = make_obstore
    except ImportError:
        print("  (obstore not installed: pip install obstore to compare it)")
    try:
        import s3fs  # noqa: F401
        from zarr.storage import FsspecStore

        layers["zarr FsspecStore (s3fs)"] = lambda: FsspecStore.from_url(
            uri, read_only=True, storage_options={"endpoint_url": url, "asynchronous": True}
        )
    except ImportError:
        print("  (s3fs not installed: it pins botocore; compare it in a separate environment)")
    return layers


def _compare_layers(uri: str, url: str, windows: int, rng: np.random.Generator) -> None:
    import zarr

    layers = _store_layers(uri, url)
    print(f"\n## S3 access layers for zarr: the Maxwell copy, {windows} random 1 s x 64-channel windows")
    print("  (windows interleaved across layers so machine load affects all alike)")
    arrays, opened = {}, {}
    for name, make in layers.items():
        began = time.perf_counter()
        arrays[name] = zarr.open_group(make(), mode="r")["raw"]
        opened[name] = time.perf_counter() - began
    channels, frames = next(iter(arrays.values())).shape
    picks = [
        (int(rng.integers(0, frames - 20000)), int(rng.integers(0, channels - 64))) for _ in range(windows)
    ]
    times: dict[str, list[float]] = {name: [] for name in arrays}
    for start, channel in picks:
        reference = None
        for name, array in arrays.items():
            began = time.perf_counter()
            out = np.asarray(array[channel : channel + 64, start : start + 20000])
            times[name].append(time.perf_counter() - began)
            if reference is None:
                reference = out
            elif not np.array_equal(reference, out):
                raise SystemExit(f"{name} read different data")
    print(f"  {'layer':30} {'open ms':>8} {'median ms':>10} {'p95 ms':>9}")
    for name, values in times.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"  {name:30} {opened[name] * 1e3:8.1f} {statistics.median(values) * 1e3:10.1f} {p95 * 1e3:9.1f}"
        )


def _run(url: str, frames: int, windows: int, layers_only: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-zarr-"))
    try:
        print(
            f"# Zarr copy vs original over S3 (moto on loopback; shared 2-core machine). Layout: "
            f"{DEFAULT_LAYOUT.codec} level {DEFAULT_LAYOUT.level}, chunks {DEFAULT_LAYOUT.chunk_channels} x "
            f"{DEFAULT_LAYOUT.chunk_frames}, shards of {DEFAULT_LAYOUT.shard_channel_chunks} chunk row(s), "
            f"ranges ~{DEFAULT_LAYOUT.range_bytes >> 20} MiB raw"
        )
        rng = np.random.default_rng(5)
        maxwell = _maxwell(tmp / "maxwell", frames)
        name = next(iter(maxwell.ephys_experiments))
        if layers_only:
            convert_experiment(maxwell, name, workers=2, progress=False)
        else:
            _compare("Maxwell MaxOne (legacy sig 1028 rows)", maxwell, name, windows, rng)
        shutil.rmtree(tmp / "maxwell")
        if not layers_only:
            axion = _axion(tmp / "axion", frames)
            _compare("Axion 6-well, well A1 (64 channels)", axion, "A1", windows, rng)
        from braingeneers.data.zarr_convert import default_store_uri

        _compare_layers(default_store_uri(maxwell, name), url, windows, rng)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    quick = "--quick" in sys.argv
    windows = (
        int(sys.argv[sys.argv.index("--windows") + 1]) if "--windows" in sys.argv else (10 if quick else 40)
    )
    layers_only = "--layers-only" in sys.argv
    frames = 240_000 if quick or layers_only else 1_200_000
    if "--frames" in sys.argv:
        frames = int(sys.argv[sys.argv.index("--frames") + 1])
    for key, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(key, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # moto assembles a multi-GB multipart upload in Python, slower than core's default 30 s read timeout.
    os.environ.setdefault("BRAINGENEERS_S3_TIMEOUT", "900")
    if moto_server_binary() is None:
        raise SystemExit("moto_server not found: install the bench group (moto[server])")
    with moto_server() as url:
        _create_bucket(url)
        _run(url, frames, windows, layers_only)


if __name__ == "__main__":
    main()

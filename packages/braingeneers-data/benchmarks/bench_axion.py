"""Benchmark: one Axion well (64 of 384 channels) read through ``open_experiment``.

Synthetic 6-well plate, 384 channels at 12.5 kHz, 3.75 M frames per file, two files
(2.88 GB each, written once to ``$BRAINGENEERS_BENCH_DIR`` or the temp folder and
reused). Reads: 1 s and 10 s of one well inside a file, and 10 s across the file
boundary. Printed beside each:

* bound: read the same bytes into memory (``readinto``) + one transpose of the
  well's ``[frames, 64]`` samples to ``[64, frames]`` — the least work any reader
  must do, since a frame's channels are interleaved;
* legacy-style: read the bytes, reorder all 384 channels to channel-major, then
  pick the well's rows (what the 0.3 reader did per file);
* memcpy of the frame bytes (the machine's memory bandwidth in this run).

Then the same reads over a moto S3 server on loopback (two shorter files, same read
sizes): range requests and MB/s, beside one plain boto3 GET of the same bytes.

Usage: ``python bench_axion.py [--quick]`` (``--quick``: 375 000-frame files).
Warm page cache; numbers depend on the machine (the dev box is a shared 2-vCPU VM).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from braingeneers.core.loopback import moto_server, moto_server_binary
from braingeneers.data.formats.axion import read_header
from braingeneers.data.metadata import load_metadata
from braingeneers.data.recording import open_experiment
from braingeneers.data.sources import open_source
from braingeneers.data.synthetic.axion import write_axion

RATE = 12500
CHANNELS = 384


def timed(func, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Best wall time of ``repeat`` calls (after one warm-up call)."""
    func()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def make_batch(folder: Path, frames_per_file: int) -> Path:
    """Write two plate files (distinct content) and metadata.json once; reuse them later."""
    from braingeneers.data.formats.axion import generate_metadata
    from braingeneers.data.metadata import save_metadata

    files = [folder / "original" / "data" / f"plate({i:03d}).raw" for i in range(2)]
    if (folder / "metadata.json").exists() and all(f.exists() for f in files):
        meta = load_metadata(folder)
        if meta.ephys_experiments["A1"].blocks[0].num_frames == frames_per_file:
            return folder
    rng = np.random.default_rng(0)
    base = rng.integers(-2000, 2000, size=(CHANNELS, 65536), dtype=np.int16)
    scratch = folder / "scratch.i16"
    folder.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(files):
        data = np.memmap(scratch, dtype=np.int16, mode="w+", shape=(CHANNELS, frames_per_file))
        for t0 in range(0, frames_per_file, 65536):
            t1 = min(t0 + 65536, frames_per_file)
            data[:, t0:t1] = base[:, : t1 - t0] + np.int16(index * 7 + (t0 // 65536) % 11)
        data.flush()
        write_axion(data, path)
        del data
    scratch.unlink()
    save_metadata(generate_metadata(folder, uuid=folder.name), folder / "metadata.json")
    return folder


def local_section(folder: Path) -> None:
    meta = load_metadata(folder)
    experiment = meta.ephys_experiments["B2"]
    per_file = experiment.blocks[0].num_frames
    columns = np.asarray(meta.extra["axion_per_well_channel_map"][4])
    paths = [Path(meta.block_uri(b)) for b in experiment.blocks]
    header = read_header(open_source(paths[0]))
    frame_bytes = header.frame_bytes
    cases = [
        ("1 s in file 0", per_file // 3, RATE),
        ("10 s in file 0", per_file // 3, 10 * RATE),
        ("10 s across files", per_file - 5 * RATE, 10 * RATE),
    ]
    print(
        f"\nlocal files: 2 x {per_file} frames x {CHANNELS} ch ({per_file * frame_bytes / 1e9:.2f} GB each)"
    )
    print(
        f"{'read (well B2, 64 ch)':<22} {'ours ms':>9} {'bound ms':>9} {'bound/ours':>11} "
        f"{'legacy ms':>10} {'legacy/ours':>12} {'ours GB/s':>10} {'memcpy GB/s':>12}"
    )
    with open_experiment(meta, "B2") as rec:
        for name, start, n in cases:
            local_case(rec, name, start, n, paths, per_file, header.data_start, columns)


def local_case(  # type: ignore[no-untyped-def]
    rec, name: str, start: int, n: int, paths: list[Path], per_file: int, data_start: int, columns: np.ndarray
) -> None:
    stop = start + n
    frame_bytes = 2 * CHANNELS
    nbytes = n * frame_bytes
    pieces = []
    for i, path in enumerate(paths):
        lo, hi = max(start, i * per_file), min(stop, (i + 1) * per_file)
        if lo < hi:
            pieces.append((path, lo - i * per_file, hi - lo))

    def read_bytes() -> np.ndarray:
        buffer = np.empty((n, CHANNELS), dtype="<i2")
        row = 0
        for path, first, count in pieces:
            with open(path, "rb") as handle:
                handle.seek(data_start + first * frame_bytes)
                handle.readinto(memoryview(buffer[row : row + count]).cast("B"))
            row += count
        return buffer

    frames = read_bytes()
    selected = np.ascontiguousarray(frames[:, columns])

    def bound() -> None:
        read_bytes()
        np.ascontiguousarray(selected.T)

    def legacy() -> np.ndarray:
        everything = np.ascontiguousarray(read_bytes().T)  # all 384 channels, channel-major
        return everything[columns]

    def ours() -> np.ndarray:
        result: np.ndarray = rec.read(start, stop, units="raw")
        return result

    if not np.array_equal(ours(), legacy()):
        raise SystemExit(f"{name}: our read differs from the reference")
    t_ours, t_bound, t_legacy, t_copy = timed(ours), timed(bound), timed(legacy), timed(frames.copy)
    print(
        f"{name:<22} {t_ours * 1e3:9.1f} {t_bound * 1e3:9.1f} {t_bound / t_ours:11.2f} "
        f"{t_legacy * 1e3:10.1f} {t_legacy / t_ours:12.2f} {nbytes / t_ours / 1e9:10.2f} "
        f"{nbytes / t_copy / 1e9:12.2f}"
    )


def s3_section(folder: Path) -> None:
    import boto3

    import braingeneers.core as core
    from braingeneers.core.transfer import upload

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if moto_server_binary() is None:
        print("\nS3 section skipped: moto_server not found (install the bench group)")
        return
    with moto_server() as url:
        core.set_default_endpoint(url)
        bare = boto3.client("s3", endpoint_url=url)
        bare.create_bucket(Bucket="braingeneers")
        uuid = folder.name
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != "scratch.i16":
                upload(path, f"s3://braingeneers/ephys/{uuid}/{path.relative_to(folder).as_posix()}")
        meta = load_metadata(uuid)
        experiment = meta.ephys_experiments["B2"]
        per_file = experiment.blocks[0].num_frames
        cases = [
            ("1 s in file 0", per_file // 3, RATE),
            ("10 s in file 0", per_file // 3, 10 * RATE),
            ("10 s across files", per_file - 5 * RATE, 10 * RATE),
        ]
        print(
            f"\nloopback S3 (moto): 2 x {per_file} frames; plain GET = boto3 get_object of the same bytes "
            "(one per file touched)"
        )
        print(
            f"{'read (well B2, 64 ch)':<22} {'ours ms':>9} {'requests':>9} {'ours MB/s':>10} "
            f"{'GET ms':>8} {'GET MB/s':>9} {'GETs':>9}"
        )
        with open_experiment(meta, "B2") as rec:
            rec.read(0, 1, units="raw")
            for name, start, n in cases:
                s3_case(rec, bare, meta, name, start, n)
        key = f"ephys/{uuid}/{experiment.blocks[0].path}"

        def one_mib() -> None:
            bare.get_object(Bucket="braingeneers", Key=key, Range="bytes=0-1048575")["Body"].read()

        size_mb = experiment.blocks[0].num_frames * 2 * CHANNELS / 1e6
        print(
            "note: moto serves a range by copying the whole object: one 1 MiB range GET of this "
            f"{size_mb:.0f} MB object takes {timed(one_mib, 3) * 1e3:.0f} ms, so over moto the request "
            "count, not the bytes, sets the time (real S3 does not behave like this)"
        )


def s3_case(rec, bare, meta, name: str, start: int, n: int) -> None:  # type: ignore[no-untyped-def]
    experiment = meta.ephys_experiments["B2"]
    per_file = experiment.blocks[0].num_frames
    data_start = int(experiment.blocks[0].extra["axion_data_start_position"])
    frame_bytes = 2 * CHANNELS
    nbytes = n * frame_bytes
    keys = [f"ephys/{meta.uuid}/{block.path}" for block in experiment.blocks]
    lo = data_start + start * frame_bytes
    hi = min(lo + nbytes, data_start + per_file * frame_bytes)

    def plain() -> None:
        bare.get_object(Bucket="braingeneers", Key=keys[0], Range=f"bytes={lo}-{hi - 1}")["Body"].read()
        if hi - lo < nbytes:  # the rest from the second file
            end = data_start + nbytes - (hi - lo)
            bare.get_object(Bucket="braingeneers", Key=keys[1], Range=f"bytes={data_start}-{end - 1}")[
                "Body"
            ].read()

    def ours() -> None:
        rec.read(start, start + n, units="raw")

    def requests() -> int:
        return sum(rec.reader(i).source.requests for i in range(len(experiment.blocks)))

    before = requests()
    ours()
    made = requests() - before
    t_ours, t_get = timed(ours, 3), timed(plain, 3)
    print(
        f"{name:<22} {t_ours * 1e3:9.1f} {made:9d} {nbytes / t_ours / 1e6:10.1f} "
        f"{t_get * 1e3:8.1f} {nbytes / t_get / 1e6:9.1f} {2 if hi - lo < nbytes else 1:>9d}"
    )


def main() -> None:
    quick = "--quick" in sys.argv
    root = Path(os.environ.get("BRAINGENEERS_BENCH_DIR", tempfile.gettempdir())) / "braingeneers-bench-axion"
    frames = 375_000 if quick else 3_750_000
    print("Axion: one well (64 of 384 channels) via open_experiment; best of 5 after a warm-up")
    local_section(make_batch(root / f"2024-01-02-e-axion-bench-{frames}", frames))
    s3_section(make_batch(root / "2024-01-02-e-axion-bench-250000", 250_000))


if __name__ == "__main__":
    main()

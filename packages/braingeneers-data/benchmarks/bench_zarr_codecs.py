"""Benchmark: Zarr v3 codecs and chunk shapes for raw electrophysiology counts.

Encodes a realistic synthetic recording (``braingeneers.data.synthetic.synthetic_signal``:
noise + spikes + LFP drift, int16 counts ``[channels, frames]``) into an in-memory Zarr
v3 array with each codec chain and chunk shape, then decodes it, and prints the
compression ratio (raw bytes / stored bytes), encode MB/s and decode MB/s (of raw
bytes), beside the uncompressed baseline and as ratios to the chosen layout
(``braingeneers.data.zarr_convert.DEFAULT_LAYOUT``: bit-shuffled Blosc-zstd level 1, 64 x 16384).

Usage: ``python bench_zarr_codecs.py [--quick]``. The machine may be shared: timings are
the best of three runs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import zarr
from numcodecs.zarr3 import Delta
from zarr.codecs import BloscCodec, BytesCodec, ZstdCodec
from zarr.storage import MemoryStore

from braingeneers.data.synthetic.signal import synthetic_signal

#: The codec and chunk shape of ``DEFAULT_LAYOUT`` (the ratios are relative to it).
CHOSEN = ("blosc-zstd1 bitshuffle", (64, 16384))


def _codecs() -> dict[str, Callable[[], dict[str, Any]]]:
    return {
        "none (baseline)": lambda: {"compressors": None},
        "blosc-zstd5 bitshuffle": lambda: {
            "compressors": BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")
        },
        "blosc-zstd5 byteshuffle": lambda: {
            "compressors": BloscCodec(cname="zstd", clevel=5, shuffle="shuffle")
        },
        "blosc-zstd1 bitshuffle": lambda: {
            "compressors": BloscCodec(cname="zstd", clevel=1, shuffle="bitshuffle")
        },
        "blosc-lz4 bitshuffle": lambda: {
            "compressors": BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")
        },
        "zstd3": lambda: {"compressors": ZstdCodec(level=3)},
        "delta + zstd3": lambda: {"filters": [Delta(dtype="int16")], "compressors": ZstdCodec(level=3)},
        "delta + blosc-zstd5 bitshuffle": lambda: {
            "filters": [Delta(dtype="int16")],
            "compressors": BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle"),
        },
    }


def _measure(
    data: np.ndarray, chunks: tuple[int, int], options: dict[str, Any]
) -> tuple[float, float, float]:
    raw = data.nbytes
    best_enc = best_dec = float("inf")
    stored = 0
    for _ in range(3):
        store = MemoryStore()
        array = zarr.create_array(
            store, shape=data.shape, dtype=data.dtype, chunks=chunks, serializer=BytesCodec(), **options
        )
        start = time.perf_counter()
        array[:] = data
        best_enc = min(best_enc, time.perf_counter() - start)
        stored = sum(len(v) for k, v in store._store_dict.items() if not k.endswith("zarr.json"))
        start = time.perf_counter()
        back = array[:]
        best_dec = min(best_dec, time.perf_counter() - start)
        if not np.array_equal(back, data):
            raise SystemExit(f"{options}: decoded data differ")
    return raw / stored, raw / best_enc / 1e6, raw / best_dec / 1e6


def main() -> None:
    quick = "--quick" in sys.argv
    channels, seconds, rate = (64, 4, 20_000.0) if quick else (256, 10, 20_000.0)
    data, _ = synthetic_signal(channels, int(seconds * rate), rate, seed=7)
    data = np.ascontiguousarray(data, dtype=np.int16)
    print(
        f"# Zarr codec study: synthetic int16 counts, {channels} channels x {data.shape[1]} frames "
        f"({data.nbytes / 1e6:.0f} MB), zarr {zarr.__version__}; best of 3 (shared machine)"
    )
    shapes = [(64, 16384), (16, 65536), (256, 4096), (channels, 1024)]
    codecs = _codecs()
    results: dict[tuple[str, tuple[int, int]], tuple[float, float, float]] = {}
    for shape in shapes if not quick else shapes[:2]:
        for name, build in codecs.items():
            results[name, shape] = _measure(data, shape, build())
    chosen = results[CHOSEN]
    print(
        f"{'codec':32} {'chunk':>12} {'ratio':>6} {'enc MB/s':>9} {'dec MB/s':>9}"
        f" {'ratio/chosen':>12} {'enc/chosen':>10} {'dec/chosen':>10}"
    )
    for (name, shape), (ratio, enc, dec) in results.items():
        print(
            f"{name:32} {shape[0]:>5}x{shape[1]:<6} {ratio:6.2f} {enc:9.0f} {dec:9.0f}"
            f" {ratio / chosen[0]:12.2f} {enc / chosen[1]:10.2f} {dec / chosen[2]:10.2f}"
        )


if __name__ == "__main__":
    main()

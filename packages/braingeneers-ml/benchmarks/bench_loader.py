"""Benchmark: windows/s of the ml data pipeline beside the legacy-style path and the bound.

Writes a local synthetic Maxwell experiment (64 channels, 20 kHz) and its Zarr copy, then reads
2048-frame x 64-channel windows (float32 µV) at the same random positions with:

* legacy-style: per window, re-read ``metadata.json`` and re-open the file (what the 0.3
  ``EphysDataset`` did per item), then read;
* bound: one open ``Recording`` and ``Recording.read`` in a loop (the same bytes with the data
  package, no torch, no DataLoader);
* ours: ``WindowDataset`` + ``RandomWindowSampler`` through a ``DataLoader`` (batch 32) with
  ``num_workers`` 0 and 2 (persistent workers; best of two epochs, the first includes
  start-up), also with int16 windows from the workers scaled to µV in the main process
  (``to_microvolts``), and sliding windows with 50 % overlap (the batched read path) beside
  the bound reading them one by one;
* the DataLoader's own transfer limit: 2 workers returning ready float32 windows (no reads),
  what moving 16 MiB batches through shared memory costs on this machine.

Also reports the memory of each DataLoader worker (Linux ``/proc``): peak resident set
(``VmHWM``, which counts the pages a forked worker shares with its parent) and the largest
private (unshared) memory seen.
Usage: ``python bench_loader.py [--quick]``. Numbers depend on the machine and its load.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from braingeneers.data.formats import maxwell
from braingeneers.data.metadata import save_metadata
from braingeneers.data.synthetic import synthetic_signal, write_maxwell
from braingeneers.data.zarr_convert import convert_experiment
from braingeneers.ml import RandomWindowSampler, RecordingRef, SlidingWindowSampler, WindowDataset

CHANNELS = 64
WINDOW = 2048
RATE = 20_000.0
BATCH = 32


def _write(folder: Path, frames: int) -> None:
    counts = np.empty((CHANNELS, frames), dtype=np.uint16)
    step = 200_000
    for i, start in enumerate(range(0, frames, step)):
        n = min(step, frames - start)
        signal, _ = synthetic_signal(CHANNELS, n, RATE, seed=i)
        counts[:, start : start + n] = (signal.astype(np.int32) + 512).astype(np.uint16)
    write_maxwell(counts, folder / "original" / "data" / "rec0.raw.h5", layout="data_store")
    save_metadata(maxwell.generate_metadata(folder), folder / "metadata.json")
    convert_experiment(folder, "rec0", progress=False)


def _rate(count: int, func: Callable[[], Any], repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return count / best


def _memory_kib(pid: int) -> tuple[int, int]:
    """Return ``(peak RSS, private memory now)`` of a process in KiB (Linux ``/proc``; else zeros)."""
    peak = private = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                private += int(line.split()[1])
    except OSError:
        pass
    return peak, private


class _Constant:
    """A dataset returning ready float32 windows: what DataLoader workers cost without reading."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.window = torch.zeros(CHANNELS, WINDOW)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.window.clone()


def _loader_run(
    loader: DataLoader[Any],
    expected: int,
    peaks: list[tuple[int, int]],
    convert: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> None:
    seen = 0
    iterator = iter(loader)
    workers = [w.pid for w in getattr(iterator, "_workers", [])]
    for batch in iterator:
        out = convert(batch) if convert is not None else batch
        seen += out.shape[0]
        for i, pid in enumerate(workers):
            if i >= len(peaks):
                peaks.append((0, 0))
            now = _memory_kib(pid)
            peaks[i] = (max(peaks[i][0], now[0]), max(peaks[i][1], now[1]))
    if seen != expected:
        raise RuntimeError(f"loader gave {seen} windows, expected {expected}")


def _bench_source(label: str, ref: RecordingRef, folder: Path, n: int, n_legacy: int) -> list[list[str]]:
    ds = WindowDataset(ref, window=WINDOW)
    rec = ds.recording(0)
    sampler = RandomWindowSampler(ds, num_samples=n, seed=1)
    starts = [ds.locate(i)[1] for i in sampler]

    # Correctness before timing: the loader's windows are the bound's reads.
    first = next(iter(DataLoader(ds, batch_size=BATCH, sampler=sampler)))
    for k in range(BATCH):
        np.testing.assert_array_equal(first[k].numpy(), rec.read(starts[k], starts[k] + WINDOW))

    def bound() -> None:
        for s in starts:
            rec.read(s, s + WINDOW)

    def legacy() -> None:
        for s in starts[:n_legacy]:
            with RecordingRef(folder, "rec0", prefer_zarr=ref.prefer_zarr).resolved().open() as again:
                again.read(s, s + WINDOW)

    peaks: list[tuple[int, int]] = []

    def ours(workers: int, dataset: Any = ds, convert: bool = False) -> Callable[[], None]:
        loader = DataLoader(
            dataset, batch_size=BATCH, sampler=sampler, num_workers=workers, persistent_workers=workers > 0
        )
        return lambda: _loader_run(loader, n, peaks, dataset.to_microvolts if convert else None)

    raw = WindowDataset(ref, window=WINDOW, units="raw")
    np.testing.assert_array_equal(raw.to_microvolts(raw[0]).numpy(), ds[0].numpy())
    transfer = DataLoader(_Constant(n), batch_size=BATCH, num_workers=2, persistent_workers=True)

    sliding = SlidingWindowSampler(ds, stride=WINDOW // 2)
    slide_starts = [ds.locate(i)[1] for i in sliding]

    def slide_bound() -> None:
        for s in slide_starts:
            rec.read(s, s + WINDOW)

    slide_loader = DataLoader(ds, batch_size=BATCH, sampler=sliding)

    r_bound = _rate(n, bound)
    r_legacy = _rate(n_legacy, legacy, repeat=1)
    r_ours0 = _rate(n, ours(0))
    r_ours2 = _rate(n, ours(2))
    r_raw2 = _rate(n, ours(2, raw, convert=True))
    r_transfer = _rate(n, lambda: _loader_run(transfer, n, []))
    r_slide_bound = _rate(len(slide_starts), slide_bound)
    r_slide = _rate(len(slide_starts), lambda: _loader_run(slide_loader, len(slide_starts), []))
    peak_mib = max(p[0] for p in peaks) / 1024 if peaks else float("nan")
    private_mib = max(p[1] for p in peaks) / 1024 if peaks else float("nan")
    rows = [
        [label, "legacy-style (re-read metadata + re-open per window)", r_legacy, r_legacy / r_bound, 1.0],
        [label, "bound: Recording.read in a loop", r_bound, 1.0, r_bound / r_legacy],
        [label, "ours: WindowDataset, num_workers=0", r_ours0, r_ours0 / r_bound, r_ours0 / r_legacy],
        [label, "ours: WindowDataset, num_workers=2", r_ours2, r_ours2 / r_bound, r_ours2 / r_legacy],
        [
            label,
            "ours: num_workers=2, int16 from workers, to_microvolts in main",
            r_raw2,
            r_raw2 / r_bound,
            r_raw2 / r_legacy,
        ],
        [
            label,
            "DataLoader transfer limit: 2 workers, no reads",
            r_transfer,
            r_transfer / r_bound,
            float("nan"),
        ],
        [label, "sliding 50% overlap: bound, one read per window", r_slide_bound, 1.0, float("nan")],
        [label, "sliding 50% overlap: ours, batched reads", r_slide, r_slide / r_slide_bound, float("nan")],
    ]
    ds.close()
    out = [[a, b, f"{c:9.0f}", f"{d:6.2f}", f"{e:6.1f}"] for a, b, c, d, e in rows]
    out.append(
        [
            label,
            f"per DataLoader worker: peak RSS {peak_mib:.0f} MiB (incl. pages shared with the parent), "
            f"private {private_mib:.0f} MiB",
            "",
            "",
            "",
        ]
    )
    return out


def main() -> None:
    quick = "--quick" in sys.argv
    seconds = 10 if quick else 60
    n, n_legacy = (256, 64) if quick else (2048, 200)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bench-batch"
        t0 = time.perf_counter()
        _write(folder, int(seconds * RATE))
        print(
            f"wrote {seconds} s x {CHANNELS} channels Maxwell (data_store, 2048-frame chunks) and its Zarr "
            f"copy in {time.perf_counter() - t0:.1f} s; {n} random windows of {WINDOW} x {CHANNELS}, "
            "float32 uV"
        )
        rows = _bench_source(
            "maxwell .raw.h5", RecordingRef(folder, "rec0", prefer_zarr=False), folder, n, n_legacy
        )
        rows += _bench_source("zarr copy", RecordingRef(folder, "rec0"), folder, n, n_legacy)
    header = ["source", "path", "windows/s", "x bound", "x legacy"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    main_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"main process peak RSS (includes writing the data): {main_mib:.0f} MiB")


if __name__ == "__main__":
    main()

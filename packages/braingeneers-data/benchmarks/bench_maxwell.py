"""Benchmark: Maxwell reads through ``open_experiment`` beside their bound and SpikeInterface.

Synthetic files (written once to ``$BRAINGENEERS_BENCH_DIR`` or the temp folder and
reused): legacy MaxOne ``sig`` 1028 x 1.2 M frames and the new format (``wells``
layout) 1020 routed x 1.2 M frames, both uncompressed uint16 with time-major chunks
(all rows x 2048 frames, as acquisition writes them), about 2.5 GB each.

For {4, 64, all} channels x {20 000, 200 000} frames at random offsets, the best of
5 reads of:

* ours: ``Recording.read(start, stop, channels, units="raw")`` (file kept open);
* bound: ``h5py`` reads the whole frame range ``ds[:, start:stop]`` and numpy selects
  the rows (the issue's target: ours >= 0.8 of its speed);
* SpikeInterface ``read_maxwell(...).get_traces`` (target: ours faster).

Then the ML pattern: random 2048-frame windows of a fixed 64-channel selection
(windows/s, ours vs the bound).

Usage: ``python bench_maxwell.py [--quick]`` (``--quick``: 400 000-frame files).
Warm page cache; numbers depend on the machine (the dev box is a shared 2-vCPU VM).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from braingeneers.data.formats.maxwell import generate_metadata
from braingeneers.data.recording import open_experiment
from braingeneers.data.synthetic.maxwell import write_maxwell
from braingeneers.data.synthetic.signal import synthetic_signal

SLAB = 65536


class TiledCounts:
    """A lazy ``[channels, frames]`` uint16 array repeating one synthetic slab (cheap to generate)."""

    def __init__(self, channels: int, frames: int) -> None:
        signal, _ = synthetic_signal(channels, SLAB, seed=0)
        self.slab = (signal.astype(np.int32) + 512).clip(0, 1023).astype(np.uint16)
        self.shape = (channels, frames)

    def __getitem__(self, key: Any) -> np.ndarray:
        _, frames = key
        start, stop = frames.start, frames.stop
        index = np.arange(start, stop) % SLAB
        return self.slab[:, index]


def timed(func: Callable[[], Any], repeat: int = 5) -> float:
    """Best wall time of ``repeat`` calls after one warm-up call."""
    func()
    best = float("inf")
    for _ in range(repeat):
        begin = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - begin)
    return best


def timed_reads(read: Callable[[int, int], Any], starts: list[int], length: int, repeat: int = 5) -> float:
    """Best wall time of ``read(start, start + length)`` over rotating start frames."""
    position = iter(range(10**9))

    def once() -> None:
        start = starts[next(position) % len(starts)]
        read(start, start + length)

    return timed(once, repeat)


def read_ours(rec: Any, channels: np.ndarray, start: int, stop: int) -> Any:
    """Our read of raw counts."""
    return rec.read(start, stop, channels, units="raw")


def read_bound(ds: Any, channels: np.ndarray, start: int, stop: int) -> Any:
    """The bound: h5py reads every row of the frame range, numpy selects."""
    return ds[:, start:stop][channels]


def read_si(si: Any, ids: Any, start: int, stop: int) -> Any:
    """SpikeInterface's Maxwell reader."""
    return si.get_traces(start_frame=start, end_frame=stop, channel_ids=ids)


def read_neo(raw_io: Any, channels: Any, start: int, stop: int) -> Any:
    """neo's MaxwellRawIO, the reader SpikeInterface's ``read_maxwell`` wraps."""
    return raw_io.get_analogsignal_chunk(
        block_index=0, seg_index=0, i_start=start, i_stop=stop, stream_index=0, channel_indexes=channels
    )


def make_file(folder: Path, layout: str, frames: int) -> Path:
    """Write one file (reused when it exists with the right size)."""
    path = folder / layout / "original" / "data" / f"{layout}.raw.h5"
    if path.exists():
        with h5py.File(path) as h5:
            raw = h5["sig"] if layout == "legacy" else h5["wells/well000/rec0000/groups/routed/raw"]
            if raw.shape[1] == frames:
                return path
    rows = 1024 if layout == "legacy" else 1020
    started = time.perf_counter()
    write_maxwell(TiledCounts(rows, frames), path, layout=layout, channels=np.arange(rows))
    print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - started:.0f} s")
    return path


def bench_file(path: Path, layout: str, frames: int) -> None:
    meta = generate_metadata(path.parent.parent.parent)
    rec = open_experiment(meta, 0)
    n = rec.num_channels
    rng = np.random.default_rng(1)
    with h5py.File(path, "r", rdcc_nbytes=64 * 1024 * 1024) as h5:
        ds = h5["sig"] if layout == "legacy" else h5["wells/well000/rec0000/groups/routed/raw"]
        si = raw_io = None
        peer = "-"
        if importlib.util.find_spec("spikeinterface") is not None:
            import spikeinterface.extractors as se

            si = se.read_maxwell(path, install_maxwell_plugin=False)
            peer = "SpikeInterface read_maxwell"
        elif importlib.util.find_spec("neo") is not None:
            # SpikeInterface pins zarr<3, so it cannot share an environment with braingeneers-data;
            # its Maxwell extractor is a thin wrapper over this neo reader, timed instead.
            import neo

            raw_io = neo.rawio.MaxwellRawIO(filename=str(path))
            raw_io.parse_header()
            peer = "neo MaxwellRawIO (what SpikeInterface's read_maxwell wraps)"
        print(f"\n{layout}: {n} channels x {rec.num_frames} frames; peer: {peer}")
        header = ("channels", "frames", "ours ms", "bound ms", "ours/bound", "peer ms", "peer/ours")
        print("".join(f"{h:>11}" for h in header))
        for count in (4, 64, n):
            channels = np.sort(rng.choice(n, size=count, replace=False))
            for length in (20_000, 200_000):
                starts = [int(x) for x in rng.integers(0, frames - length, size=8)]
                ours = timed_reads(partial(read_ours, rec, channels), starts, length)
                bound = timed_reads(partial(read_bound, ds, channels), starts, length)
                check = starts[0]
                assert np.array_equal(
                    rec.read(check, check + length, channels, units="raw"),
                    ds[:, check : check + length][channels],
                )
                si_text, ratio_text = "-", "-"
                if si is not None:
                    ids = si.get_channel_ids()[channels] if layout != "legacy" else si.get_channel_ids()
                    si_time = timed_reads(partial(read_si, si, ids), starts, length, 3)
                    si_text, ratio_text = f"{si_time * 1e3:9.1f}", f"{si_time / ours:8.2f}"
                elif raw_io is not None:
                    if layout != "legacy":  # same counts, transposed (neo gives [frames, channels])
                        theirs = read_neo(raw_io, channels, check, check + length)
                        assert np.array_equal(theirs.T, ds[:, check : check + length][channels])
                    neo_time = timed_reads(partial(read_neo, raw_io, channels), starts, length, 3)
                    si_text, ratio_text = f"{neo_time * 1e3:9.1f}", f"{neo_time / ours:8.2f}"
                row = (count, length, f"{ours * 1e3:.1f}", f"{bound * 1e3:.1f}", f"{bound / ours:.2f}")
                print("".join(f"{v:>11}" for v in (*row, si_text.strip(), ratio_text.strip())))
        selection = np.sort(rng.choice(n, size=64, replace=False))
        windows = rng.integers(0, frames - 2048, size=(300, 2))
        ours_time = bound_time = 0.0
        for (
            mine,
            theirs,
        ) in windows:  # interleaved, on different windows, so page-cache state is shared fairly
            begin = time.perf_counter()
            rec.read(int(mine), int(mine) + 2048, selection, units="raw")
            ours_time += time.perf_counter() - begin
            begin = time.perf_counter()
            ds[:, int(theirs) : int(theirs) + 2048][selection]
            bound_time += time.perf_counter() - begin
        ours_rate, bound_rate = len(windows) / ours_time, len(windows) / bound_time
        print(
            f"random 2048-frame windows, 64 channels: ours {ours_rate:.0f}/s, bound {bound_rate:.0f}/s "
            f"(ours/bound {ours_rate / bound_rate:.2f})"
        )
    if si is not None and layout == "legacy":
        print("  (SpikeInterface 0.105 returns the whole 1028-row sig of legacy files: timed with all ids)")
    rec.close()


def main() -> None:
    quick = "--quick" in sys.argv
    frames = 400_000 if quick else 1_200_000
    root = (
        Path(os.environ.get("BRAINGENEERS_BENCH_DIR", tempfile.gettempdir())) / "braingeneers-bench-maxwell"
    )
    for layout in ("legacy", "wells"):
        path = make_file(root, layout, frames)
        bench_file(path, layout, frames)
    print(f"\nfiles kept in {root} for the next run (delete the folder to reclaim the space)")


if __name__ == "__main__":
    main()

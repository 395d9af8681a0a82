"""Benchmark the analysis kernels beside spikedata 0.2.2 on seeded synthetic spike trains.

Datasets (generated here, never stored):

* A - 1000 units, ~1e6 spikes, 600 s, log-normal rates, Poisson spike times;
* B - A with 30 % of every unit's spikes moved into 200 network bursts of 100 ms;
* C - 100 units, ~1e5 spikes, 60 s (the only one with ``--quick``, for CI).

Every row first checks that our result agrees with spikedata's (exact rasters, STTC within
1e-12, equal latencies, burst lists equal up to spikedata's dropped final burst, DCC equal,
preserved marginals for surrogates), then times ours (best of 3 after a warm-up call) and
spikedata's (one call); "cpu" is our process CPU time of the best run, summed over threads,
which shows how much of a wall time was spent waiting for a shared CPU. numba compile time is
reported separately: once cold (empty cache directory, in a subprocess) and once loading the
on-disk cache (a second subprocess).

Usage: ``python bench_spikedata.py [--quick] [--datasets A,B]``; ``BRAINGENEERS_BENCH_QUICK=1``
is the same as ``--quick``. Baselines that would take minutes or gigabytes run on a part of the
dataset, as each row's note says.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

warnings.simplefilter("ignore")

TARGETS = {
    "from_idces_times": 0.1,
    "sttc matrix (Δ=20 ms)": 1.0,
    "randomized greedy (1 ms)": 1.0,
    "latencies_to_index": 0.05,
    "burst detection (pooled)": 0.01,
    "DCC (N=1000 surrogates)": 5.0,
}


def make_dataset(name: str) -> tuple[list[np.ndarray], float]:
    """Return the seeded trains (ms) and length (ms) of dataset A, B or C."""
    rng = np.random.default_rng({"A": 1, "B": 2, "C": 3}[name])
    n, length, total = (100, 60_000.0, 100_000) if name == "C" else (1000, 600_000.0, 1_000_000)
    mean_hz = total / n / (length / 1e3)
    rates = rng.lognormal(np.log(mean_hz) - 0.5, 1.0, n)
    counts = rng.poisson(rates * length / 1e3)
    trains = [np.sort(rng.uniform(0, length, c)) for c in counts]
    if name == "B":
        starts = np.sort(rng.uniform(0, length - 100.0, 200))
        for i, t in enumerate(trains):
            moved = rng.random(t.size) < 0.3
            k = int(moved.sum())
            t[moved] = starts[rng.integers(0, 200, k)] + rng.uniform(0, 100.0, k)
            trains[i] = np.sort(t)
    return trains, length


LAST_CPU = float("nan")  # CPU time (all threads) of the best run of the last best_of call


def best_of(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """Return the best wall time of ``repeats`` calls after one warm-up call, and the result."""
    global LAST_CPU
    result = fn()
    best = np.inf
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, LAST_CPU = wall, time.process_time() - c0
    return best, result


def once(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _rss_kb() -> tuple[int, int]:
    """Return (VmRSS, VmHWM) of this process in kB."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


PEAK_SNIPPET = """
import sys
sys.path.insert(0, {here!r})
import numpy as np
from bench_spikedata import _rss_kb, make_dataset
from braingeneers.analysis import surrogates
tr, length = make_dataset({ds!r})
surrogates.randomized_trains(tr[:5], 1.0, 1000.0, seed=1)  # compile/load outside the measurement
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
start, _ = _rss_kb()
out = surrogates.randomized_trains(tr, 1.0, length, seed=1)
_, peak = _rss_kb()
print((peak - start) / 1024)
"""


def peak_rss_mb(ds: str) -> float:
    """Return the peak RSS increase (MB) of ``randomized_trains`` at 1 ms on dataset ``ds``.

    Runs in a fresh interpreter with glibc's mmap threshold fixed, so freed memory is returned
    to the system and the peak reflects what the call itself holds.
    """
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    code = PEAK_SNIPPET.format(here=os.path.dirname(os.path.abspath(__file__)), ds=ds)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


COMPILE_SNIPPET = """
import time, numpy as np
t0 = time.perf_counter()
from braingeneers.analysis import sttc, surrogates, latencies, bursts, raster, trains
tr = [np.array([1.0, 5.0, 9.0]), np.array([2.0, 50.0])]
steps = {
    "trains": lambda: trains.trains_from_events(np.array([0, 1]), np.array([1.0, 2.0]), 2),
    "raster": lambda: (raster.dense_raster(tr, 1.0, 60.0, np.uint16),
                       raster.trains_from_raster(np.eye(2, dtype=np.int64), 1.0)),
    "sttc": lambda: sttc.sttc_matrix(tr, 5.0, 60.0),
    "surrogates": lambda: (surrogates.randomized_trains(tr, 1.0, 60.0, seed=0),
                           surrogates.randomized_trains(tr, 1.0, 60.0, seed=0, method="poprate_okun")),
    "latencies": lambda: latencies.latencies(tr, tr[0]),
    "bursts": lambda: (bursts.burst_detection(np.array([0.0, 1.0, 2.0]), 1.5),
                       bursts.avalanches(np.arange(5), 1), bursts.detect_bursts(tr, 5.0)),
}
for name, step in steps.items():
    t0 = time.perf_counter(); step(); print(f"{name} {time.perf_counter() - t0:.2f}")
"""


def compile_times() -> None:
    """Print first-call times of every kernel group, cold (fresh cache) and from the disk cache."""
    import warnings as _w

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = subprocess.run(
            [sys.executable, "-c", COMPILE_SNIPPET], env=env, capture_output=True, text=True, check=True
        ).stdout
        warm = subprocess.run(
            [sys.executable, "-c", COMPILE_SNIPPET], env=env, capture_output=True, text=True, check=True
        ).stdout
    _w.simplefilter("ignore")
    cold_t = dict(line.split() for line in cold.split("\n") if line)
    warm_t = dict(line.split() for line in warm.split("\n") if line)
    print("\nnumba first call per kernel group (s): cold compile | from on-disk cache")
    for name, cold_s in cold_t.items():
        print(f"  {name:12s} {float(cold_s):6.2f} | {float(warm_t[name]):6.2f}")
    total_cold = sum(float(v) for v in cold_t.values())
    total_warm = sum(float(v) for v in warm_t.values())
    print(f"  {'total':12s} {total_cold:6.2f} | {total_warm:6.2f}")


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, float | None, str, str]] = []

    def add(self, name: str, ds: str, ours: float, base: float | None, agree: str, note: str = "") -> None:
        self.rows.append((name, ds, ours, base, agree, note))
        target = TARGETS.get(name)
        ratio = f"{base / ours:8.1f}x" if base is not None and ours > 0 else "       -"
        base_s = f"{base:9.3f}" if base is not None else "        -"
        tgt = f"≤{target:g}" if target is not None else ""
        met = "" if target is None else ("met" if ours <= target else "MISSED")
        print(
            f"  {name:28s} {ds:2s} {ours:9.4f} {LAST_CPU:8.4f} {base_s} {ratio} {tgt:>6s} {met:6s} "
            f"{agree}  {note}",
            flush=True,
        )


def want(only: list[str] | None, section: str) -> bool:
    """Whether ``section`` runs under ``--only``."""
    return only is None or section in only


def run_dataset(ds: str, table: Table, only: list[str] | None = None) -> None:
    import spikedata

    from braingeneers.analysis import bursts, criticality, latencies, raster, sttc, surrogates, trains

    tr, length = make_dataset(ds)
    n = len(tr)
    s_total = sum(t.size for t in tr)
    print(f"\ndataset {ds}: {n} units, {s_total} spikes, {length / 1e3:g} s", flush=True)
    print(
        f"  {'benchmark':28s} ds {'ours (s)':>9s} {'cpu (s)':>8s} {'spikedata':>9s} {'ratio':>9s} "
        f"{'target':>6s}   (wall; cpu = our CPU s over all threads; load {os.getloadavg()[0]:.1f})"
    )
    sd = spikedata.SpikeData(tr, length=length)

    # ---- grouping events into trains, and back
    if want(only, "events"):
        times, units = trains.events_from_trains(tr)
        t_ours, ours = best_of(lambda: trains.trains_from_events(units, times, n))
        t_base, theirs = once(lambda: spikedata.SpikeData.from_idces_times(units, times, n, length=length))
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs.train, strict=True))
        table.add("from_idces_times", ds, t_ours, t_base, "equal trains")
        t_ours, (ours_t, ours_u) = best_of(lambda: trains.events_from_trains(tr))
        t_base, (base_u, base_t) = once(sd.idces_times)
        assert np.array_equal(ours_t, np.asarray(base_t))
        base_u, base_t = np.asarray(base_u), np.asarray(base_t)
        ours_order, base_order = np.lexsort((ours_u, ours_t)), np.lexsort((base_u, base_t))
        assert np.array_equal(ours_u[ours_order], base_u[base_order])
        table.add("idces_times", ds, t_ours, t_base, "equal events")

    # ---- rasters
    if want(only, "rasters"):
        t_ours, dense = best_of(lambda: raster.dense_raster(tr, 20.0, length, np.uint16))
        t_base, base = once(lambda: sd.raster(20.0))
        assert np.array_equal(dense, base)
        table.add("dense raster 20 ms uint16", ds, t_ours, t_base, "exact")
        del dense, base
        t_ours, _ = best_of(lambda: raster.sparse_raster(tr, 1.0, length))
        t_base, _ = once(lambda: sd.sparse_raster(1.0))
        table.add("sparse raster 1 ms", ds, t_ours, t_base, "exact (toarray)")
        t_ours, _ = best_of(lambda: raster.dense_raster(tr, 1.0, length, np.uint8), repeats=1)
        if ds == "C":
            t_base, base = once(lambda: sd.raster(1.0))
            assert np.array_equal(raster.dense_raster(tr, 1.0, length, np.uint8), base)
            table.add("dense raster 1 ms uint8", ds, t_ours, t_base, "exact")
            del base
        else:
            table.add("dense raster 1 ms uint8", ds, t_ours, None, "-", "spikedata not run: 4.8 GB int64")

    # ---- STTC
    if want(only, "sttc"):
        t_ours, ours_m = best_of(lambda: sttc.sttc_matrix(tr, 20.0, length))
        t_base, base_m = once(lambda: sd.spike_time_tilings(20.0))
        diff = float(np.max(np.abs(ours_m - base_m)))
        assert diff <= 1e-12, diff
        table.add("sttc matrix (Δ=20 ms)", ds, t_ours, t_base, f"max|Δ|={diff:.1e}")
        for delt in (5.0, 100.0):
            t_ours, _ = best_of(lambda delt=delt: sttc.sttc_matrix(tr, delt, length), repeats=1)
            table.add(f"sttc matrix (Δ={delt:g} ms)", ds, t_ours, None, "-")
        del ours_m, base_m

    # ---- surrogates
    if want(only, "surrogates"):

        def check_marginals(out: list[np.ndarray]) -> None:
            before = raster.raster_entries(tr, 1.0, length)
            after = raster.raster_entries(out, 1.0, length)
            nb = raster.bin_count(length, 1.0)
            for k in (0, 1):
                a = np.bincount(before[k], weights=before[2], minlength=(n, nb)[k])
                b = np.bincount(after[k], weights=after[2], minlength=(n, nb)[k])
                assert np.array_equal(a, b)

        t_ours, out = best_of(lambda: surrogates.randomized_trains(tr, 1.0, length, seed=1))
        check_marginals(out)
        mem = peak_rss_mb(ds)
        if ds == "C":
            t_base, _ = once(lambda: sd.randomized(1.0, seed=1))
            note = f"peak +{mem:.0f} MB"
        else:
            part = sd.subtime(0, 60_000.0)
            t_part, _ = once(lambda: part.randomized(1.0, seed=1))
            t_base = t_part * length / 60_000.0
            note = f"peak +{mem:.0f} MB; spikedata on the first 60 s ({t_part:.1f} s) x{length / 60_000:g}"
        table.add("randomized greedy (1 ms)", ds, t_ours, t_base, "marginals kept", note)
        u, b, c = raster.raster_entries(tr, 5.0, length)
        binary = c == 1
        t_ours, (su, sb) = best_of(
            lambda: surrogates.randomize_entries_okun(
                u[binary], b[binary], n, raster.bin_count(length, 5.0), seed=1
            ),
            repeats=1,
        )
        assert np.array_equal(np.bincount(su, minlength=n), np.bincount(u[binary], minlength=n))
        assert np.array_equal(np.bincount(sb), np.bincount(b[binary]))
        table.add(
            "Okun swaps (5 ms, 5/spike)", ds, t_ours, None, "marginals kept", f"{int(binary.sum())} spikes"
        )

    # ---- latencies
    if want(only, "latencies"):
        t_ours, ours_l = best_of(lambda: latencies.latencies(tr, tr[0], 100.0))
        t_base, base_l = once(lambda: sd.latencies_to_index(0, 100.0))
        assert all(a.tolist() == [float(x) for x in b] for a, b in zip(ours_l, base_l, strict=True))
        table.add("latencies_to_index", ds, t_ours, t_base, "equal")

    # ---- bursts
    if want(only, "bursts"):
        pooled = np.sort(np.concatenate(tr))
        thr = float(np.median(np.diff(pooled))) / 4
        t_list, ours_b = best_of(lambda: bursts.burst_detection(pooled, thr, 3))
        t_ours, (starts, _) = best_of(lambda: bursts.burst_runs(pooled, thr, 3))
        t_base, base_b = once(lambda: spikedata.burst_detection(pooled, thr, 3))
        assert ours_b[0][: len(base_b[0])] == [list(x) for x in base_b[0]]
        assert len(ours_b[0]) - len(base_b[0]) in (0, 1)
        table.add(
            "burst detection (pooled)",
            ds,
            t_ours,
            t_base,
            "equal + tail",
            f"{starts.size} bursts; lists {t_list:.3f} s",
        )
        t_ours, nb = best_of(lambda: bursts.detect_bursts(tr, 1.0, min_spikes=50, merge_gap=20.0), repeats=1)
        table.add("network burst statistics", ds, t_ours, None, "-", f"{len(nb)} bursts")

    # ---- criticality
    if want(only, "criticality"):
        counts = np.asarray(sd.binned(40))
        t_ours, res = best_of(
            lambda: criticality.deviation_from_criticality(counts, N=1000, seed=0), repeats=2
        )
        t_base, base_res = once(lambda: sd.deviation_from_criticality(N=5))
        assert abs(res.dcc - base_res.dcc) <= 1e-9, (res, base_res)
        n_av = bursts.avalanche_duration_size(counts, float(np.quantile(counts, 0.35)))[0].size
        table.add(
            "DCC (N=1000 surrogates)",
            ds,
            t_ours,
            t_base,
            f"dcc Δ={abs(res.dcc - base_res.dcc):.0e}",
            f"{n_av} avalanches; spikedata with N=5 only",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="run only dataset C")
    parser.add_argument("--datasets", default=None, help="comma-separated subset of A,B,C")
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated sections: events,rasters,sttc,surrogates,latencies,bursts,criticality",
    )
    parser.add_argument("--no-compile", action="store_true", help="skip the compile-time measurement")
    args, _ = parser.parse_known_args()
    quick = args.quick or os.environ.get("BRAINGENEERS_BENCH_QUICK") == "1"
    datasets = args.datasets.split(",") if args.datasets else (["C"] if quick else ["C", "A", "B"])
    import numba
    import spikedata

    print(
        f"braingeneers.analysis kernels vs spikedata {spikedata.__version__}; numba {numba.__version__}, "
        f"{numba.get_num_threads()} threads, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    if not args.no_compile:
        compile_times()
    table = Table()
    only = args.only.split(",") if args.only else None
    for ds in datasets:
        run_dataset(ds, table, only)


if __name__ == "__main__":
    main()

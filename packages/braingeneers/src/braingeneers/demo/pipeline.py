"""The demo's steps, from a synthetic batch on a local endpoint to a report.

Each step uses the toolkit's public API the way a lab scientist would: the metadata
generators, ``braingeneers data info``, the legacy ``load_data``, the ``Recording`` API, the
Zarr converter, the spike detector, ``SpikeData`` and its metrics.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np

from braingeneers.demo.scoring import score_detection
from braingeneers.demo.synthetic_batch import UUID, MaxwellPlan, write_batch

__all__ = ["run"]

_log = logging.getLogger(__name__)

EXPERIMENT = "organoid_a"
DETECT_THRESHOLD = 5.0  # MAD multiples
# The synthetic waveform lasts 2 ms; with a 1 ms dead time the band-passed rebound of a spike
# crosses the threshold again about 1.05 ms later (measured: precision 0.89 instead of 1.0).
REFRACTORY_MS = 2.0
STTC_DELT_MS = 20.0
BURST_ISI_MS = 5.0


class _Progress:
    """Prints each step with the time since the start (the demo is a command-line program)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        sys.stdout.write(f"[{time.perf_counter() - self.start:6.1f} s] {message}\n")
        sys.stdout.flush()


def _require_components() -> None:
    from braingeneers.core.errors import ConfigError

    missing = []
    for module, dist in (
        ("braingeneers.data", "braingeneers-data"),
        ("braingeneers.analysis", "braingeneers-analysis"),
        ("matplotlib", "braingeneers-analysis[plot]"),
    ):
        try:
            __import__(module)
        except ImportError:
            missing.append(dist)
    if missing:
        raise ConfigError(
            f'braingeneers demo needs {", ".join(missing)}: run pip install "braingeneers[demo]"'
        )


def _join_maxwell_blocks(batch: Any) -> Any:
    """Make the two Maxwell files one experiment with two blocks (they are one continuous recording)."""
    names = sorted(n for n, e in batch.ephys_experiments.items() if e.hardware == "Maxwell")
    first = batch.ephys_experiments.pop(names[0])
    for name in names[1:]:
        first.blocks.extend(batch.ephys_experiments.pop(name).blocks)
    first.name = EXPERIMENT
    batch.ephys_experiments = {EXPERIMENT: first, **batch.ephys_experiments}
    return batch


def run(out: Path, seed: int = 7) -> Path:
    """Run the whole demo into ``out`` and return the path of ``report/summary.json``.

    ``out/endpoint`` becomes the default endpoint (a local mirror of ``s3://braingeneers``);
    ``out/report`` receives ``raster.png``, ``sttc.png``, ``traces.png`` and ``summary.json``.
    """
    _require_components()
    from braingeneers.core import set_default_endpoint
    from braingeneers.core.cli import main as braingeneers_cli
    from braingeneers.data.datasets_electrophysiology import load_data
    from braingeneers.data.generators import generate_metadata
    from braingeneers.data.metadata import save_metadata
    from braingeneers.data.recording import open_experiment
    from braingeneers.data.zarr_convert import convert_experiment, zarr_experiment

    step = _Progress()
    out = Path(out).resolve()
    report = out / "report"
    report.mkdir(parents=True, exist_ok=True)
    set_default_endpoint(out / "endpoint")
    step(f"local endpoint {out / 'endpoint'} (s3://braingeneers/<key> is <endpoint>/<key>)")

    plan = MaxwellPlan()
    _folder, truth = write_batch(out / "endpoint", seed, plan)
    step(f"wrote batch {UUID}: 2 Maxwell files ({plan.num_channels} ch) and 2 Axion 6-well files")

    batch = _join_maxwell_blocks(generate_metadata(UUID))
    save_metadata(batch)
    step(f"generated metadata.json: {len(batch.ephys_experiments)} experiments")

    listing = io.StringIO()
    with redirect_stdout(listing):
        braingeneers_cli(["data", "info", UUID])
    sys.stdout.write(listing.getvalue())

    # The same window through the legacy API and the Recording API, across the block boundary.
    boundary = plan.frames_per_block
    # Legacy contract: dtype="int16" gives raw counts (floats are counts x voltage_scaling_factor).
    legacy = load_data(
        batch.to_dict(), EXPERIMENT, offset=boundary - 1000, length=2000, channels=[3, 1, 2], dtype="int16"
    )
    recording = open_experiment(batch, EXPERIMENT)
    raw = recording.read(boundary - 1000, boundary + 1000, channels=[3, 1, 2], units="raw")
    if not np.array_equal(legacy, raw):
        raise RuntimeError("load_data and Recording.read disagree on the same window")
    axion = open_experiment(batch, "A1")
    axion_window = axion.read(axion.num_frames // 2 - 500, axion.num_frames // 2 + 500, units="uV")
    step(
        f"read {EXPERIMENT} across its block boundary (legacy load_data == Recording.read) "
        f"and 1000 frames of Axion well A1 across its file boundary ({axion_window.shape[0]} channels)"
    )

    result = convert_experiment(batch, EXPERIMENT, workers=2, progress=False)
    zarr_batch = batch
    zarr_batch.ephys_experiments[f"{EXPERIMENT}_zarr"] = zarr_experiment(
        batch.ephys_experiments[EXPERIMENT], result.store, recording.num_frames
    )
    zarr_rec = open_experiment(zarr_batch, f"{EXPERIMENT}_zarr")
    probe = np.random.default_rng(seed).integers(0, recording.num_frames - 4000, size=5)
    for start in probe:
        same = zarr_rec.read(start, start + 4000, units="raw") == recording.read(
            start, start + 4000, units="raw"
        )
        if not same.all():
            raise RuntimeError("the Zarr copy differs from the original")
    step(f"converted {EXPERIMENT} to Zarr ({result.store}); 5 random windows identical to the original")

    return _analyse(zarr_rec, truth, plan, report, step=step, zarr_uri=result.store)


def _analyse(
    recording: Any, truth: Any, plan: MaxwellPlan, report: Path, *, step: _Progress, zarr_uri: str
) -> Path:
    """Detect spikes on ``recording``, analyse them, draw the figures and write ``summary.json``."""
    from braingeneers.analysis import detect_spikes
    from braingeneers.analysis.bursts import detect_bursts
    from braingeneers.demo.figures import draw_raster, draw_sttc, draw_traces

    fs = recording.sample_rate
    sd = detect_spikes(recording, threshold=DETECT_THRESHOLD, refractory_ms=REFRACTORY_MS)
    trains_ms = [np.asarray(t, dtype=np.float64) for t in sd.train]
    truth_ms = [f / fs * 1e3 for f in truth.spike_frames]
    score = score_detection(truth_ms, trains_ms, tolerance_ms=1.0)
    step(
        f"detected {score.detected} spikes on {len(trains_ms)} channels "
        f"(band-pass + {DETECT_THRESHOLD:g} MAD threshold): recall {score.recall:.3f}, "
        f"precision {score.precision:.3f} against the {score.true_spikes} embedded spikes"
    )

    length_ms = sd.length
    rates = sd.rates(unit="Hz")
    sttc = sd.spike_time_tilings(delt=STTC_DELT_MS)
    bursts = detect_bursts(sd.train, BURST_ISI_MS, min_spikes=20, merge_gap=20.0, min_units=8)
    found = [(float(a), float(b)) for a, b in zip(bursts.start, bursts.end, strict=True)]
    hit = sum(any(a <= te and b >= ts for a, b in found) for ts, te in truth.burst_windows_ms)
    off_diagonal = sttc[~np.eye(sd.N, dtype=bool)]
    step(
        f"SpikeData: {sd.N} units, mean rate {rates.mean():.2f} Hz; STTC (Δt = {STTC_DELT_MS:g} ms) "
        f"mean {off_diagonal.mean():.3f}; {len(bursts)} network bursts "
        f"({hit} of {len(truth.burst_windows_ms)} embedded bursts found)"
    )

    window = (0.0, min(length_ms, 6000.0))
    raster_data = draw_raster(sd, found, report / "raster.png", window)
    sttc_data = draw_sttc(sttc, report / "sttc.png", STTC_DELT_MS)
    trace_channels = [int(np.argmax(rates)), int(np.argmin(rates)), 0]
    centre = float((bursts.start[0] + bursts.end[0]) / 2) if len(bursts) else length_ms / 2
    trace_data = draw_traces(recording, trace_channels, trains_ms, report / "traces.png", centre_ms=centre)
    arrays: dict[str, Any] = {f"unit{i:03d}": t for i, t in enumerate(trains_ms)}
    arrays["length_ms"] = np.float64(length_ms)
    np.savez_compressed(report / "spikes.npz", **arrays)
    summary = {
        "batch": UUID,
        "experiment": EXPERIMENT,
        "zarr_store": zarr_uri,
        "recording": {
            "channels": int(recording.num_channels),
            "frames": int(recording.num_frames),
            "sample_rate_hz": float(fs),
            "blocks": plan.blocks,
        },
        "detection": {
            "method": f"band-pass 300-6000 Hz, threshold {DETECT_THRESHOLD:g} x MAD, "
            f"{REFRACTORY_MS:g} ms refractory period per channel",
            "true_spikes": score.true_spikes,
            "detected": score.detected,
            "matched": score.matched,
            "tolerance_ms": score.tolerance_ms,
            "recall": score.recall,
            "precision": score.precision,
        },
        "rates_hz": {
            "mean": float(rates.mean()),
            "min": float(rates.min()),
            "max": float(rates.max()),
            "per_unit": [float(r) for r in rates],
        },
        "sttc": {
            "delt_ms": STTC_DELT_MS,
            "mean_off_diagonal": float(off_diagonal.mean()),
            "figure": sttc_data,
        },
        "bursts": {
            "isi_threshold_ms": BURST_ISI_MS,
            "count": len(bursts),
            "embedded": len(truth.burst_windows_ms),
            "embedded_found": hit,
            "start_ms": [float(x) for x in bursts.start],
            "end_ms": [float(x) for x in bursts.end],
            "n_units": [int(x) for x in bursts.n_units],
            "peak_rate_hz": [float(x) for x in bursts.peak_rate],
        },
        "figures": {"raster.png": raster_data, "sttc.png": {"file": "sttc.png"}, "traces.png": trace_data},
    }
    path = report / "summary.json"
    path.write_text(json.dumps(summary, indent=2))
    step(f"report written: {report} (raster.png, sttc.png, traces.png, summary.json, spikes.npz)")
    return path

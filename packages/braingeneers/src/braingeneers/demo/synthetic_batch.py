"""The demo's synthetic batch: a two-block Maxwell experiment with bursting units and an Axion plate.

The ground truth (which channel spikes when, and when the network bursts) is kept so the
demo can score its own spike detection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["GroundTruth", "MaxwellPlan", "bursting_trains", "write_batch"]

UUID = "2026-11-24-e-demo"


@dataclass(frozen=True)
class MaxwellPlan:
    """Shape of the demo's Maxwell experiment (kept small so the demo runs in seconds)."""

    num_channels: int = 64
    seconds_per_block: float = 10.0
    sample_rate: float = 20000.0
    blocks: int = 2
    background_hz: float = 1.5
    burst_every_s: float = 2.0
    burst_ms: float = 120.0
    noise_counts: float = 2.5
    amplitude_counts: float = 30.0

    @property
    def frames_per_block(self) -> int:
        """Frames in each block (file)."""
        return round(self.seconds_per_block * self.sample_rate)


@dataclass
class GroundTruth:
    """What the synthetic Maxwell recording contains."""

    sample_rate: float
    spike_frames: list[np.ndarray]  # per channel, frame of each spike's trough
    burst_windows_ms: list[tuple[float, float]] = field(default_factory=list)


def bursting_trains(plan: MaxwellPlan, seed: int) -> tuple[list[np.ndarray], list[tuple[float, float]]]:
    """Spike start frames per channel: Poisson background plus network bursts, 3 ms refractory.

    Returns the trains (waveform start frames, sorted) and the burst windows in ms.
    """
    rng = np.random.default_rng(seed)
    total = plan.frames_per_block * plan.blocks
    fs = plan.sample_rate
    duration_ms = total / fs * 1e3
    bursts: list[tuple[float, float]] = []
    t = rng.uniform(300.0, 800.0)
    while t + plan.burst_ms < duration_ms - 300.0:
        bursts.append((t, t + plan.burst_ms))
        t += plan.burst_every_s * 1e3 * rng.uniform(0.7, 1.3)
    refractory = round(3e-3 * fs)
    trains: list[np.ndarray] = []
    for _ in range(plan.num_channels):
        count = rng.poisson(plan.background_hz * total / fs)
        frames = list(rng.integers(0, total, size=count))
        for start, stop in bursts:
            if rng.random() < 0.8:  # most units take part in each network burst
                n = rng.integers(2, 5)
                frames += list(rng.uniform(start, stop, size=n) * fs / 1e3)
        ordered = np.sort(np.asarray(frames, dtype=np.float64)).astype(np.int64)
        keep: list[int] = []
        for f in ordered:
            if not keep or f - keep[-1] >= refractory:
                keep.append(int(f))
        trains.append(np.asarray(keep, dtype=np.int64))
    return trains, bursts


def write_batch(root: Path, seed: int, plan: MaxwellPlan | None = None) -> tuple[Path, GroundTruth]:
    """Write the batch's raw files under ``root/ephys/<uuid>/original/data`` and return its folder.

    Maxwell: two ``.raw.h5`` files (new ``data_store`` layout) that are one continuous
    recording. Axion: a 6-well plate, 384 channels at 12.5 kHz, split over two ``.raw`` files.
    """
    from braingeneers.data.synthetic import write_axion, write_maxwell
    from braingeneers.data.synthetic.signal import synthetic_signal

    plan = plan or MaxwellPlan()
    folder = root / "ephys" / UUID
    data_dir = folder / "original" / "data"
    starts, bursts = bursting_trains(plan, seed)
    total = plan.frames_per_block * plan.blocks
    counts, truth = synthetic_signal(
        plan.num_channels,
        total,
        plan.sample_rate,
        seed,
        noise=plan.noise_counts,
        amplitude=plan.amplitude_counts,
        lfp=8.0,
        spike_frames=starts,
    )
    raw = (counts.astype(np.int32) + 512).astype(np.uint16)  # Maxwell stores around the ADC midpoint
    channels = np.arange(plan.num_channels)
    for block in range(plan.blocks):
        part = raw[:, block * plan.frames_per_block : (block + 1) * plan.frames_per_block]
        write_maxwell(
            part,
            data_dir / f"organoid_a_{block:02d}.raw.h5",
            layout="data_store",
            channels=channels,
            electrodes=channels * 3 + 220 * (channels // 8),
            sample_rate=plan.sample_rate,
            first_frame=block * plan.frames_per_block,
        )
    trough = round(0.5e-3 * plan.sample_rate)  # the waveform's trough is 0.5 ms after its start
    ground = GroundTruth(plan.sample_rate, [t + trough for t in truth], bursts)

    axion_fs = 12500.0
    axion, _ = synthetic_signal(384, round(10 * axion_fs), axion_fs, seed + 1, spikes=3.0, noise=40.0)
    half = axion.shape[1] // 2
    for index, part in enumerate((axion[:, :half], axion[:, half:])):
        write_axion(part, data_dir / f"plate({index:03d}).raw", plate="6-well", sample_rate=axion_fs)
    return folder, ground

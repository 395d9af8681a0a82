"""Realistic synthetic extracellular signals with known spikes, for every format writer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["synthetic_signal"]

#: Spike waveform (counts, scaled by ``amplitude``): a fast negative trough and a slow positive rebound.
_WAVEFORM_MS = 2.0


def _waveform(sample_rate: float) -> np.ndarray:
    t = np.arange(round(_WAVEFORM_MS * 1e-3 * sample_rate)) / sample_rate * 1e3  # ms
    trough = -np.exp(-(((t - 0.5) / 0.12) ** 2))
    rebound = 0.35 * np.exp(-(((t - 0.9) / 0.3) ** 2))
    shape = trough + rebound
    result: np.ndarray = shape / np.abs(shape).max()
    return result


def synthetic_signal(
    num_channels: int,
    num_frames: int,
    sample_rate: float = 20000.0,
    seed: int = 0,
    *,
    spikes: float = 5.0,
    noise: float = 6.0,
    amplitude: float = 80.0,
    lfp: float = 15.0,
    spike_frames: Sequence[np.ndarray] | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return int16 counts with noise, spikes and a slow drift, and the spike frames.

    Parameters
    ----------
    num_channels, num_frames
        Shape of the result ``[num_channels, num_frames]``.
    sample_rate
        Frames per second (sets the spike waveform width and the drift frequencies).
    seed
        Seed of the random generator; the same arguments give the same data.
    spikes
        Mean firing rate per channel in Hz (Poisson; 0 for none).
    noise
        Standard deviation of the Gaussian noise in counts.
    amplitude
        Peak spike amplitude in counts (the trough is negative).
    lfp
        Amplitude in counts of the slow (1-10 Hz) drift, different per channel.
    spike_frames
        Instead of Poisson spikes, the frames where each channel's spikes start (one array per
        channel, e.g. trains with network bursts); ``spikes`` is then ignored. Frames closer than
        one waveform to the end are dropped from the returned ground truth.

    Returns
    -------
    counts : numpy.ndarray
        int16 ``[num_channels, num_frames]`` centred on 0.
    spike_frames : list of numpy.ndarray
        For each channel, the sorted int64 frames where a spike waveform starts.
    """
    if num_channels < 0 or num_frames < 0:
        raise ValueError(f"num_channels and num_frames must be >= 0, not {num_channels}, {num_frames}")
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((num_channels, num_frames), dtype=np.float32)
    signal *= np.float32(noise)
    if lfp and num_frames:
        t = np.arange(num_frames, dtype=np.float32) / np.float32(sample_rate)
        freqs = rng.uniform(1.0, 10.0, size=num_channels).astype(np.float32)
        phases = rng.uniform(0, 2 * np.pi, size=num_channels).astype(np.float32)
        for c in range(num_channels):
            signal[c] += np.float32(lfp) * np.sin(2 * np.pi * freqs[c] * t + phases[c])
    wave = (_waveform(sample_rate) * amplitude).astype(np.float32)
    width = len(wave)
    if spike_frames is not None and len(spike_frames) != num_channels:
        raise ValueError(f"spike_frames has {len(spike_frames)} trains for {num_channels} channels")
    truth: list[np.ndarray] = []
    for c in range(num_channels):
        if spike_frames is not None:
            frames = np.sort(np.asarray(spike_frames[c], dtype=np.int64))
            frames = frames[(frames >= 0) & (frames <= num_frames - width)]
        else:
            count = rng.poisson(spikes * num_frames / sample_rate) if spikes > 0 else 0
            frames = np.sort(rng.integers(0, max(num_frames - width, 1), size=count)).astype(np.int64)
            if num_frames < width:
                frames = frames[:0]
        for f in frames:
            signal[c, f : f + width] += wave
        truth.append(frames)
    np.clip(signal, -32768, 32767, out=signal)
    return np.rint(signal).astype(np.int16), truth

"""Streaming threshold detection: found spikes, chunk-size independence, refractory period."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from braingeneers.analysis import detect_spikes
from braingeneers.core.errors import ConfigError

FS = 20000.0


class ArrayRecording:
    """A recording held in memory, read the way ``braingeneers.data.Recording`` reads (channels x frames)."""

    def __init__(self, data: np.ndarray, sample_rate: float = FS) -> None:
        self.data = data
        self.sample_rate = sample_rate
        self.largest_read = 0

    @property
    def num_channels(self) -> int:
        return int(self.data.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[1])

    def read(self, start: Any = 0, stop: Any = None, channels: Any = None, units: str = "uV") -> np.ndarray:
        assert units == "uV"
        stop = self.num_frames if stop is None else stop
        self.largest_read = max(self.largest_read, stop - start)
        rows = slice(None) if channels is None else np.asarray(channels)
        return self.data[rows, start:stop].astype(np.float32)


def _recording(seed: int = 0, seconds: float = 2.0) -> tuple[ArrayRecording, dict[int, list[int]]]:
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    data = rng.normal(0, 10.0, size=(4, n))
    shape = -180.0 * np.exp(-0.5 * ((np.arange(30) - 12) / 5.0) ** 2)  # a ~1 ms negative spike
    truth: dict[int, list[int]] = {0: [], 1: [], 2: [], 3: []}
    for channel in (0, 2, 3):
        starts = np.sort(rng.choice(np.arange(2000, n - 100, 400), size=20, replace=False))
        for s in starts:
            data[channel, s : s + 30] += shape
            truth[channel].append(int(s))
    return ArrayRecording(data), truth


def test_finds_the_injected_spikes_and_nothing_else() -> None:
    rec, truth = _recording()
    sd = detect_spikes(rec, threshold=5.0, refractory_ms=4.0, chunk_seconds=0.25)  # past the ringing
    assert sd.N == 4
    assert sd.length == pytest.approx(2000.0)
    assert sd.train[1].size == 0
    for channel in (0, 2, 3):
        onsets = np.array(truth[channel]) / FS * 1e3
        found = sd.train[channel]
        assert found.size == onsets.size
        assert np.all(np.abs(found - onsets - 0.4) < 0.3), found - onsets  # crossing ~8 samples after onset
    assert sd.metadata["channels"] == [0, 1, 2, 3]
    # white noise of 10 uV keeps the pass band's share of its power: 10 * sqrt(5700 / 10000) uV
    np.testing.assert_allclose(sd.metadata["noise_uv"], 10.0 * np.sqrt(0.57), rtol=0.06)
    assert rec.largest_read <= int(0.25 * FS)


def _reference(
    rec: ArrayRecording, threshold: float, refractory_ms: float, settle_ms: float
) -> list[list[int]]:
    """One pass over the whole array, written plainly."""
    from scipy import signal

    sos = signal.butter(3, [300.0, 6000.0], btype="bandpass", fs=FS, output="sos")
    x = signal.sosfilt(sos, rec.data.astype(np.float32).astype(np.float64), axis=1)
    head = x[:, : int(10 * FS)]
    stride = max(1, head.shape[1] // 20000)
    noise = (
        np.median(np.abs(head[:, ::stride]).astype(np.float32), axis=1).astype(np.float64)
        / 0.6744897501960817
    )
    out = []
    for c in range(x.shape[0]):
        below = x[c] < -threshold * noise[c]
        last = -(10**12)
        accepted = []
        for t in range(x.shape[1]):
            crossing = below[t] and (t == 0 or not below[t - 1]) and t >= round(settle_ms * FS / 1e3)
            if crossing and t - last >= round(refractory_ms * FS / 1e3):
                accepted.append(t)
                last = t
        out.append(accepted)
    return out


@pytest.mark.parametrize("chunk_seconds", [0.0137, 0.1, 5.0])
def test_result_does_not_depend_on_the_chunk_size(chunk_seconds: float) -> None:
    rec, _ = _recording(seed=1, seconds=1.0)
    rec.data[2, 5000:5400] -= 80.0  # a slow step: long runs beyond threshold across chunk edges
    expected = _reference(rec, 3.5, 2.0, 5.0)
    sd = detect_spikes(rec, threshold=3.5, refractory_ms=2.0, chunk_seconds=chunk_seconds)
    for channel, frames in enumerate(expected):
        np.testing.assert_allclose(sd.train[channel], np.array(frames) / FS * 1e3, rtol=0, atol=1e-9)


def test_refractory_period_and_channel_selection() -> None:
    rng = np.random.default_rng(2)
    data = rng.normal(0, 1.0, size=(3, 20000))
    for s in (5000, 5010, 5100):  # 0.5 ms and 5 ms after the first
        data[1, s : s + 4] -= 60.0
    rec = ArrayRecording(data)
    sd = detect_spikes(rec, refractory_ms=3.0, channels=[1])
    assert sd.N == 1
    assert sd.metadata["channels"] == [1]
    assert sd.train[0].size == 2
    assert sd.train[0][1] - sd.train[0][0] == pytest.approx(5.0, abs=0.2)
    both = detect_spikes(rec, refractory_ms=0.1, channels=[1])
    assert both.train[0].size >= 3  # the second pulse (and the filter's ringing) come through


def test_bad_parameters_are_config_errors() -> None:
    rec, _ = _recording(seconds=0.5)
    with pytest.raises(ConfigError):
        detect_spikes(rec, lowcut=7000.0)
    with pytest.raises(ConfigError):
        detect_spikes(rec, direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        detect_spikes(rec, threshold=0)

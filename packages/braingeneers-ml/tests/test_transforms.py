"""Transforms: the Butterworth design matches scipy's, filtering matches sosfiltfilt, shapes and devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from braingeneers.ml.filters import butter_bandpass_sos, sos_response
from braingeneers.ml.transforms import BandPass, CommonMedianReference, Compose, Spectrogram, ZScore

signal = pytest.importorskip("scipy.signal")


@pytest.mark.parametrize(
    ("low", "high", "fs", "order"),
    [
        (300, 3000, 20000, 4),
        (1, 5000, 20000, 3),
        (0.5, 9000, 20000, 5),
        (100, 200, 1000, 2),
        (300, 6000, 20000, 1),
    ],
)
def test_design_has_scipys_frequency_response(low, high, fs, order):
    mine = butter_bandpass_sos(low, high, fs, order)
    reference = signal.butter(order, (low, high), "bandpass", fs=fs, output="sos")
    assert mine.shape == reference.shape
    freqs = np.linspace(0, fs / 2, 2001)
    _, expected = signal.sosfreqz(reference, worN=freqs, fs=fs)
    np.testing.assert_allclose(sos_response(mine, freqs, fs), expected, atol=1e-9)
    # -3 dB at both edges.
    edge = np.abs(sos_response(mine, np.array([low, high]), fs))
    np.testing.assert_allclose(edge, np.sqrt(0.5), rtol=1e-9)


def test_design_rejects_bad_edges():
    with pytest.raises(ValueError, match="sample_rate/2 = 10000"):
        butter_bandpass_sos(300, 10_000, 20_000)
    with pytest.raises(ValueError, match="order"):
        butter_bandpass_sos(300, 3000, 20_000, order=0)


def test_band_pass_matches_sosfiltfilt_away_from_the_ends():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 20_000)).cumsum(axis=1) + rng.normal(size=(3, 20_000)) * 5
    bp = BandPass(300, 3000, 20_000, order=3)
    expected = signal.sosfiltfilt(signal.butter(3, (300, 3000), "bandpass", fs=20_000, output="sos"), x)
    got = bp(torch.from_numpy(x)).numpy()
    inner = slice(2000, -2000)
    scale = np.abs(expected[:, inner]).max()
    assert np.abs(got[:, inner] - expected[:, inner]).max() < 1e-6 * scale
    # float32 batch [B, C, T] gives the same as channel by channel.
    batch = torch.from_numpy(x).float().unsqueeze(0).repeat(2, 1, 1)
    out = bp(batch)
    assert out.dtype == torch.float32
    assert out.shape == (2, 3, 20_000)
    np.testing.assert_allclose(out[1].numpy()[:, inner], expected[:, inner], atol=1e-4 * scale)


def test_band_pass_removes_out_of_band_tones():
    fs = 20_000
    t = np.arange(4096) / fs
    tone = lambda f: np.sin(2 * np.pi * f * t)  # noqa: E731
    x = torch.from_numpy(np.stack([tone(50), tone(1000), tone(8000)])).float()
    y = BandPass(300, 3000, fs)(x)
    middle = slice(1000, -1000)
    rms = y[:, middle].pow(2).mean(dim=1).sqrt() / x[:, middle].pow(2).mean(dim=1).sqrt()
    assert rms[0] < 0.01
    assert abs(rms[1] - 1) < 0.01
    assert rms[2] < 0.01


def test_common_median_reference_and_zscore():
    x = torch.tensor([[1.0, 2.0, 10.0], [3.0, 0.0, 10.0], [5.0, 4.0, 10.0]])
    np.testing.assert_allclose(CommonMedianReference()(x).numpy(), [[-2, 0, 0], [0, -2, 0], [2, 2, 0]])
    z = ZScore()(x)
    np.testing.assert_allclose(z.mean(dim=-1).numpy(), 0, atol=1e-6)
    np.testing.assert_allclose(z[:2].std(dim=-1, unbiased=False).numpy(), 1, atol=1e-5)
    flat = ZScore()(torch.full((2, 5), 7.0))
    assert torch.all(flat == 0)
    batch = torch.stack([x, 2 * x])
    torch.testing.assert_close(CommonMedianReference()(batch)[1], CommonMedianReference()(2 * x))


def test_spectrogram_peaks_at_the_tone():
    fs = 20_000
    t = np.arange(8192) / fs
    x = torch.from_numpy(np.stack([np.sin(2 * np.pi * 1250 * t), np.sin(2 * np.pi * 5000 * t)])).float()
    spec = Spectrogram(n_fft=256, hop_length=128)
    out = spec(x)
    assert out.shape == (2, 129, 8192 // 128 + 1)
    freqs = spec.frequencies(fs)
    peaks = freqs[out.mean(dim=-1).argmax(dim=-1).numpy()]
    assert peaks.tolist() == [1250.0, 5000.0]
    assert spec(x.unsqueeze(0)).shape == (1, 2, 129, 65)
    assert torch.all(Spectrogram(n_fft=256, log=True)(x) > -30)


def test_compose_and_integer_input():
    x = torch.arange(20, dtype=torch.float32).reshape(2, 10)
    pipeline = Compose([CommonMedianReference(), ZScore()])
    torch.testing.assert_close(pipeline(x), ZScore()(CommonMedianReference()(x)))
    with pytest.raises(TypeError, match="units='uV'"):
        BandPass(300, 3000, 20_000)(torch.zeros(2, 100, dtype=torch.int16))

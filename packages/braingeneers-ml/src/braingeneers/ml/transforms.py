"""Small torch transforms for windows shaped ``[..., channels, frames]``.

Every transform is a picklable callable taking and returning a ``torch.Tensor``; it works on
one window ``[channels, frames]`` (as a dataset ``transform``, inside DataLoader workers) and
on a batch ``[batch, channels, frames]`` on any device (after ``batch.to("cuda")``). The
input must be floating point (read windows with ``units="uV"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from braingeneers.ml.filters import butter_bandpass_sos, sos_response

if TYPE_CHECKING:
    import torch

__all__ = ["BandPass", "CommonMedianReference", "Compose", "Spectrogram", "ZScore"]


def _require_float(x: torch.Tensor, name: str) -> None:
    if not x.is_floating_point():
        raise TypeError(
            f"{name} needs a floating-point tensor, got {x.dtype}: read windows with units='uV' "
            "or convert with .float() first"
        )


class Compose:
    """Apply transforms one after the other.

    Parameters
    ----------
    transforms
        Callables taking and returning a tensor, applied in order.
    """

    def __init__(self, transforms: Sequence[Callable[[torch.Tensor], torch.Tensor]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Apply every transform in order."""
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class BandPass:
    """Zero-phase Butterworth band-pass along the last (time) axis.

    The filter is designed by :func:`braingeneers.ml.filters.butter_bandpass_sos` (the
    coefficients scipy's ``butter`` gives) and applied forward and backward like
    ``scipy.signal.sosfiltfilt``: the squared magnitude response multiplies the signal's FFT,
    so it runs on the tensor's device in one pass. The ends are extended by odd reflection
    (``pad`` frames, default three periods of ``low_hz``) to keep edge transients short.

    Parameters
    ----------
    low_hz, high_hz
        Pass-band edges in Hz.
    sample_rate
        Sampling rate of the windows in Hz.
    order
        Butterworth order (the forward-backward filter has twice the attenuation slope).
    pad
        Frames of odd extension on each side; capped at ``frames - 1``.
    """

    def __init__(
        self, low_hz: float, high_hz: float, sample_rate: float, order: int = 4, pad: int | None = None
    ) -> None:
        self.low_hz = float(low_hz)
        self.high_hz = float(high_hz)
        self.sample_rate = float(sample_rate)
        self.order = int(order)
        self.sos = butter_bandpass_sos(self.low_hz, self.high_hz, self.sample_rate, self.order)
        self.pad = int(pad) if pad is not None else math.ceil(3.0 * self.sample_rate / self.low_hz)
        if self.pad < 0:
            raise ValueError(f"pad must be >= 0, got {pad}")
        self._gains: dict[int, np.ndarray] = {}

    def _gain(self, n_fft: int) -> np.ndarray:
        gain = self._gains.get(n_fft)
        if gain is None:
            frequencies = np.fft.rfftfreq(n_fft, d=1.0 / self.sample_rate)
            gain = np.abs(sos_response(self.sos, frequencies, self.sample_rate)) ** 2
            self._gains[n_fft] = gain
        return gain

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Filter ``x`` along its last axis."""
        import torch

        _require_float(x, "BandPass")
        frames = x.shape[-1]
        pad = min(self.pad, frames - 1)
        if pad > 0:
            left = 2 * x[..., :1] - x[..., 1 : pad + 1].flip(-1)
            right = 2 * x[..., -1:] - x[..., -pad - 1 : -1].flip(-1)
            x = torch.cat([left, x, right], dim=-1)
        n_fft = x.shape[-1]
        work = x if x.dtype in (torch.float32, torch.float64) else x.float()
        gain = torch.as_tensor(self._gain(n_fft), dtype=work.dtype, device=x.device)
        filtered: torch.Tensor = torch.fft.irfft(torch.fft.rfft(work, dim=-1) * gain, n=n_fft, dim=-1)
        return filtered[..., pad : pad + frames].to(x.dtype)

    def __repr__(self) -> str:
        return (
            f"BandPass(low_hz={self.low_hz:g}, high_hz={self.high_hz:g}, "
            f"sample_rate={self.sample_rate:g}, order={self.order}, pad={self.pad})"
        )


class CommonMedianReference:
    """Subtract, at every frame, the median across channels (axis ``-2``)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` minus its per-frame median over channels."""
        _require_float(x, "CommonMedianReference")
        return x - x.median(dim=-2, keepdim=True).values

    def __repr__(self) -> str:
        return "CommonMedianReference()"


class ZScore:
    """Standardise every channel over time: ``(x - mean) / (std + eps)``.

    Parameters
    ----------
    eps
        Added to the standard deviation so a flat channel gives zeros, not NaN.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        self.eps = float(eps)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` standardised along its last axis."""
        _require_float(x, "ZScore")
        mean = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, keepdim=True, unbiased=False)
        return (x - mean) / (std + self.eps)

    def __repr__(self) -> str:
        return f"ZScore(eps={self.eps:g})"


class Spectrogram:
    """Short-time power spectrum of every channel.

    Maps ``[..., channels, frames]`` to ``[..., channels, n_fft // 2 + 1, steps]`` with a
    periodic Hann window (``torch.stft``, ``center=True``).

    Parameters
    ----------
    n_fft
        FFT length in frames.
    hop_length
        Frames between successive FFTs; default ``n_fft // 4``.
    power
        Exponent of the magnitude: 2 for power, 1 for amplitude.
    log
        Return ``log(spectrum + eps)`` instead.
    eps
        Offset inside the logarithm.
    """

    def __init__(
        self,
        n_fft: int = 256,
        hop_length: int | None = None,
        power: float = 2.0,
        log: bool = False,
        eps: float = 1e-10,
    ) -> None:
        if n_fft < 2:
            raise ValueError(f"n_fft must be >= 2, got {n_fft}")
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length) if hop_length is not None else max(1, self.n_fft // 4)
        self.power = float(power)
        self.log = log
        self.eps = float(eps)

    def frequencies(self, sample_rate: float) -> np.ndarray:
        """Return the centre frequency in Hz of every output row."""
        return np.fft.rfftfreq(self.n_fft, d=1.0 / sample_rate)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Return the spectrogram of ``x``."""
        import torch

        _require_float(x, "Spectrogram")
        lead = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])
        window = torch.hann_window(self.n_fft, dtype=flat.dtype, device=flat.device)
        spec = torch.stft(
            flat, self.n_fft, hop_length=self.hop_length, window=window, center=True, return_complex=True
        )
        out = spec.abs().pow(self.power)
        if self.log:
            out = torch.log(out + self.eps)
        return out.reshape(*lead, out.shape[-2], out.shape[-1])

    def __repr__(self) -> str:
        return f"Spectrogram(n_fft={self.n_fft}, hop_length={self.hop_length}, power={self.power:g})"

"""Butterworth band-pass design in numpy (no scipy needed).

The coefficients are the ones ``scipy.signal.butter(order, (low, high), "bandpass", fs=fs,
output="sos")`` designs (same analog prototype, band transform and pre-warped bilinear
transform; the tests compare the two frequency responses). Designing them here keeps scipy
out of this distribution's dependencies: a band-pass is four short formulas, and the filter
itself is applied with torch (:class:`braingeneers.ml.transforms.BandPass`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["butter_bandpass_sos", "sos_response"]


def butter_bandpass_sos(low_hz: float, high_hz: float, sample_rate: float, order: int = 4) -> np.ndarray:
    """Design a digital Butterworth band-pass filter as second-order sections.

    Parameters
    ----------
    low_hz, high_hz
        Pass-band edges in Hz (-3 dB points), ``0 < low_hz < high_hz < sample_rate / 2``.
    sample_rate
        Sampling rate in Hz.
    order
        Order of the low-pass prototype; the band-pass has twice as many poles.

    Returns
    -------
    numpy.ndarray
        float64 array ``[order, 6]`` of sections ``b0 b1 b2 a0 a1 a2`` (scipy's ``sos`` layout).
    """
    if order < 1:
        raise ValueError(f"band-pass order must be >= 1, got {order}")
    nyquist = sample_rate / 2.0
    if not 0.0 < low_hz < high_hz < nyquist:
        raise ValueError(
            f"band-pass edges must satisfy 0 < low_hz < high_hz < sample_rate/2 = {nyquist:g} Hz; "
            f"got low_hz={low_hz:g}, high_hz={high_hz:g}"
        )
    fs2 = 2.0 * sample_rate
    # Pre-warp the edges so that the bilinear transform puts them exactly at low_hz/high_hz.
    w_low = fs2 * math.tan(math.pi * low_hz / sample_rate)
    w_high = fs2 * math.tan(math.pi * high_hz / sample_rate)
    bandwidth = w_high - w_low
    centre = math.sqrt(w_low * w_high)
    # Analog low-pass prototype: poles on the left half of the unit circle, no zeros, gain 1.
    prototype = -np.exp(1j * np.pi * np.arange(-order + 1, order, 2) / (2 * order))
    # Low-pass -> band-pass: each pole splits in two; `order` zeros at s = 0.
    scaled = prototype * bandwidth / 2.0
    root = np.sqrt(scaled**2 - centre**2)
    poles = np.concatenate([scaled + root, scaled - root])
    gain = bandwidth**order
    # Bilinear transform: zeros at s = 0 map to z = +1, zeros at infinity to z = -1.
    z_poles = (fs2 + poles) / (fs2 - poles)
    gain = float(np.real(gain * fs2**order / np.prod(fs2 - poles)))
    sections = np.zeros((order, 6))
    sections[:, 0] = 1.0
    sections[:, 2] = -1.0  # (z - 1)(z + 1) = z^2 - 1 in every section
    sections[:, 3] = 1.0
    scale = 1e-9 * np.abs(z_poles).max()
    upper = z_poles[z_poles.imag > scale]
    real = np.sort(z_poles[np.abs(z_poles.imag) <= scale].real)
    row = 0
    for pole in upper:
        sections[row, 4] = -2.0 * pole.real
        sections[row, 5] = abs(pole) ** 2
        row += 1
    for a, b in zip(real[0::2], real[1::2], strict=True):
        sections[row, 4] = -(a + b)
        sections[row, 5] = a * b
        row += 1
    if row != order:  # pragma: no cover - the pole pairing above always gives `order` sections
        raise RuntimeError(f"Butterworth design produced {row} sections instead of {order}")
    sections[0, :3] *= gain
    return sections


def sos_response(sos: np.ndarray, frequencies_hz: np.ndarray, sample_rate: float) -> np.ndarray:
    """Evaluate the complex frequency response of second-order sections.

    Parameters
    ----------
    sos
        ``[n_sections, 6]`` coefficients as returned by :func:`butter_bandpass_sos`.
    frequencies_hz
        Frequencies at which to evaluate, in Hz.
    sample_rate
        Sampling rate in Hz.

    Returns
    -------
    numpy.ndarray
        complex128 response ``H(f)`` with the shape of ``frequencies_hz``.
    """
    omega = 2.0 * np.pi * np.asarray(frequencies_hz, dtype=np.float64) / sample_rate
    z1 = np.exp(-1j * omega)
    z2 = z1 * z1
    response: np.ndarray = np.ones_like(z1)
    for b0, b1, b2, a0, a1, a2 in np.asarray(sos, dtype=np.float64):
        response *= (b0 + b1 * z1 + b2 * z2) / (a0 + a1 * z1 + a2 * z2)
    return response

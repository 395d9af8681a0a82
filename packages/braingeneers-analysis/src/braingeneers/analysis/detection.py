"""Threshold spike detection on raw recordings, streamed in chunks.

Works on any object shaped like ``braingeneers.data``'s ``Recording`` (this
package does not import it): ``num_channels``, ``num_frames``, ``sample_rate``
(Hz) and ``read(start, stop, channels=None, units="uV")`` returning a
channels x frames array. A 10-minute 1024-channel recording is never loaded
whole: chunks of ``chunk_seconds`` are read, band-passed by a causal
Butterworth filter whose state carries from chunk to chunk, and thresholded.
Because the filter state, the "already above threshold" flag and the
refractory clock all carry over, the spikes found do not depend on the chunk
size: they equal one pass over the whole recording.

Algorithm, per channel:

1. Filter: ``scipy.signal.sosfilt`` band-pass ``lowcut``-``highcut`` Hz of order
   ``order``, starting from rest (zero state).
2. Noise: ``sigma = median(|x|) / 0.6745`` (the median absolute deviation of
   zero-mean noise) over the first ``noise_seconds`` of the filtered signal
   (at most 20000 evenly spaced frames per channel). The start is read twice:
   once for the noise, once for detection.
3. Threshold crossings: a spike is the first sample of a run beyond
   ``threshold * sigma`` (below ``-threshold * sigma`` for ``"down"``, above
   for ``"up"``, either for ``"both"``), skipping the first ``settle_ms`` of
   the recording while the filter settles.
4. Refractory period: a crossing less than ``refractory_ms`` after the last
   accepted spike of the channel is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from braingeneers.core.errors import ConfigError

from ._numba import jit
from .spikedata import SpikeData

__all__ = ["RecordingLike", "detect_spikes"]

log = logging.getLogger(__name__)

MAD_TO_SIGMA = 0.6744897501960817
"""``median(|x|) / MAD_TO_SIGMA`` estimates the standard deviation of Gaussian noise."""

NOISE_SAMPLES = 20000
"""At most this many frames per channel (evenly spaced) enter the noise estimate."""


class RecordingLike(Protocol):
    """What :func:`detect_spikes` needs from a recording."""

    @property
    def num_channels(self) -> int:
        """Number of channels."""
        ...

    @property
    def num_frames(self) -> int:
        """Number of frames (samples per channel)."""
        ...

    @property
    def sample_rate(self) -> float:
        """Frames per second (Hz)."""
        ...

    def read(self, start: Any = 0, stop: Any = None, channels: Any = None, units: str = "uV") -> Any:
        """Return frames ``[start, stop)`` as channels x frames."""
        ...


_DIRECTIONS = {"down": 0, "up": 1, "both": 2}


@jit()
def _scan(  # noqa: PLR0917 - a numba kernel takes positional arrays
    x: npt.NDArray[np.float64],
    thr: npt.NDArray[np.float64],
    direction: int,
    above: npt.NDArray[np.bool_],
    last: npt.NDArray[np.int64],
    refractory: int,
    settle: int,
    start: int,
    out_ch: npt.NDArray[np.int64],
    out_fr: npt.NDArray[np.int64],
) -> int:
    """Accept threshold crossings of one chunk, channel by channel; return how many were written.

    ``above`` (beyond threshold at the previous frame) and ``last`` (last accepted frame) carry
    the state from chunk to chunk.
    """
    n = 0
    for c in range(x.shape[0]):
        was = above[c]
        t = thr[c]
        for j in range(x.shape[1]):
            v = x[c, j]
            if direction == 0:
                now = v < -t
            elif direction == 1:
                now = v > t
            else:
                now = v < -t or v > t
            if now and not was:
                frame = start + j
                if frame >= settle and frame - last[c] >= refractory:
                    out_ch[n] = c
                    out_fr[n] = frame
                    n += 1
                    last[c] = frame
            was = now
        above[c] = was
    return n


@dataclass
class _State:
    """What carries from one chunk to the next."""

    zi: npt.NDArray[np.float64]
    above: npt.NDArray[np.bool_]
    last: npt.NDArray[np.int64]


def _noise_level(
    filtered: Callable[[int, int], npt.NDArray[np.float64]], noise_frames: int, chunk: int, n_ch: int
) -> npt.NDArray[np.float64]:
    """MAD noise of every channel over frames ``[0, noise_frames)``, from every stride-th filtered frame.

    The frames used lie on a fixed grid, so the estimate does not depend on the chunk size.
    """
    stride = max(1, noise_frames // NOISE_SAMPLES)
    picks: list[npt.NDArray[np.float32]] = []
    for start in range(0, noise_frames, chunk):
        x = filtered(start, min(start + chunk, noise_frames))
        picks.append(np.abs(x[:, (-start) % stride :: stride]).astype(np.float32))
    sample = np.concatenate(picks, axis=1) if picks else np.zeros((n_ch, 0), dtype=np.float32)
    if not sample.size:
        return np.zeros(n_ch)
    noise: npt.NDArray[np.float64] = np.median(sample, axis=1).astype(np.float64) / MAD_TO_SIGMA
    return noise


def detect_spikes(
    recording: RecordingLike,
    *,
    threshold: float = 5.0,
    direction: Literal["down", "up", "both"] = "down",
    lowcut: float = 300.0,
    highcut: float = 6000.0,
    order: int = 3,
    refractory_ms: float = 1.0,
    noise_seconds: float = 10.0,
    settle_ms: float = 5.0,
    chunk_seconds: float = 1.0,
    channels: Any = None,
) -> SpikeData:
    """Detect spikes on every channel of a raw recording, streaming it in chunks.

    Parameters
    ----------
    recording
        Object with ``num_channels``, ``num_frames``, ``sample_rate`` (Hz) and
        ``read(start, stop, channels=None, units="uV")``.
    threshold
        Multiple of the MAD noise estimate.
    direction
        ``"down"`` (negative peaks, the usual extracellular spike), ``"up"`` or ``"both"``.
    lowcut, highcut
        Band-pass corners (Hz); ``highcut`` is capped just below the Nyquist frequency.
    order
        Butterworth order (causal, so the order is not doubled).
    refractory_ms
        Minimum time between two spikes of one channel.
    noise_seconds
        Length of the recording's start used for the noise estimate.
    settle_ms
        Crossings in the first ``settle_ms`` are ignored (filter start-up).
    chunk_seconds
        Frames read at once; memory is about ``channels x chunk`` float64 values.
        The result does not depend on it.
    channels
        Channels to scan (anything ``recording.read`` accepts as a list of
        indices); default all. Unit ``i`` of the result is ``channels[i]``.

    Returns
    -------
    SpikeData
        One unit per channel, times in ms at the crossing sample, ``length`` the
        recording's duration. ``metadata`` holds ``channels``, the per-channel
        ``noise_uv`` and ``threshold_uv``, and the detection parameters.
    """
    from scipy import signal

    fs = float(recording.sample_rate)
    n_frames = int(recording.num_frames)
    chans = (
        np.arange(int(recording.num_channels)) if channels is None else np.asarray(channels, dtype=np.int64)
    )
    if threshold <= 0 or refractory_ms < 0 or chunk_seconds <= 0 or noise_seconds <= 0:
        raise ConfigError("detect_spikes: threshold, chunk_seconds and noise_seconds must be positive")
    if direction not in ("down", "up", "both"):
        raise ConfigError(f"detect_spikes: direction must be 'down', 'up' or 'both', got {direction!r}")
    nyquist = fs / 2
    high = min(highcut, 0.95 * nyquist)
    if not 0 < lowcut < high:
        raise ConfigError(f"detect_spikes: need 0 < lowcut < highcut < {nyquist} Hz, got {lowcut}-{highcut}")
    sos = signal.butter(order, [lowcut, high], btype="bandpass", fs=fs, output="sos")
    chunk = max(1, round(chunk_seconds * fs))
    noise_frames = min(n_frames, max(1, round(noise_seconds * fs)))
    settle = round(settle_ms * fs / 1e3)
    refractory = round(refractory_ms * fs / 1e3)
    n_ch = chans.size
    code = _DIRECTIONS[direction]
    state = _State(
        zi=np.zeros((sos.shape[0], n_ch, 2)),
        above=np.zeros(n_ch, dtype=bool),
        last=np.full(n_ch, np.iinfo(np.int64).min // 2, dtype=np.int64),
    )

    def filtered(start: int, stop: int) -> npt.NDArray[np.float64]:
        data = np.asarray(recording.read(start, stop, channels=chans, units="uV"), dtype=np.float64)
        if data.shape != (n_ch, stop - start):
            raise ConfigError(
                f"detect_spikes: recording.read({start}, {stop}) returned shape {data.shape}, "
                f"expected {(n_ch, stop - start)} (channels x frames)"
            )
        out, state.zi = signal.sosfilt(sos, data, axis=1, zi=state.zi)
        return np.asarray(out, dtype=np.float64)

    noise = _noise_level(filtered, noise_frames, chunk, n_ch)
    thr = threshold * noise

    # pass 2, over the whole recording from a filter at rest
    state.zi = np.zeros_like(state.zi)
    found_ch: list[npt.NDArray[np.int64]] = []
    found_fr: list[npt.NDArray[np.int64]] = []
    for start in range(0, n_frames, chunk):
        stop = min(start + chunk, n_frames)
        x = filtered(start, stop)
        capacity = n_ch * ((stop - start) // max(refractory, 1) + 1)
        out_ch = np.empty(capacity, dtype=np.int64)
        out_fr = np.empty(capacity, dtype=np.int64)
        found = _scan(x, thr, code, state.above, state.last, refractory, settle, start, out_ch, out_fr)
        found_ch.append(out_ch[:found].copy())
        found_fr.append(out_fr[:found].copy())
        log.debug("detect_spikes: frames %d-%d of %d", start, stop, n_frames)
    units = np.concatenate(found_ch) if found_ch else np.zeros(0, dtype=np.int64)
    frames = np.concatenate(found_fr) if found_fr else np.zeros(0, dtype=np.int64)
    return SpikeData.from_idces_times(
        units,
        frames / fs * 1e3,
        N=n_ch,
        length=n_frames / fs * 1e3,
        metadata={
            "channels": chans.tolist(),
            "noise_uv": noise.tolist(),
            "threshold_uv": thr.tolist(),
            "detection": {
                "threshold": threshold,
                "direction": direction,
                "band_hz": [lowcut, high],
                "order": order,
                "refractory_ms": refractory_ms,
                "noise_seconds": noise_frames / fs,
                "settle_ms": settle_ms,
            },
        },
    )

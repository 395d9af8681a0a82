"""Butterworth filters for raw voltage traces (scipy, imported on first use)."""
# ruff: noqa: N803, PLR0917 - the legacy argument names and positional order are kept

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from braingeneers.core.errors import ConfigError

__all__ = ["butter_filter", "filter"]


def butter_filter(
    data: Any,
    lowcut: float | None = None,
    highcut: float | None = None,
    fs: float = 20000.0,
    order: int = 5,
) -> npt.NDArray[np.float64]:
    """Filter ``data`` along its last axis with a zero-phase Butterworth filter.

    Band-pass when both cut-offs are given, high-pass with only ``lowcut``,
    low-pass with only ``highcut``; second-order sections run forwards and
    backwards (``scipy.signal.sosfiltfilt``), so the effective order doubles and
    there is no phase shift. The whole array is filtered at once; for long
    recordings use :func:`filter` (causal, streaming) or
    :mod:`braingeneers.analysis.detection`.

    Parameters
    ----------
    data
        Array with time on the last axis.
    lowcut, highcut
        Cut-off frequencies in Hz.
    fs
        Sample rate in Hz.
    order
        Butterworth order.

    Raises
    ------
    ConfigError
        If neither cut-off is given or ``lowcut >= highcut``.
    """
    from scipy import signal

    if lowcut is None and highcut is None:
        raise ConfigError("butter_filter: give lowcut (high-pass), highcut (low-pass) or both (band-pass)")
    if lowcut is not None and highcut is not None:
        if lowcut >= highcut:
            raise ConfigError(f"butter_filter: lowcut {lowcut} Hz must be below highcut {highcut} Hz")
        wn: Any = [lowcut, highcut]
        btype = "bandpass"
    elif lowcut is not None:
        wn, btype = lowcut, "highpass"
    else:
        wn, btype = highcut, "lowpass"
    sos = signal.iirfilter(order, wn, btype=btype, ftype="butter", output="sos", fs=fs)
    return np.asarray(signal.sosfiltfilt(sos, np.asarray(data, dtype=np.float64), axis=-1), dtype=np.float64)


def filter(
    raw_data: Any,
    fs_Hz: float = 20000,
    filter_order: int = 3,
    filter_lo_Hz: float = 300,
    filter_hi_Hz: float = 6000,
    time_step_size_s: float = 10,
    channel_step_size: int = 100,
    verbose: int = 0,
    zi: npt.NDArray[np.float64] | None = None,
    return_zi: bool = False,
) -> npt.NDArray[np.float64] | tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Band-pass ``raw_data`` (channels x samples) with a causal Butterworth filter, in time chunks.

    The filter (``scipy.signal.lfilter``) runs over ``time_step_size_s``-second
    chunks carrying its state, so the output equals one pass over the whole
    array. Without ``zi`` the initial state is the steady state scaled by the
    mean of each channel's first 5 samples (no start-up transient for an
    offset signal). Pass the returned state back as ``zi`` to filter a
    recording piece by piece. The output is float64 whatever the input dtype.

    Parameters
    ----------
    raw_data
        Channels x samples (a 1-D array is one channel).
    fs_Hz
        Sample rate in Hz.
    filter_order
        Butterworth order.
    filter_lo_Hz, filter_hi_Hz
        Pass band in Hz.
    time_step_size_s
        Chunk length in seconds (memory only; the result does not depend on it).
    channel_step_size
        Accepted for compatibility; channels are filtered together.
    verbose
        Log each chunk at INFO level when non-zero.
    zi
        Filter state from a previous call (channels x order·2).
    return_zi
        Also return the final filter state.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        The filtered data, and the final state when ``return_zi``.
    """
    import logging

    from scipy import signal

    log = logging.getLogger(__name__)
    del channel_step_size
    data = np.asarray(raw_data)
    one_channel = data.ndim == 1
    data2 = np.atleast_2d(data)
    if filter_lo_Hz >= filter_hi_Hz:
        raise ConfigError(f"filter: filter_lo_Hz {filter_lo_Hz} must be below filter_hi_Hz {filter_hi_Hz}")
    b, a = signal.butter(filter_order, [filter_lo_Hz, filter_hi_Hz], btype="bandpass", fs=fs_Hz)
    if zi is None:
        start = data2[:, :5].astype(np.float64).mean(axis=1) if data2.shape[1] else np.zeros(data2.shape[0])
        state = signal.lfilter_zi(b, a)[None, :] * start[:, None]
    else:
        state = np.asarray(zi, dtype=np.float64)
        if state.shape != (data2.shape[0], max(len(a), len(b)) - 1):
            raise ConfigError(f"filter: zi has shape {state.shape}, expected {(data2.shape[0], len(a) - 1)}")
    out = np.empty(data2.shape, dtype=np.float64)
    step = max(1, int(time_step_size_s * fs_Hz))
    for begin in range(0, data2.shape[1], step):
        end = min(begin + step, data2.shape[1])
        out[:, begin:end], state = signal.lfilter(
            b, a, data2[:, begin:end].astype(np.float64), axis=1, zi=state
        )
        if verbose:
            log.info("filter: samples %d-%d of %d", begin, end, data2.shape[1])
    result = out[0] if one_channel else out
    return (result, state) if return_zi else result

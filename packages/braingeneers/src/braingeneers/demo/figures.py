"""The demo report's figures. Each function saves a PNG and returns the numbers it drew."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["draw_raster", "draw_sttc", "draw_traces"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_raster(
    sd: Any, bursts_ms: list[tuple[float, float]], path: Path, window_ms: tuple[float, float]
) -> dict[str, Any]:
    """Raster of every unit in ``window_ms`` with the detected network bursts shaded."""
    from braingeneers.analysis.plot import plot_raster

    start, stop = window_ms
    shown_sd = sd.subtime(start, stop)  # times shift to start at 0
    inside = [(a, b) for a, b in bursts_ms if b >= start and a < stop]
    shifted = [(max(a, start) - start, min(b, stop) - start) for a, b in inside]
    figure = plot_raster(shown_sd, bursts=shifted)
    figure.axes[0].set_title(
        f"Raster of {sd.N} units, {start / 1e3:g}-{stop / 1e3:g} s; network bursts shaded"
    )
    figure.savefig(path, dpi=120)
    _pyplot().close(figure)
    shown = shown_sd.train
    return {
        "file": path.name,
        "window_ms": [start, stop],
        "units": len(shown),
        "spikes_drawn": int(sum(len(t) for t in shown)),
        "bursts_shaded": len(inside),
        "burst_windows_ms": [[a, b] for a, b in inside],
    }


def draw_sttc(matrix: np.ndarray, path: Path, delt_ms: float) -> dict[str, Any]:
    """Heatmap of the STTC matrix."""
    from braingeneers.analysis.plot import plot_sttc

    figure = plot_sttc(matrix)
    figure.axes[0].set_title(f"Spike time tiling coefficient, Δt = {delt_ms:g} ms")
    figure.savefig(path, dpi=120)
    _pyplot().close(figure)
    return {
        "file": path.name,
        "shape": list(matrix.shape),
        "min": float(matrix.min()),
        "max": float(matrix.max()),
        "diagonal": float(np.mean(np.diag(matrix))),
    }


def draw_traces(
    recording: Any,
    channels: list[int],
    trains_ms: list[np.ndarray],
    path: Path,
    *,
    centre_ms: float,
    seconds: float = 0.4,
) -> dict[str, Any]:
    """Voltage traces (µV) of a few channels, ``seconds`` long around ``centre_ms``, detections marked."""
    plt = _pyplot()
    fs = float(recording.sample_rate)
    width = round(seconds * fs)
    centre = centre_ms
    start = int(np.clip(round(centre / 1e3 * fs) - width // 2, 0, recording.num_frames - width))
    data = recording.read(start, start + width, channels=channels, units="uV")
    t_ms = (start + np.arange(width)) / fs * 1e3
    figure, axes = plt.subplots(len(channels), 1, sharex=True, figsize=(9, 1.8 * len(channels)))
    axes = np.atleast_1d(axes)
    marked = []
    for axis, channel, trace in zip(axes, channels, data, strict=True):
        axis.plot(t_ms, trace, lw=0.5, color="black")
        spikes = trains_ms[channel][(trains_ms[channel] >= t_ms[0]) & (trains_ms[channel] <= t_ms[-1])]
        axis.plot(spikes, np.full(spikes.shape, trace.min() * 1.1), "^", color="tab:red", ms=4)
        axis.set_ylabel(f"ch {channel}\nµV")
        marked.append(int(spikes.size))
    axes[-1].set_xlabel("time (ms)")
    axes[0].set_title("Raw voltage (µV, not filtered) around a network burst; detected spikes ▲")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return {
        "file": path.name,
        "channels": channels,
        "start_frame": start,
        "frames": width,
        "min_uv": [float(x) for x in data.min(axis=1)],
        "max_uv": [float(x) for x in data.max(axis=1)],
        "spikes_marked": marked,
    }

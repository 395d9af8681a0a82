"""``SpikeData``: spike trains of one recording, in ms, with the network metrics on top.

The class keeps the constructor, attributes, units and public methods of the
``spikedata`` 0.2.2 package, so notebooks written against it run unchanged after
swapping the import. Hot paths call the numba kernels of this package
(:mod:`braingeneers.analysis.sttc`, :mod:`~braingeneers.analysis.surrogates`,
:mod:`~braingeneers.analysis.latencies`, :mod:`~braingeneers.analysis.bursts`,
:mod:`~braingeneers.analysis.criticality`); scipy is imported only by the
methods that need it. Every place where the result deliberately differs from
spikedata 0.2.2 is listed on the "differences from spikedata" docs page.
"""
# ruff: noqa: N803, PLR0917 - spikedata 0.2.2's public argument names and positional order are kept

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator, Sequence
from types import EllipsisType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from braingeneers.core.errors import ConfigError, FormatError

from . import raster as _raster
from . import trains as _trains
from .attributes import NestIDNeuronAttributes

if TYPE_CHECKING:
    import scipy.sparse

    from .bursts import Bursts
    from .criticality import DCCResult

__all__ = ["SpikeData"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


def _unit_factor(unit: str) -> float:
    if unit == "kHz":
        return 1.0
    if unit == "Hz":
        return 1e3
    raise ConfigError(f"unit must be 'kHz' or 'Hz', got {unit!r}")


class SpikeData:
    """Spike trains of ``N`` units over a recording of ``length`` ms starting at 0.

    Parameters
    ----------
    train
        One array-like of spike times (ms) per unit; each is copied to a sorted float64 array.
    N
        Number of units; larger than ``len(train)`` pads with empty trains (never truncates).
    length
        Recording length in ms; default the last spike time (0 when there are no spikes).
    neuron_attributes
        One attribute record per unit (e.g. :class:`~braingeneers.analysis.attributes.NeuronAttributes`);
        an empty list means none.
    metadata
        Free-form dict, shallow-copied.
    raw_data
        Raw traces, channels x samples (time on the last axis); requires ``raw_time``.
    raw_time
        Sample times in ms (one per sample), or a scalar sample rate in kHz giving
        ``arange(n_samples) / raw_time``.

    Attributes
    ----------
    train : list of numpy.ndarray
        Sorted float64 spike times (ms) per unit.
    N : int
        Number of units.
    length : float
        Recording length (ms).
    metadata : dict
        Free-form metadata.
    neuron_attributes : list or None
        Per-unit attribute records.
    raw_data : numpy.ndarray
        Raw traces (``zeros((0, 0))`` when absent).
    raw_time : numpy.ndarray
        Raw sample times in ms (``zeros(0)`` when absent).
    """

    train: list[FloatArray]
    N: int
    length: float
    metadata: dict[str, Any]
    neuron_attributes: list[Any] | None
    raw_data: npt.NDArray[Any]
    raw_time: FloatArray

    def __init__(
        self,
        train: Iterable[Any],
        *,
        N: int | None = None,
        length: float | None = None,
        neuron_attributes: Sequence[Any] | None = None,
        metadata: dict[str, Any] | None = None,
        raw_data: npt.ArrayLike | None = None,
        raw_time: npt.ArrayLike | float | None = None,
    ) -> None:
        trains = [np.sort(np.asarray(t, dtype=np.float64).reshape(-1)) for t in train]
        self._setup(trains, N, length, neuron_attributes, metadata, raw_data, raw_time)

    def _setup(
        self,
        trains: list[FloatArray],
        N: int | None,
        length: float | None,
        neuron_attributes: Sequence[Any] | None,
        metadata: dict[str, Any] | None,
        raw_data: npt.ArrayLike | None,
        raw_time: npt.ArrayLike | float | None,
    ) -> None:
        if N is not None:
            if len(trains) > N:
                raise ConfigError(
                    f"N={N} is smaller than the {len(trains)} trains given; pass N >= len(train)"
                )
            trains = [*trains, *(np.zeros(0, dtype=np.float64) for _ in range(N - len(trains)))]
        self.train = trains
        self.N = len(trains)
        if length is None:
            lasts = [t[-1] for t in trains if t.size]
            length = float(max(lasts)) if lasts else 0.0
        self.length = float(length)
        self.metadata = dict(metadata) if metadata else {}
        if neuron_attributes is not None and len(neuron_attributes) == 0:
            neuron_attributes = None
        if neuron_attributes is not None and len(neuron_attributes) != self.N:
            raise ConfigError(
                f"neuron_attributes has {len(neuron_attributes)} entries for {self.N} units; need one each"
            )
        self.neuron_attributes = list(neuron_attributes) if neuron_attributes is not None else None
        if (raw_data is None) != (raw_time is None):
            raise ConfigError("raw_data and raw_time must be given together (or neither)")
        if raw_data is None:
            self.raw_data = np.zeros((0, 0))
            self.raw_time = np.zeros(0)
        else:
            data = np.asarray(raw_data)
            if isinstance(raw_time, (int, float, np.number)):
                rate = float(raw_time)
                if rate <= 0:
                    raise ConfigError(f"raw_time as a sample rate must be positive (kHz), got {rate}")
                times = np.arange(data.shape[-1]) / rate
            else:
                times = np.asarray(raw_time, dtype=np.float64)
                if times.shape != (data.shape[-1],):
                    raise ConfigError(
                        f"raw_time has shape {times.shape} but raw_data has {data.shape[-1]} samples; "
                        "pass one time per sample or a sample rate in kHz"
                    )
            self.raw_data = data
            self.raw_time = times

    # ------------------------------------------------------------------ constructors

    @staticmethod
    def from_idces_times(
        idces: npt.ArrayLike, times: npt.ArrayLike, N: int | None = None, **kwargs: Any
    ) -> SpikeData:
        """Build from parallel arrays of unit indices and spike times (ms).

        Parameters
        ----------
        idces
            Unit index of each spike, ``0..N-1``.
        times
            Spike time (ms) of each spike; any order.
        N
            Number of units; default ``max(idces) + 1``.
        **kwargs
            Passed to the constructor (``length``, ``metadata``, ...).
        """
        try:
            trains = _trains.trains_from_events(idces, times, N)
        except ValueError as err:
            raise FormatError(f"from_idces_times: {err}") from err
        return SpikeData._from_trains(trains, **kwargs)

    @staticmethod
    def from_events(events: Iterable[tuple[int, float]], N: int | None = None, **kwargs: Any) -> SpikeData:
        """Build from an iterable of ``(unit index, time in ms)`` pairs."""
        pairs = list(events)
        idces = np.array([p[0] for p in pairs], dtype=np.int64)
        times = np.array([p[1] for p in pairs], dtype=np.float64)
        return SpikeData.from_idces_times(idces, times, N, **kwargs)

    @staticmethod
    def from_raster(raster: Any, bin_size_ms: float, **kwargs: Any) -> SpikeData:
        """Build from a units x bins count raster (dense, integer-valued float, or ``scipy.sparse``).

        ``k`` spikes in bin ``t`` are placed at ``t·b + j·b/(k+1)`` for ``j = 1..k``, so
        ``SpikeData.from_raster(r, b).raster(b)`` gives ``r`` back. ``length``
        defaults to ``T·b``.
        """
        try:
            trains = _raster.trains_from_raster(raster, bin_size_ms)
        except ValueError as err:
            raise FormatError(f"from_raster: {err}") from err
        kwargs.setdefault("length", raster.shape[1] * bin_size_ms)
        return SpikeData._from_trains(trains, **kwargs)

    @staticmethod
    def from_nest(
        spike_recorder: Any, *nodeses: Any, neuron_attributes: Sequence[Any] | None = None, **kwargs: Any
    ) -> SpikeData:
        """Build from a NEST spike recorder, keeping the listed node ids in the given order.

        Parameters
        ----------
        spike_recorder
            Anything with ``events`` (or ``get("events")``) holding ``senders`` and ``times`` (ms).
        *nodeses
            Node ids or collections of node ids to keep; none given keeps every sender, ascending.
        neuron_attributes
            Per-unit records; default one
            :class:`~braingeneers.analysis.attributes.NestIDNeuronAttributes` per node.
        """
        events = spike_recorder.events if hasattr(spike_recorder, "events") else spike_recorder.get("events")
        if isinstance(events, (list, tuple)):
            events = events[0]
        senders = np.asarray(events["senders"], dtype=np.int64)
        times = np.asarray(events["times"], dtype=np.float64)
        ids: list[int] = []
        for nodes in nodeses:
            listed = nodes.tolist() if hasattr(nodes, "tolist") else nodes
            if isinstance(listed, (int, np.integer)):
                ids.append(int(listed))
            else:
                ids.extend(int(n) for n in listed)
        if not nodeses:
            ids = sorted(set(senders.tolist()))
        lookup = {node: i for i, node in enumerate(ids)}
        idces = np.array([lookup.get(int(s), -1) for s in senders], dtype=np.int64)
        keep = idces >= 0
        if neuron_attributes is None:
            neuron_attributes = [NestIDNeuronAttributes(node) for node in ids]
        return SpikeData.from_idces_times(
            idces[keep], times[keep], N=len(ids), neuron_attributes=neuron_attributes, **kwargs
        )

    @staticmethod
    def from_neo_spiketrains(spiketrains: Sequence[Any], **kwargs: Any) -> SpikeData:
        """Build from ``neo.SpikeTrain`` objects, converting their times to ms.

        ``length`` defaults to the latest ``t_stop`` (in ms) of the trains.
        """
        trains = []
        stops = []
        for st in spiketrains:
            trains.append(np.asarray(st.rescale("ms").magnitude, dtype=np.float64).reshape(-1))
            if getattr(st, "t_stop", None) is not None:
                stops.append(float(st.t_stop.rescale("ms").magnitude))
        if stops:
            kwargs.setdefault("length", max(stops))
        return SpikeData(trains, **kwargs)

    @staticmethod
    def from_mbt_neurons(neurons: Iterable[Any], **kwargs: Any) -> SpikeData:
        """Build from MuscleBeachTools neurons: ``spike_time`` (samples) / ``fs`` (Hz) → ms."""
        trains = [np.asarray(n.spike_time, dtype=np.float64) / n.fs * 1e3 for n in neurons]
        return SpikeData(trains, **kwargs)

    @staticmethod
    def from_thresholding(
        data: npt.ArrayLike,
        fs_Hz: float = 20e3,
        threshold_sigma: float = 5.0,
        filter: dict[str, Any] | bool = True,
        hysteresis: bool = True,
        direction: Literal["both", "up", "down"] = "both",
    ) -> SpikeData:
        """Detect threshold crossings in raw traces (channels x samples), one unit per channel.

        The data are optionally band-passed (``filter=True``: 300-6000 Hz, order 3,
        zero-phase; a dict gives :func:`~braingeneers.analysis.filtering.butter_filter`
        keyword arguments), thresholded at ``threshold_sigma`` standard deviations
        of each channel (``direction`` ``"up"``, ``"down"`` or ``"both"``); with
        ``hysteresis`` only the first sample of each supra-threshold run counts,
        placed half a sample before it. The filtered data are kept as ``raw_data``.
        For long recordings see :mod:`braingeneers.analysis.detection`.
        """
        from .filtering import butter_filter

        values = np.asarray(data)
        if filter is True:
            filter = {"lowcut": 300.0, "highcut": 6000.0, "order": 3}
        if isinstance(filter, dict):
            values = butter_filter(values, fs=fs_Hz, **filter)
        values = np.asarray(values, dtype=np.float64)
        threshold = threshold_sigma * values.std(axis=1, keepdims=True)
        if direction == "both":
            above = np.abs(values) > threshold
        elif direction == "up":
            above = values > threshold
        elif direction == "down":
            above = values < -threshold
        else:
            raise ConfigError(f"direction must be 'both', 'up' or 'down', got {direction!r}")
        if hysteresis:
            above = above[:, 1:] & ~above[:, :-1]
        return SpikeData.from_raster(above, 1e3 / fs_Hz, raw_data=values, raw_time=fs_Hz / 1e3)

    @staticmethod
    def _from_trains(
        trains: list[FloatArray],
        *,
        N: int | None = None,
        length: float | None = None,
        neuron_attributes: Sequence[Any] | None = None,
        metadata: dict[str, Any] | None = None,
        raw_data: npt.ArrayLike | None = None,
        raw_time: npt.ArrayLike | float | None = None,
    ) -> SpikeData:
        """Build from trains that are already sorted float64 arrays (kept without copying)."""
        out = SpikeData.__new__(SpikeData)
        out._setup(trains, N, length, neuron_attributes, metadata, raw_data, raw_time)
        return out

    # ------------------------------------------------------------------ access

    @property
    def times(self) -> Iterator[float]:
        """Iterate over all spike times (ms) in time order (ties by unit index)."""
        _, times = self.idces_times()
        return iter(times.tolist())

    @property
    def events(self) -> Iterator[tuple[int, float]]:
        """Iterate over ``(unit index, time)`` pairs in time order (ties by unit index)."""
        idces, times = self.idces_times()
        return zip(idces.tolist(), times.tolist(), strict=True)

    def idces_times(self) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """Return ``(unit indices, times)`` of all spikes in time order (ties by unit index)."""
        times, units = _trains.events_from_trains(self.train)
        return units, times

    def frames(self, length: float, overlap: float = 0) -> Iterator[SpikeData]:
        """Yield consecutive windows ``subtime(s, s + length)``, ``s = 0, length - overlap, ...``.

        The last window is shorter when ``length - overlap`` does not divide the recording.
        """
        step = length - overlap
        if step <= 0:
            raise ConfigError(f"frames: overlap {overlap} must be smaller than the frame length {length}")
        start = 0.0
        while start < self.length:
            yield self.subtime(start, start + length)
            start += step

    def subset(self, units: Any, by: str | None = None) -> SpikeData:
        """Return the units whose index (or attribute ``by``) is in ``units``, in their original order.

        Parameters
        ----------
        units
            One value or an iterable of values; treated as a set.
        by
            Neuron-attribute name to match on instead of the unit index; units lacking it are excluded.
        """
        if isinstance(units, (int, np.integer, str)) or not isinstance(units, Iterable):
            wanted = {units}
        else:
            wanted = set(units)
        if by is None:
            keep = [i for i in range(self.N) if i in wanted]
        else:
            if self.neuron_attributes is None:
                raise ConfigError(f"subset(by={by!r}) needs neuron_attributes, and this SpikeData has none")
            missing = object()
            keep = [
                i
                for i, attrs in enumerate(self.neuron_attributes)
                if (value := getattr(attrs, by, missing)) is not missing and value in wanted
            ]
        attrs = [self.neuron_attributes[i] for i in keep] if self.neuron_attributes is not None else None
        out = SpikeData._from_trains(
            [self.train[i] for i in keep],
            N=len(keep),
            length=self.length,
            neuron_attributes=attrs,
            metadata=self.metadata,
        )
        out.raw_data, out.raw_time = self.raw_data, self.raw_time
        return out

    def subtime(self, start: float | EllipsisType | None, end: float | EllipsisType | None) -> SpikeData:
        """Return the spikes in ``(start, end]`` (``[0, end]`` when ``start`` is 0), shifted by ``-start``.

        Negative values count back from the end; ``None`` or ``...`` leave that end
        open; ``end`` is clipped to ``length``. Raw samples are kept in the closed
        interval ``[start, end]``.
        """
        lo = 0.0 if start is None or isinstance(start, type(Ellipsis)) else float(start)
        hi = self.length if end is None or isinstance(end, type(Ellipsis)) else float(end)
        if lo < 0:
            lo += self.length
        if hi < 0:
            hi += self.length
        hi = min(hi, self.length)
        lo = max(lo, 0.0)
        if hi < lo:
            raise ConfigError(f"subtime: end {hi} ms is before start {lo} ms")
        trains = []
        for t in self.train:
            first = 0 if lo == 0 else int(np.searchsorted(t, lo, side="right"))
            last = int(np.searchsorted(t, hi, side="right"))
            trains.append(t[first:last] - lo)
        out = SpikeData._from_trains(
            trains, length=hi - lo, neuron_attributes=self.neuron_attributes, metadata=self.metadata
        )
        if self.raw_time.size:
            keep = (self.raw_time >= lo) & (self.raw_time <= hi)
            out.raw_data = self.raw_data[..., keep]
            out.raw_time = self.raw_time[keep] - lo
        return out

    def __getitem__(self, key: Any) -> SpikeData:
        """Slice in time (``sd[a:b]`` = ``subtime(a, b)``, step ignored) or select units (``subset``)."""
        if isinstance(key, slice):
            return self.subtime(key.start, key.stop)
        return self.subset(key)

    def append(self, spikeData: SpikeData, offset: float = 0) -> SpikeData:
        """Return this recording followed by ``spikeData``, which starts ``offset`` ms after the end.

        Both must have the same ``N``. Raw traces are concatenated in time (both or
        neither must have them); metadata are merged (this one wins); neuron
        attributes come from this one.
        """
        other = spikeData
        if other.N != self.N:
            raise ConfigError(f"append: both SpikeData need the same N, got {self.N} and {other.N}")
        shift = self.length + offset
        trains = [np.concatenate([a, b + shift]) for a, b in zip(self.train, other.train, strict=True)]
        out = SpikeData._from_trains(
            trains,
            length=self.length + offset + other.length,
            neuron_attributes=self.neuron_attributes,
            metadata={**other.metadata, **self.metadata},
        )
        mine, theirs = self.raw_time.size > 0, other.raw_time.size > 0
        if mine != theirs:
            raise FormatError(
                "append: only one of the two SpikeData has raw_data; drop it from the other "
                "(sd.raw_data = numpy.zeros((0, 0)); sd.raw_time = numpy.zeros(0)) or give both"
            )
        if mine:
            out.raw_data = np.concatenate([self.raw_data, other.raw_data], axis=-1)
            out.raw_time = np.concatenate([self.raw_time, other.raw_time + shift])
        return out

    def concatenate_spike_data(self, sd: SpikeData) -> None:
        """Add the units of ``sd`` (cut to this recording's length) to this SpikeData, in place.

        Metadata are updated with ``sd``'s. Neuron attributes are concatenated; if
        only one side has them, the other side's units get ``None`` (with a
        warning). Raw traces: if only ``sd`` has them they are taken over; if both
        have them on the same sample times their channels are stacked; otherwise a
        ``FormatError`` is raised (raw traces are never added element-wise).
        """
        other = sd.subtime(0, self.length) if sd.length > self.length else sd
        n_before = self.N
        if (self.neuron_attributes is None) != (other.neuron_attributes is None):
            warnings.warn(
                "concatenate_spike_data: only one SpikeData has neuron_attributes; "
                "the other's units get None",
                stacklevel=2,
            )
        if self.neuron_attributes is not None or other.neuron_attributes is not None:
            mine = self.neuron_attributes if self.neuron_attributes is not None else [None] * n_before
            theirs = other.neuron_attributes if other.neuron_attributes is not None else [None] * other.N
            attrs: list[Any] | None = [*mine, *theirs]
        else:
            attrs = None
        if other.raw_time.size:
            if not self.raw_time.size:
                self.raw_data, self.raw_time = other.raw_data, other.raw_time
            elif np.array_equal(self.raw_time, other.raw_time):
                self.raw_data = np.concatenate([self.raw_data, other.raw_data], axis=0)
            else:
                raise FormatError(
                    "concatenate_spike_data: both SpikeData have raw_data but on different sample times; "
                    "drop one side's raw_data first"
                )
        self.train = [*self.train, *other.train]
        self.N = len(self.train)
        self.metadata.update(other.metadata)
        self.neuron_attributes = attrs

    # ------------------------------------------------------------------ binning and rates

    def sparse_raster(self, bin_size: float = 20.0) -> scipy.sparse.csr_array:
        """Return the units x bins spike-count raster as a canonical int64 ``scipy.sparse.csr_array``.

        Bins are ``(k·b, (k+1)·b]`` (``t = 0`` in bin 0), ``ceil(length / b)`` of them;
        spikes outside ``[0, length]`` land in the first or last bin.
        """
        return _raster.sparse_raster(self.train, bin_size, self.length)

    def raster(self, bin_size: float = 20.0, *, dtype: npt.DTypeLike = np.int64) -> npt.NDArray[Any]:
        """Return the dense units x bins spike-count raster (bins as in :meth:`sparse_raster`).

        Parameters
        ----------
        bin_size
            Bin width (ms).
        dtype
            Element type; a small one (``numpy.uint8``, ``numpy.uint16``) keeps a 1 ms
            raster small. ``OverflowError`` if a count does not fit.
        """
        return _raster.dense_raster(self.train, bin_size, self.length, dtype=dtype)

    def binned(self, bin_size: float = 40.0) -> npt.NDArray[np.int64]:
        """Return the population spike count per bin (bins as in :meth:`sparse_raster`)."""
        n_bins = _raster.bin_count(self.length, bin_size)
        pooled = np.concatenate(self.train) if self.train else np.zeros(0)
        if n_bins == 0:
            return np.zeros(0, dtype=np.int64)
        return np.bincount(_raster.bin_indices(pooled, bin_size, n_bins), minlength=n_bins).astype(np.int64)

    def binned_meanrate(self, bin_size: float = 40, unit: str = "kHz") -> FloatArray:
        """Return the mean firing rate per unit in each bin: ``binned / N / bin_size`` (kHz or Hz)."""
        factor = _unit_factor(unit)
        return np.asarray(self.binned(bin_size) / self.N / bin_size * factor, dtype=np.float64)

    def rates(self, unit: str = "kHz") -> FloatArray:
        """Return each unit's mean firing rate, spike count / ``length``, in ``"kHz"`` or ``"Hz"``."""
        factor = _unit_factor(unit)
        counts = np.array([t.size for t in self.train], dtype=np.float64)
        return np.asarray(counts / self.length * factor, dtype=np.float64)

    def population_firing_rate(
        self, bin_size: float = 10, w: int = 5, average: bool = False
    ) -> tuple[FloatArray, FloatArray]:
        """Return ``(bin centres, smoothed population rate in kHz)`` over the whole recording.

        See :func:`braingeneers.analysis.metrics.population_firing_rate`.
        """
        from .metrics import population_firing_rate

        return population_firing_rate(self.train, self.length, bin_size, w, average)

    def resampled_isi(self, times: npt.ArrayLike, sigma_ms: float = 10.0) -> FloatArray:
        """Return each unit's instantaneous rate 1/ISI (kHz) resampled on ``times`` and smoothed.

        ``1/ISI`` is placed at each ISI's midpoint, linearly interpolated onto
        ``times`` (constant beyond the first and last midpoint) and smoothed with
        a Gaussian of ``sigma_ms`` (``times`` must be a uniform grid). Units with
        fewer than two spikes give zeros.

        Returns
        -------
        numpy.ndarray
            Units x ``len(times)``.
        """
        from scipy.ndimage import gaussian_filter1d

        grid = np.asarray(times, dtype=np.float64)
        out = np.zeros((self.N, grid.size))
        if grid.size == 0:
            return out
        sigma = sigma_ms / (grid[1] - grid[0]) if grid.size > 1 else 0.0
        for i, t in enumerate(self.train):
            if t.size < 2:
                continue
            with np.errstate(divide="ignore"):
                rate = 1.0 / np.diff(t)
            out[i] = np.interp(grid, (t[1:] + t[:-1]) / 2, rate)
        if sigma > 0:
            gaussian_filter1d(out, sigma, axis=1, output=out)  # in place: one call for all units
        return out

    # ------------------------------------------------------------------ ISI family

    def interspike_intervals(self) -> list[FloatArray]:
        """Return each unit's inter-spike intervals (ms)."""
        return [np.diff(t) for t in self.train]

    def isi_skewness(self) -> FloatArray:
        """Return the skewness ``m3 / m2**1.5`` of each unit's ISIs (biased moments, as ``scipy.stats.skew``).

        NaN for a unit without ISIs or with (numerically) constant ISIs.
        """
        isis = self.interspike_intervals()
        counts = np.array([i.size for i in isis], dtype=np.int64)
        out = np.full(self.N, np.nan)
        if counts.sum() == 0:
            return out
        flat = np.concatenate(isis)
        ids = np.repeat(np.arange(self.N), counts)
        n = np.maximum(counts, 1)
        mean = np.bincount(ids, flat, minlength=self.N) / n
        dev = flat - mean[ids]
        m2 = np.bincount(ids, dev * dev, minlength=self.N) / n
        m3 = np.bincount(ids, dev * dev * dev, minlength=self.N) / n
        # scipy's test for a constant sample: m2 at the rounding level of the mean
        defined = (counts > 0) & (m2 > (np.finfo(np.float64).resolution * mean) ** 2)
        out[defined] = m3[defined] / m2[defined] ** 1.5
        return out

    def isi_log_histogram(self, bin_num: int = 300) -> tuple[list[npt.NDArray[np.int64]], list[FloatArray]]:
        """Return each unit's ISI histogram on ``bin_num`` log-spaced bins from its min to max ISI.

        Zero ISIs (coincident spikes) are counted in the first bin and the edges
        start at the smallest positive ISI. A unit with fewer than two spikes gets
        zero counts and NaN edges.

        Returns
        -------
        (list of numpy.ndarray, list of numpy.ndarray)
            Counts (``bin_num``) and edges (``bin_num + 1``) per unit.
        """
        hists: list[npt.NDArray[np.int64]] = []
        edges: list[FloatArray] = []
        for isi in self.interspike_intervals():
            positive = isi[isi > 0]
            if positive.size == 0:
                hists.append(np.zeros(bin_num, dtype=np.int64))
                edges.append(np.full(bin_num + 1, np.nan))
                if isi.size:
                    hists[-1][0] = isi.size
                continue
            # geomspace(a, a) can wobble by an ulp; histogram edges must not decrease
            bins = np.maximum.accumulate(np.geomspace(positive.min(), positive.max(), bin_num + 1))
            hist, _ = np.histogram(positive, bins)
            hist = hist.astype(np.int64)
            hist[0] += isi.size - positive.size
            hists.append(hist)
            edges.append(bins)
        return hists, edges

    def isi_threshold_cma(self, hist: Sequence[Any], bins: Sequence[Any], coef: float = 1) -> list[float]:
        """Return per-unit burst ISI thresholds (Kapucu et al. 2012): ``coef`` x right edge of the CMA peak.

        Parameters
        ----------
        hist, bins
            Per-unit histograms and edges, as :meth:`isi_log_histogram` returns them.
        coef
            Multiplier of the threshold.
        """
        from .metrics import cumulative_moving_average

        out = []
        for cma, edges in zip(cumulative_moving_average(list(hist)), bins, strict=True):
            if cma.size == 0 or not np.any(np.isfinite(edges)):
                out.append(float("nan"))
                continue
            out.append(float(np.asarray(edges)[int(np.argmax(cma)) + 1] * coef))
        return out

    # ------------------------------------------------------------------ correlations

    def spike_time_tiling(
        self,
        i: int,
        j: int,
        delt: float = 20.0,
        *,
        convention: Literal["spikedata", "elephant"] = "spikedata",
    ) -> float:
        """Return the STTC (Cutts & Eglen 2014) of units ``i`` and ``j`` with window ``delt`` ms.

        ``convention="elephant"`` gives NaN for an empty train and 1 for a 0/0
        half-term instead of 0. See :func:`braingeneers.analysis.sttc.spike_time_tiling`.
        """
        from .sttc import spike_time_tiling

        if self.length <= 0:
            raise ConfigError("spike_time_tiling needs a recording with positive length")
        return float(
            spike_time_tiling(self.train[i], self.train[j], delt, self.length, convention=convention)
        )

    def spike_time_tilings(
        self, delt: float = 20.0, *, convention: Literal["spikedata", "elephant"] = "spikedata"
    ) -> FloatArray:
        """Return the N x N STTC matrix (diagonal 1) with window ``delt`` ms.

        Computed in one sweep over the time-sorted spikes; see
        :func:`braingeneers.analysis.sttc.sttc_matrix`.
        """
        from .sttc import sttc_matrix

        if self.length <= 0:
            raise ConfigError("spike_time_tilings needs a recording with positive length")
        return np.asarray(sttc_matrix(self.train, delt, self.length, convention=convention), dtype=np.float64)

    # ------------------------------------------------------------------ bursts, avalanches, criticality

    def burstiness_index(self, bin_size: float = 40.0) -> float:
        """Return Wagenaar's burstiness index of the population counts in ``bin_size`` bins.

        With counts sorted ascending, ``f15`` is the share of spikes in the top
        15 % of bins (from index ``round(0.85·nbins)``) and ``BI = (f15 - 0.15) / 0.85``:
        0 for uniform activity, 1 when every spike falls in one bin; a single bin
        gives 1 and a recording without spikes NaN.
        """
        from .bursts import burstiness_index

        counts = self.binned(bin_size)
        if counts.size == 0 or (counts.size > 1 and counts.sum() == 0):
            return float("nan")
        return burstiness_index(counts)

    def network_bursts(
        self,
        isi_threshold: float,
        *,
        min_spikes: int = 3,
        merge_gap: float = 0.0,
        min_interburst: float = 0.0,
        min_units: int = 1,
        rate_window: float = 10.0,
    ) -> Bursts:
        """Return the network bursts of the pooled spikes with their statistics (not in spikedata).

        Runs of pooled ISIs <= ``isi_threshold`` ms with at least ``min_spikes`` spikes,
        merged when at most ``merge_gap`` ms apart, dropped when starting less than
        ``min_interburst`` ms after the previous burst or with fewer than
        ``min_units`` units. See :func:`braingeneers.analysis.bursts.detect_bursts`;
        the result plots with :func:`braingeneers.analysis.plot.plot_raster`.
        """
        from .bursts import detect_bursts

        return detect_bursts(
            self.train,
            isi_threshold,
            min_spikes=min_spikes,
            merge_gap=merge_gap,
            min_interburst=min_interburst,
            min_units=min_units,
            rate_window=rate_window,
        )

    def avalanches(self, thresh: float, bin_size: float = 40.0) -> list[npt.NDArray[np.int64]]:
        """Return the population counts of every avalanche.

        A bin is active when its count exceeds ``thresh``; an avalanche is a maximal
        run of active bins that touches neither the first nor the last bin.
        """
        from .bursts import avalanches

        return avalanches(self.binned(bin_size), thresh)

    def avalanche_duration_size(
        self, thresh: float, bin_size: float = 40
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
        """Return ``(durations in bins, sizes in spikes)`` of the avalanches of :meth:`avalanches`."""
        from .bursts import avalanche_duration_size

        return avalanche_duration_size(self.binned(bin_size), thresh)

    def deviation_from_criticality(
        self,
        quantile: float = 0.35,
        bin_size: float = 40,
        N: int = 1000,
        pval_truncated: float = 0.05,
        seed: int | np.random.Generator | None = None,
    ) -> DCCResult:
        """Return the deviation from criticality (Ma et al. 2019) of the avalanches.

        The avalanche threshold is the ``quantile`` of the population counts in
        ``bin_size`` bins; ``N`` surrogates per goodness-of-fit test, drawn from
        ``seed``. See :func:`braingeneers.analysis.criticality.deviation_from_criticality`.
        """
        from .criticality import deviation_from_criticality

        return deviation_from_criticality(self.binned(bin_size), quantile, N, pval_truncated, seed)

    # ------------------------------------------------------------------ surrogates

    def randomized(
        self,
        bin_size_ms: float = 1.0,
        seed: int | np.random.Generator | None = None,
        method: Literal["poprate_greedy", "poprate_okun"] = "poprate_greedy",
    ) -> SpikeData:
        """Return a surrogate with the same spike count per unit and per bin.

        The raster at ``bin_size_ms`` is randomised by
        :func:`braingeneers.analysis.surrogates.randomized_trains` (``method``
        ``"poprate_greedy"`` or ``"poprate_okun"``, the latter for binary rasters) and
        turned back into spike times as :meth:`from_raster` does, in O(S) memory.
        """
        from .surrogates import randomized_trains

        if method not in ("poprate_greedy", "poprate_okun"):
            raise ConfigError(
                f"randomized: method must be 'poprate_greedy' or 'poprate_okun', got {method!r}"
            )
        trains = randomized_trains(self.train, bin_size_ms, self.length, seed, method)
        return SpikeData._from_trains(
            trains, length=self.length, metadata=self.metadata, neuron_attributes=self.neuron_attributes
        )

    # ------------------------------------------------------------------ latencies

    def latencies(self, times: npt.ArrayLike, window_ms: float = 100.0) -> list[list[float]]:
        """Return, per unit, the signed offset (spike - reference) to the nearest spike of each reference.

        Offsets larger than ``window_ms`` in magnitude are dropped; on a tie the
        earlier spike wins. See :func:`braingeneers.analysis.latencies.latencies`.
        """
        from .latencies import latencies

        return [list(map(float, row)) for row in latencies(self.train, np.asarray(times), window_ms)]

    def latencies_to_index(self, i: int, window_ms: float = 100.0) -> list[list[float]]:
        """Return :meth:`latencies` with unit ``i``'s spikes as the reference times."""
        return self.latencies(self.train[i], window_ms)

    def __repr__(self) -> str:
        spikes = sum(t.size for t in self.train)
        return f"SpikeData(N={self.N}, length={self.length:g} ms, {spikes} spikes)"

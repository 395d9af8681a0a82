"""Reader of the Zarr v3 copies made by :mod:`braingeneers.data.zarr_convert`.

A block whose format is ``"zarr"`` (``data_format: "zarr"`` on the block or the
experiment) points at a store: its path is the store's folder or ``s3://`` prefix
(``derived/zarr/<experiment>.zarr``). Only stores the converter verified and
marked complete are read; a chunk that is missing or fails to decode raises
:class:`~braingeneers.core.errors.FormatError` naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from braingeneers.core.errors import BraingeneersError, FormatError
from braingeneers.data.formats._base import BlockReader, ChannelInfo

if TYPE_CHECKING:
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import ByteSource

__all__ = ["ZarrReader", "open_zarr_array"]

#: Name of the counts array in a store (``zarr_convert.ARRAY_NAME``).
ARRAY_KEY = "raw"


def open_zarr_array(uri: str) -> tuple[Any, Any, dict[str, Any]]:
    """Open a complete Zarr copy read-only: return ``(store, array, braingeneers attributes)``.

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        There is no Zarr copy at ``uri``, or its conversion did not finish.
    """
    from braingeneers.data.zarr_convert import ARRAY_NAME
    from braingeneers.data.zarr_store import open_store, require_zarr

    zarr = require_zarr()
    store = open_store(uri, read_only=True, strict=True)
    try:
        group = zarr.open_group(store, mode="r")
    except BraingeneersError:
        raise
    except Exception as exc:
        raise FormatError(f"{uri}: no Zarr copy here ({type(exc).__name__}: {exc})") from None
    info = dict(group.attrs).get("braingeneers")
    if not isinstance(info, dict):
        raise FormatError(f"{uri}: a Zarr group, but not a braingeneers copy (no 'braingeneers' attribute)")
    if info.get("status") != "complete":
        source = info.get("source", {})
        raise FormatError(
            f"{uri}: the Zarr conversion did not finish (status {info.get('status')!r}); resume the "
            f"conversion: braingeneers data convert {source.get('uuid') or '<batch>'} "
            f"--experiment {source.get('experiment', '<name>')!r} --out {uri}"
        )
    try:
        array = group[ARRAY_NAME]
    except KeyError:
        raise FormatError(f"{uri}: the Zarr copy has no '{ARRAY_NAME}' array") from None
    return store, array, info


class ZarrReader(BlockReader):
    """Read raw counts from a complete Zarr copy (local folder or ``s3://`` prefix)."""

    def __init__(
        self,
        source: ByteSource,
        batch: BatchMetadata,
        experiment: ExperimentMetadata,
        block: BlockMetadata,
    ) -> None:
        super().__init__(source, batch, experiment, block)
        self.uri = source.uri
        self.store, self.array, self.info = open_zarr_array(self.uri)
        attrs = dict(self.array.attrs)
        self.num_channels, in_file = (int(n) for n in self.array.shape)
        self.sample_rate = float(attrs.get("sample_rate", experiment.sample_rate))
        self.raw_dtype = np.dtype(self.array.dtype)
        self._attrs = attrs
        self.check_num_frames(in_file)
        self.num_frames = in_file

    @property
    def requests(self) -> int:
        """Requests made to the store so far."""
        return int(getattr(self.store, "requests", 0))

    def channel_info(self) -> ChannelInfo:
        """Return the channel ids, gains, offsets and positions recorded at conversion."""
        a = self._attrs
        n = self.num_channels
        if "gain_uv" not in a:
            return super().channel_info()
        positions = a.get("positions")
        electrodes = a.get("electrodes")
        return ChannelInfo(
            ids=np.asarray(a.get("channel_ids", range(n)), dtype=np.int64),
            gain_uv=np.asarray(a["gain_uv"], dtype=np.float64),
            offset=np.asarray(a.get("offset", [0.0] * n), dtype=np.float64),
            positions=None if positions is None else np.asarray(positions, dtype=np.float64).reshape(n, 2),
            electrodes=None if electrodes is None else np.asarray(electrodes, dtype=np.int64),
        )

    def read_raw(self, start: int, stop: int, channels: np.ndarray) -> np.ndarray:
        """Return frames ``[start, stop)`` of ``channels`` as raw counts ``[len(channels), stop - start]``."""
        channels = np.asarray(channels, dtype=np.int64)
        if stop <= start or len(channels) == 0:
            return np.zeros((len(channels), max(0, stop - start)), dtype=self.raw_dtype)
        first, last = int(channels[0]), int(channels[-1])
        try:
            if last - first + 1 == len(channels):
                out = self.array[first : last + 1, start:stop]
            else:
                out = self.array.oindex[channels, start:stop]
        except BraingeneersError:
            raise
        except Exception as exc:
            raise self._locate_damage(channels, start, stop, exc) from None
        return np.asarray(out, dtype=self.raw_dtype)

    def _locate_damage(self, channels: np.ndarray, start: int, stop: int, exc: Exception) -> FormatError:
        """Find the first inner chunk of the window that fails to decode and name it."""
        cc, cf = (int(n) for n in self.array.chunks)
        for ci in sorted({int(c) // cc for c in channels}):
            for fi in range(start // cf, (stop - 1) // cf + 1):
                try:
                    self.array[ci * cc : (ci + 1) * cc, fi * cf : (fi + 1) * cf]
                except Exception as inner:
                    sc, sf = (int(n) for n in (self.array.shards or self.array.chunks))
                    shard = f"{ARRAY_KEY}/c/{ci * cc // sc}/{fi * cf // sf}"
                    return FormatError(
                        f"{self.uri}: chunk ({ci}, {fi}) (channels {ci * cc}..{(ci + 1) * cc - 1}, frames "
                        f"{fi * cf}..{(fi + 1) * cf - 1}, in object {shard}) is damaged "
                        f"({type(inner).__name__}: {inner}); convert the experiment again "
                        "(braingeneers data convert --overwrite) or read the original"
                    )
        return FormatError(f"{self.uri}: cannot read frames [{start}, {stop}) ({type(exc).__name__}: {exc})")

    def close(self) -> None:
        """Release the store."""
        self.source.close()

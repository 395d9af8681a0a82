"""The batch ``metadata.json`` model: load, validate, save and list batches.

A batch lives under ``s3://braingeneers/ephys/<uuid>/`` with one
``metadata.json`` whose ``ephys_experiments`` maps experiment names to their
hardware, channel count, sample rate, scaling and ordered ``blocks`` (files).
Unknown keys at every level are kept in ``extra`` and written back by
:meth:`BatchMetadata.to_dict`. Format-specific block keys (Axion
``axion_data_start_position`` and ``axion_channel_map_key``, Hengenlab
``ecube_time``, a per-block ``data_format``) are read with ``block.extra.get(...)``.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from braingeneers.core import storage
from braingeneers.core.errors import FormatError

__all__ = [
    "BatchMetadata",
    "BlockMetadata",
    "ExperimentMetadata",
    "batch_prefix",
    "list_uuids",
    "load_metadata",
    "save_metadata",
]

logger = logging.getLogger(__name__)

EPHYS_PREFIX = "s3://braingeneers/ephys/"


def batch_prefix(uuid: str) -> str:
    """Return the ``s3://braingeneers/ephys/<uuid>/`` prefix of a batch."""
    return f"{EPHYS_PREFIX}{uuid}/"


def _where(source: str | None, uuid: str | None) -> str:
    return f"batch {uuid!r}" + (f" ({source})" if source else "")


def _require(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise FormatError(f"{where}: missing required field {key!r}")
    return mapping[key]


def _as_int(value: Any, name: str, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise FormatError(f"{where}: field {name!r} must be an integer, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) and not hasattr(value, "__index__"):
        raise FormatError(f"{where}: field {name!r} must be an integer, not {value!r}")
    result = int(value)
    if result < minimum:
        raise FormatError(f"{where}: field {name!r} must be >= {minimum}, not {result}")
    return result


def _as_float(value: Any, name: str, where: str, positive: bool = False) -> float:
    if isinstance(value, bool):
        raise FormatError(f"{where}: field {name!r} must be a number, not {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise FormatError(f"{where}: field {name!r} must be a number, not {value!r}") from None
    if not math.isfinite(result) or (positive and result <= 0):
        raise FormatError(f"{where}: field {name!r} must be a finite{' positive' if positive else ''} number")
    return result


@dataclass
class BlockMetadata:
    """One file of an experiment.

    Attributes
    ----------
    path
        Path relative to the batch folder (``original/data/x.raw.h5``), a bare
        file name (found under ``original/data/``), or an absolute ``s3://`` URI.
    num_frames
        Frames in this file; the experiment's length is the sum over its blocks.
    data_order
        ``"rowmajor"`` for Maxwell files repacked per channel, else ``None``.
    extra
        Every other key, kept as loaded (``timestamp``, Axion and Hengenlab fields, ...).
    """

    path: str
    num_frames: int
    data_order: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> BlockMetadata:
        """Validate one ``blocks[]`` entry; ``where`` names it in errors."""
        if not isinstance(data, dict):
            raise FormatError(f"{where}: a block must be an object, not {type(data).__name__}")
        path = _require(data, "path", where)
        if not isinstance(path, str) or not path:
            raise FormatError(f"{where}: field 'path' must be a non-empty string")
        num_frames = _as_int(_require(data, "num_frames", where), "num_frames", where)
        order = data.get("data_order")
        if order is not None and not isinstance(order, str):
            raise FormatError(f"{where}: field 'data_order' must be a string")
        for key in ("axion_data_start_position", "ecube_time"):
            if key in data and data[key] is not None:
                _as_int(data[key], key, where)
        known = ("path", "num_frames", "data_order")
        extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in known}
        return cls(path=path, num_frames=num_frames, data_order=order, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form, unknown keys included."""
        out: dict[str, Any] = {"path": self.path, "num_frames": self.num_frames}
        if self.data_order is not None:
            out["data_order"] = self.data_order
        out.update(copy.deepcopy(self.extra))
        return out


@dataclass
class ExperimentMetadata:
    """One experiment: a continuous recording made of ordered blocks.

    Attributes
    ----------
    name
        The experiment's key in ``ephys_experiments``.
    hardware
        ``"Maxwell"``, ``"Axion BioSystems"``, ``"Hengenlab"``, ``"MEArec"``, ...
    num_channels
        Channels in the file(s) (Axion: all plate channels).
    sample_rate
        Frames per second.
    voltage_scaling_factor
        What the legacy ``load_data`` multiplies float output by (legacy key ``scaler``).
    units
        The unit the metadata claims (``"µV"``).
    blocks
        The files, in time order.
    data_format
        Format name overriding ``hardware`` when choosing the reader (``"NeurodataWithoutBorders"``).
    offset
        Legacy ADC offset (0 in current data).
    extra
        Every other key, kept as loaded.
    """

    name: str
    hardware: str
    num_channels: int
    sample_rate: float
    voltage_scaling_factor: float = 1.0
    units: str = "µV"
    blocks: list[BlockMetadata] = field(default_factory=list)
    data_format: str | None = None
    offset: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = (
        "name",
        "hardware",
        "num_channels",
        "sample_rate",
        "voltage_scaling_factor",
        "scaler",
        "units",
        "blocks",
        "data_format",
        "offset",
    )

    @property
    def num_frames(self) -> int:
        """Total frames over all blocks."""
        return sum(block.num_frames for block in self.blocks)

    @classmethod
    def from_dict(
        cls, name: str, data: Any, where: str, default_hardware: str | None = None
    ) -> ExperimentMetadata:
        """Validate one experiment; ``default_hardware`` is the batch's top-level ``hardware``."""
        where = f"{where}, experiment {name!r}"
        if not isinstance(data, dict):
            raise FormatError(f"{where}: an experiment must be an object, not {type(data).__name__}")
        hardware = data.get("hardware", default_hardware)
        if not isinstance(hardware, str) or not hardware:
            raise FormatError(f"{where}: missing required field 'hardware' (e.g. 'Maxwell')")
        num_channels = _as_int(_require(data, "num_channels", where), "num_channels", where, minimum=1)
        sample_rate = _as_float(_require(data, "sample_rate", where), "sample_rate", where, positive=True)
        if "voltage_scaling_factor" in data:
            scale = _as_float(data["voltage_scaling_factor"], "voltage_scaling_factor", where)
        elif "scaler" in data:
            scale = _as_float(data["scaler"], "scaler", where)
        else:
            scale = 1.0
        units = data.get("units", "µV")
        if not isinstance(units, str):
            raise FormatError(f"{where}: field 'units' must be a string")
        raw_blocks = _require(data, "blocks", where)
        if not isinstance(raw_blocks, list):
            raise FormatError(f"{where}: field 'blocks' must be a list")
        blocks = [BlockMetadata.from_dict(b, f"{where}, blocks[{i}]") for i, b in enumerate(raw_blocks)]
        data_format = data.get("data_format")
        if data_format is not None and not isinstance(data_format, str):
            raise FormatError(f"{where}: field 'data_format' must be a string")
        offset = _as_float(data.get("offset", 0) or 0, "offset", where)
        extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in cls._KNOWN}
        if "hardware" not in data:
            extra["_hardware_from_batch"] = True
        return cls(
            name=name,
            hardware=hardware,
            num_channels=num_channels,
            sample_rate=sample_rate,
            voltage_scaling_factor=scale,
            units=units,
            blocks=blocks,
            data_format=data_format,
            offset=offset,
            extra=extra,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (``voltage_scaling_factor``, never ``scaler``), unknown keys included."""
        extra = copy.deepcopy(self.extra)
        inherited = extra.pop("_hardware_from_batch", False)
        out: dict[str, Any] = {"name": self.name}
        if not inherited:
            out["hardware"] = self.hardware
        out.update(
            {
                "num_channels": self.num_channels,
                "sample_rate": _plain_number(self.sample_rate),
                "voltage_scaling_factor": _plain_number(self.voltage_scaling_factor),
                "units": self.units,
                "offset": _plain_number(self.offset),
            }
        )
        if self.data_format is not None:
            out["data_format"] = self.data_format
        out["blocks"] = [block.to_dict() for block in self.blocks]
        out.update(extra)
        return out


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


@dataclass
class BatchMetadata:
    """A batch's ``metadata.json``.

    Attributes
    ----------
    uuid
        The batch UUID (``YYYY-MM-DD-e-<descriptor>``).
    ephys_experiments
        Experiments by name, in file order.
    extra
        Every other top-level key (``notes``, ``timestamp``, Axion ``*axion_per_well_channel_map``,
        Hengenlab ``channel_map``, ...), kept as loaded.
    source
        Where it was loaded from (a local folder or an ``s3://`` prefix); not serialised.
    """

    uuid: str
    ephys_experiments: dict[str, ExperimentMetadata] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> BatchMetadata:
        """Validate a parsed ``metadata.json``.

        Accepts the 2022 list form of ``ephys_experiments`` (converted to the
        dict form) and the legacy ``scaler`` key.

        Raises
        ------
        ~braingeneers.core.errors.FormatError
            A field is missing or has the wrong type; the message names the batch and the field.
        """
        if not isinstance(data, dict):
            raise FormatError(f"{source or 'metadata'}: metadata.json must hold a JSON object")
        uuid = data.get("uuid")
        if uuid is None and source:
            uuid = PurePosixPath(source.rstrip("/").removesuffix("metadata.json").rstrip("/")).name
        where = _where(source, uuid if isinstance(uuid, str) else None)
        if not isinstance(uuid, str) or not uuid:
            raise FormatError(f"{where}: missing required field 'uuid'")
        if "ephys_experiments" not in data:
            if "experiments" in data:
                raise FormatError(
                    f"{where}: pre-2022 metadata (an 'experiments' list of files) is not supported; "
                    "regenerate metadata.json with `braingeneers data generate-metadata`"
                )
            raise FormatError(f"{where}: missing required field 'ephys_experiments'")
        raw = data["ephys_experiments"]
        default_hardware = data.get("hardware") if isinstance(data.get("hardware"), str) else None
        experiments: dict[str, ExperimentMetadata] = {}
        if isinstance(raw, list):
            for index, item in enumerate(raw):
                if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                    raise FormatError(f"{where}: ephys_experiments[{index}] needs a string 'name'")
                if item["name"] in experiments:
                    raise FormatError(f"{where}: experiment name {item['name']!r} appears twice")
                experiments[item["name"]] = ExperimentMetadata.from_dict(
                    item["name"], item, where, default_hardware
                )
        elif isinstance(raw, dict):
            for name, item in raw.items():
                experiments[name] = ExperimentMetadata.from_dict(name, item, where, default_hardware)
        else:
            raise FormatError(f"{where}: field 'ephys_experiments' must be an object keyed by name")
        extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in ("uuid", "ephys_experiments")}
        return cls(uuid=uuid, ephys_experiments=experiments, extra=extra, source=source)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (dict-keyed ``ephys_experiments``), unknown keys included."""
        out: dict[str, Any] = {"uuid": self.uuid}
        out.update(copy.deepcopy(self.extra))
        out["ephys_experiments"] = {name: exp.to_dict() for name, exp in self.ephys_experiments.items()}
        return out

    def experiment(self, experiment: str | int) -> ExperimentMetadata:
        """Return an experiment by name, or by its index in file order (any integer type).

        Raises
        ------
        KeyError
            No experiment of that name (the message lists them).
        IndexError
            The index is out of range.
        """
        if isinstance(experiment, str):
            try:
                return self.ephys_experiments[experiment]
            except KeyError:
                raise KeyError(
                    f"batch {self.uuid!r} has no experiment {experiment!r}; it has: "
                    f"{', '.join(self.ephys_experiments) or 'none'}"
                ) from None
        if isinstance(experiment, bool) or not hasattr(experiment, "__index__"):
            raise TypeError(f"experiment must be a name or an integer index, not {experiment!r}")
        index = int(experiment)
        names = list(self.ephys_experiments)
        if not 0 <= index < len(names):
            raise IndexError(f"batch {self.uuid!r} has {len(names)} experiments; no index {index}")
        return self.ephys_experiments[names[index]]

    def base(self) -> str:
        """Return the batch folder: the local folder it was loaded from, else its ``s3://`` prefix."""
        if self.source and not self.source.startswith("s3://"):
            return str(Path(self.source))
        if self.source and self.source.startswith("s3://"):
            return self.source.rstrip("/") + "/"
        return batch_prefix(self.uuid)

    def block_uri(self, block: BlockMetadata) -> str:
        """Return the full location of a block's file.

        Absolute ``s3://`` paths are kept; other paths are relative to the batch
        folder (the local folder the batch was loaded from, else
        ``s3://braingeneers/ephys/<uuid>/``). A bare file name that is not in the
        batch folder itself is looked up under ``original/data/`` (the legacy
        Maxwell and Axion convention).
        """
        path = block.path
        if path.startswith("s3://") or os.path.isabs(path):
            return path
        base = self.base()
        if not base.startswith("s3://"):
            direct = Path(base) / path
            if "/" in path or direct.exists():
                return str(direct)
            return str(Path(base) / "original" / "data" / path)
        if "/" in path:
            return base + path
        return base + "original/data/" + path


def _metadata_location(uuid_or_path: str | os.PathLike[str]) -> tuple[str, str]:
    """Return (metadata.json location, batch source) for a UUID, folder, file or URI."""
    text = os.fspath(uuid_or_path)
    if text.startswith("s3://"):
        if text.endswith(".json"):
            return text, text.rsplit("/", 1)[0] + "/"
        return text.rstrip("/") + "/metadata.json", text.rstrip("/") + "/"
    path = Path(text).expanduser()
    if path.is_dir():
        return str(path / "metadata.json"), str(path)
    if path.is_file():
        return str(path), str(path.parent)
    if isinstance(uuid_or_path, str) and "/" not in text and os.sep not in text:
        return batch_prefix(text) + "metadata.json", ""
    raise FormatError(f"{text}: no such batch folder or metadata.json")


def load_metadata(uuid_or_path: str | os.PathLike[str]) -> BatchMetadata:
    """Load and validate a batch's ``metadata.json``.

    Parameters
    ----------
    uuid_or_path
        A batch UUID (read from ``s3://braingeneers/ephys/<uuid>/`` on the current
        endpoint, S3 or a local mirror), an ``s3://`` prefix or ``metadata.json`` URI,
        or a local batch folder or ``metadata.json`` file.

    Raises
    ------
    ~braingeneers.core.errors.NotFoundError
        There is no ``metadata.json`` there.
    ~braingeneers.core.errors.FormatError
        It is not valid JSON or fails validation.
    """
    location, source = _metadata_location(uuid_or_path)
    with storage.open(location, "rb") as handle:
        raw = handle.read()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{location} is not valid JSON ({exc})") from None
    meta = BatchMetadata.from_dict(data, source=source or None)
    if not source:
        meta.source = None
    return meta


def save_metadata(metadata: BatchMetadata | dict[str, Any], uri: str | os.PathLike[str] | None = None) -> str:
    """Write a batch's ``metadata.json`` (conflict-safe against concurrent writers) and return where.

    Parameters
    ----------
    metadata
        The batch (a dict is validated first).
    uri
        Where to write; default: the local folder it was loaded from, else
        ``s3://braingeneers/ephys/<uuid>/metadata.json`` on the current endpoint.
    """
    from braingeneers.core.conditional import update_json

    meta = metadata if isinstance(metadata, BatchMetadata) else BatchMetadata.from_dict(metadata)
    if uri is None:
        base = meta.base()
        target = base + "metadata.json" if base.startswith("s3://") else str(Path(base) / "metadata.json")
    else:
        target = os.fspath(uri)
    document = meta.to_dict()
    update_json(target, lambda _current: document)
    logger.info("wrote %s", target)
    return target


def list_uuids() -> list[str]:
    """Return the UUIDs of every batch under ``s3://braingeneers/ephys/`` on the current endpoint, sorted."""
    return storage.list_directories(EPHYS_PREFIX)

"""Readers of each recording format, chosen by the experiment's hardware or data format.

The registry maps names to ``"module:Class"`` strings imported on first use, so
importing this package loads no reader (and no h5py or zarr).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from braingeneers.core.errors import FormatError
from braingeneers.data.formats._base import BlockReader, ChannelInfo

if TYPE_CHECKING:
    from braingeneers.data.metadata import BlockMetadata, ExperimentMetadata

__all__ = ["READERS", "BlockReader", "ChannelInfo", "reader_class"]

_MAXWELL = "braingeneers.data.formats.maxwell:MaxwellReader"
_NWB = "braingeneers.data.formats.nwb:NwbReader"
_MEAREC = "braingeneers.data.formats.mearec:MearecReader"

#: Format names (compared case-insensitively) → the reader class, as ``"module:Class"``.
READERS: dict[str, str] = {
    "maxwell": _MAXWELL,
    "maxone": _MAXWELL,
    "maxtwo": _MAXWELL,
    "max2": _MAXWELL,
    "neurodatawithoutborders": _NWB,
    "nwb": _NWB,
    "mearec": _MEAREC,
    "mearec simulated recording": _MEAREC,
    "axion biosystems": "braingeneers.data.formats.axion:AxionReader",
    "hengenlab": "braingeneers.data.formats.hengenlab:HengenlabReader",
    "raspi": "braingeneers.data.formats.raspi:RaspiReader",
    "intan": "braingeneers.data.formats.intan:IntanReader",
    "zarr": "braingeneers.data.formats.zarr:ZarrReader",
}


def format_name(experiment: ExperimentMetadata, block: BlockMetadata) -> str:
    """Return the name selecting the reader: the block's or experiment's data format, else hardware."""
    name = block.extra.get("data_format") or experiment.data_format or experiment.hardware
    return str(name)


def reader_class(experiment: ExperimentMetadata, block: BlockMetadata) -> type[BlockReader]:
    """Return the reader class for one block of an experiment.

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        The format is unknown (the message lists the known ones).
    """
    name = format_name(experiment, block)
    target = READERS.get(name.strip().lower())
    if target is None:
        known = ["Maxwell", "NeurodataWithoutBorders", "MEArec", "Axion BioSystems", "Hengenlab"]
        known += ["Raspi", "Intan", "zarr"]
        raise FormatError(
            f"experiment {experiment.name!r}: unknown hardware/data_format {name!r}; "
            f"known: {', '.join(known)}"
        )
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    cls: type[BlockReader] = getattr(module, class_name)
    return cls

"""Per-unit attribute records attached to ``SpikeData.neuron_attributes``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["NestIDNeuronAttributes", "NeuronAttributes"]

_REQUIRED = (
    "cluster_id",
    "channel",
    "position",
    "amplitudes",
    "template",
    "templates",
    "label",
    "neighbor_channels",
    "neighbor_positions",
    "neighbor_templates",
)


class NeuronAttributes:
    """Attributes of one sorted unit, as the Phy loader fills them.

    Parameters
    ----------
    cluster_id
        Phy/Kilosort cluster id.
    channel
        Channel with the largest template amplitude.
    position
        ``(x, y)`` of that channel, in the probe's units (µm for MaxWell arrays).
    amplitudes
        Template amplitude of every spike of the unit.
    template
        Mean waveform on the best channel.
    templates
        Mean waveforms, channels x samples.
    label
        Curation label (``"good"``, ``"mua"``, ...; ``""`` when unlabelled).
    neighbor_channels, neighbor_positions, neighbor_templates
        The channels with the largest amplitudes, their positions and waveforms.
    **extra
        Any further keyword becomes an attribute of the same name.
    """

    cluster_id: Any
    channel: Any
    position: Any
    amplitudes: Any
    template: Any
    templates: Any
    label: Any
    neighbor_channels: Any
    neighbor_positions: Any
    neighbor_templates: Any

    def __init__(
        self,
        *,
        cluster_id: Any,
        channel: Any,
        position: Any,
        amplitudes: Any,
        template: Any,
        templates: Any,
        label: Any,
        neighbor_channels: Any,
        neighbor_positions: Any,
        neighbor_templates: Any,
        **extra: Any,
    ) -> None:
        self.cluster_id = cluster_id
        self.channel = channel
        self.position = position
        self.amplitudes = amplitudes
        self.template = template
        self.templates = templates
        self.label = label
        self.neighbor_channels = neighbor_channels
        self.neighbor_positions = neighbor_positions
        self.neighbor_templates = neighbor_templates
        for key, value in extra.items():
            setattr(self, key, value)

    def add_attribute(self, key: str, value: Any) -> None:
        """Set attribute ``key`` to ``value``."""
        setattr(self, key, value)

    def list_attributes(self) -> list[str]:
        """Return the names of all attributes, the required ones first."""
        extra = [k for k in vars(self) if k not in _REQUIRED]
        return [*_REQUIRED, *extra]

    def __repr__(self) -> str:
        fields = f"cluster_id={self.cluster_id!r}, channel={self.channel!r}, label={self.label!r}"
        return f"NeuronAttributes({fields})"


@dataclass
class NestIDNeuronAttributes:
    """Attributes of a unit read from a NEST spike recorder: its node id."""

    nest_id: int

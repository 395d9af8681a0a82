"""Typed records of the five collections of the lab's Strapi 4 service.

``interaction-things`` (:class:`Thing`, a device and its shadow), ``experiments``,
``plates``, ``wells`` and ``samples``: each entry's attributes plus the ids of its
relations, parsed from Strapi's REST shape by :func:`parse_entry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from braingeneers.core.errors import ConfigError, StorageError

__all__ = [
    "COLLECTIONS",
    "THING_TYPES",
    "RECORD_TYPES",
    "Experiment",
    "Plate",
    "Record",
    "Sample",
    "Thing",
    "Well",
    "parse_entry",
    "record_type",
]

THING_TYPES = ("BioPlateScope", "Autoculture", "Other")
"""Values of the ``type`` enumeration of ``interaction-things``."""

_RELATIONS: dict[str, dict[str, bool]] = {  # collection -> relation attribute -> is to-many
    "interaction-things": {"current_plate": False, "current_experiment": False, "plates": True},
    "experiments": {"plates": True},
    "plates": {"experiments": True, "wells": True, "interaction_things": True},
    "wells": {"plate": False, "samples": True},
    "samples": {"well": False},
}
COLLECTIONS = tuple(_RELATIONS)
"""The five REST collections, by their URL path."""


@dataclass
class Record:
    """One entry of a collection: its id, plain attributes and related ids.

    Attributes
    ----------
    id
        The Strapi id.
    attributes
        The non-relation attributes (``name``, ``shadow``, ``rows``, ...), plus Strapi's
        ``createdAt``/``updatedAt``/``publishedAt``.
    relations
        Relation name → related ids (a to-one relation holds zero or one id).
    """

    collection: ClassVar[str] = ""
    id: int
    attributes: dict[str, Any] = field(default_factory=dict)
    relations: dict[str, list[int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The entry's name."""
        return str(self.attributes.get("name") or "")

    @property
    def marked_for_deletion(self) -> bool:
        """Whether the entry is in the trash."""
        return bool(self.attributes.get("marked_for_deletion"))

    @property
    def updated_at(self) -> str:
        """Strapi's ``updatedAt`` time stamp (ISO 8601, UTC)."""
        return str(self.attributes.get("updatedAt") or "")

    def _one(self, relation: str) -> int | None:
        ids = self.relations.get(relation, [])
        return ids[0] if ids else None

    def _many(self, relation: str) -> list[int]:
        return list(self.relations.get(relation, []))


@dataclass
class Thing(Record):
    """A device (``interaction-things``)."""

    collection: ClassVar[str] = "interaction-things"

    @property
    def type(self) -> str:
        """Return the device type, one of :data:`THING_TYPES`."""
        return str(self.attributes.get("type") or "")

    @property
    def shadow(self) -> dict[str, Any]:
        """The device's state (``{}`` when it has none)."""
        value = self.attributes.get("shadow")
        return dict(value) if isinstance(value, dict) else {}

    @property
    def current_plate(self) -> int | None:
        """Id of the plate in the device, if any."""
        return self._one("current_plate")

    @property
    def current_experiment(self) -> int | None:
        """Id of the device's experiment, if any."""
        return self._one("current_experiment")

    @property
    def plates(self) -> list[int]:
        """Ids of every plate the device has held."""
        return self._many("plates")


@dataclass
class Experiment(Record):
    """An experiment (``experiments``)."""

    collection: ClassVar[str] = "experiments"

    @property
    def plates(self) -> list[int]:
        """Ids of the experiment's plates."""
        return self._many("plates")


@dataclass
class Plate(Record):
    """A plate (``plates``) and its wells."""

    collection: ClassVar[str] = "plates"

    @property
    def rows(self) -> int:
        """Number of well rows."""
        return int(self.attributes.get("rows") or 0)

    @property
    def columns(self) -> int:
        """Number of well columns."""
        return int(self.attributes.get("columns") or 0)

    @property
    def wells(self) -> list[int]:
        """Ids of the plate's wells."""
        return self._many("wells")

    @property
    def experiments(self) -> list[int]:
        """Ids of the plate's experiments."""
        return self._many("experiments")

    @property
    def interaction_things(self) -> list[int]:
        """Ids of the devices that have held the plate."""
        return self._many("interaction_things")


@dataclass
class Well(Record):
    """A well of a plate (``wells``)."""

    collection: ClassVar[str] = "wells"

    @property
    def plate(self) -> int | None:
        """Id of the well's plate."""
        return self._one("plate")

    @property
    def samples(self) -> list[int]:
        """Ids of the samples in the well."""
        return self._many("samples")


@dataclass
class Sample(Record):
    """A sample (``samples``)."""

    collection: ClassVar[str] = "samples"

    @property
    def well(self) -> int | None:
        """Id of the sample's well."""
        return self._one("well")


RECORD_TYPES: dict[str, type[Record]] = {
    cls.collection: cls for cls in (Thing, Experiment, Plate, Well, Sample)
}
"""The record class of each collection."""
R = TypeVar("R", bound=Record)


def record_type(collection: str) -> type[Record]:
    """Return the record class of ``collection``.

    Raises
    ------
    ConfigError
        ``collection`` is not one of :data:`COLLECTIONS`.
    """
    if collection not in RECORD_TYPES:
        raise ConfigError(f"unknown Strapi collection {collection!r}; use one of {', '.join(COLLECTIONS)}")
    return RECORD_TYPES[collection]


def parse_entry(collection: str, entry: Any) -> Record:
    """Turn one Strapi ``{"id": ..., "attributes": {...}}`` entry into a :class:`Record` subclass."""
    if not isinstance(entry, dict) or "id" not in entry:
        raise StorageError(f"a {collection} entry from Strapi has no id: {str(entry)[:300]}")
    relation_names = _RELATIONS[collection]
    attributes: dict[str, Any] = {}
    relations: dict[str, list[int]] = {name: [] for name in relation_names}
    for key, value in (entry.get("attributes") or {}).items():
        if key in relation_names:
            data = value.get("data") if isinstance(value, dict) else None
            if isinstance(data, list):
                relations[key] = [int(item["id"]) for item in data]
            elif isinstance(data, dict):
                relations[key] = [int(data["id"])]
        else:
            attributes[key] = value
    return RECORD_TYPES[collection](id=int(entry["id"]), attributes=attributes, relations=relations)

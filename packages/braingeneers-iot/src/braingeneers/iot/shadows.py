"""Device shadows and lab records in the lab's Strapi 4 service.

The service holds five collections: ``interaction-things`` (devices; the device's
state, its *shadow*, is the ``shadow`` JSON attribute), ``experiments``,
``plates``, ``wells`` and ``samples``. :class:`Shadows` is a typed client for
them; :class:`DatabaseInteractor` keeps the legacy method names working on top
of it.

Shadow updates change only the keys given and do not lose keys that concurrent
writers change at the same time: see :meth:`Shadows.update_shadow` for the
exact guarantee.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from braingeneers.core.errors import ConfigError, ConflictError, NotFoundError, StorageError
from braingeneers.iot.records import (
    COLLECTIONS,
    RECORD_TYPES,
    THING_TYPES,
    Experiment,
    Plate,
    R,
    Record,
    Sample,
    Thing,
    Well,
    parse_entry,
    record_type,
)
from braingeneers.iot.strapi import HeaderSource, StrapiClient, env_flag, flatten_filters

__all__ = [
    "COLLECTIONS",
    "THING_TYPES",
    "DatabaseInteractor",
    "Experiment",
    "Plate",
    "Record",
    "Sample",
    "Shadows",
    "Thing",
    "Well",
    "for_broker",
]

_log = logging.getLogger(__name__)

_ABSENT: Any = object()
_POPULATE = ("populate", "*")
_NOT_TRASHED = {"$or": [{"marked_for_deletion": {"$null": True}}, {"marked_for_deletion": {"$eq": False}}]}


class Shadows:
    """Typed client for the lab's Strapi service: devices, experiments, plates, wells, samples.

    Parameters
    ----------
    endpoint
        Base URL with the ``/api`` suffix; default: ``BRAINGENEERS_STRAPI_ENDPOINT``, else
        ``[strapi] endpoint`` of the credentials file.
    credentials
        Credentials file to read ``[strapi]`` from (default: core's search order).
    token_provider
        Source of the Bearer header; default: core's shared ``default_provider()``.
    use_auth
        Send the Bearer header. Default: ``BRAINGENEERS_HTTP_USE_AUTH``, else true. Internal
        deployments that reach Strapi directly, without the proxy, turn it off.
    trust_env
        Use proxies and CA bundles from the environment. Default: ``BRAINGENEERS_HTTP_TRUST_ENV``,
        then the legacy ``BRAINGENEERS_SHADOWS_TRUST_ENV``, else true.
    timeout
        Seconds per request.
    retries
        Extra attempts for idempotent requests on 5xx or connection errors.
    settle
        Seconds :meth:`update_shadow` keeps checking that its keys were not reverted.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        credentials: str | os.PathLike[str] | IO[str] | None = None,
        token_provider: HeaderSource | None = None,
        use_auth: bool | None = None,
        trust_env: bool | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        settle: float = 0.5,
    ) -> None:
        if endpoint is None:
            endpoint = os.environ.get("BRAINGENEERS_STRAPI_ENDPOINT") or _endpoint_from(credentials)
        headers: HeaderSource | None = None
        if env_flag(use_auth, ["BRAINGENEERS_HTTP_USE_AUTH"]):
            if token_provider is None:
                from braingeneers.core.auth import default_provider

                token_provider = default_provider()
            headers = token_provider
        self.http = StrapiClient(
            endpoint,
            headers,
            trust_env=env_flag(trust_env, ["BRAINGENEERS_HTTP_TRUST_ENV", "BRAINGENEERS_SHADOWS_TRUST_ENV"]),
            timeout=timeout,
            retries=retries,
        )
        self.settle = settle

    def __repr__(self) -> str:
        return f"Shadows({self.http!r})"

    # --- generic operations --------------------------------------------------------------------

    def get(self, cls: type[R], entry_id: int) -> R:
        """Return entry ``entry_id`` of ``cls``'s collection.

        Raises
        ------
        ~braingeneers.core.errors.NotFoundError
            No such entry.
        """
        answer = self.http.request("GET", f"{cls.collection}/{int(entry_id)}", [_POPULATE])
        return self._parse(cls, answer, f"{cls.collection}/{entry_id}")

    def find(self, cls: type[R], name: str, include_trashed: bool = True) -> R | None:
        """Return the entry named ``name`` (the lowest id if several), or ``None``."""
        found = self.find_all(cls, {"name": {"$eq": name}}, include_trashed=include_trashed)
        return found[0] if found else None

    def get_by_name(self, cls: type[R], name: str, include_trashed: bool = True) -> R:
        """Return the entry named ``name``.

        Raises
        ------
        ~braingeneers.core.errors.NotFoundError
            No entry has that name.
        """
        found = self.find(cls, name, include_trashed)
        if found is None:
            raise NotFoundError(
                f"no {cls.collection} entry named {name!r} at {self.http.endpoint}: create it first"
            )
        return found

    def find_all(
        self,
        cls: type[R],
        filters: Mapping[str, Any] | None = None,
        include_trashed: bool = False,
        page_size: int = 100,
    ) -> list[R]:
        """Return every entry of ``cls``'s collection matching Strapi ``filters``, across all pages.

        Parameters
        ----------
        cls
            The record type, e.g. :class:`~braingeneers.iot.records.Thing`.
        filters
            Strapi filters, e.g. ``{"type": {"$eq": "Other"}}``; values are URL-encoded.
        include_trashed
            Also return entries marked for deletion.
        page_size
            Rows per request (the server caps it at 100).
        """
        combined: dict[str, Any] = dict(filters or {})
        if not include_trashed:
            combined = {"$and": [combined, _NOT_TRASHED]} if combined else dict(_NOT_TRASHED)
        query = [*flatten_filters(combined), _POPULATE]
        return [
            _as(cls, parse_entry(cls.collection, entry))
            for entry in self.http.pages(cls.collection, query, page_size)
        ]

    def create(self, cls: type[R], attributes: Mapping[str, Any]) -> R:
        """Create an entry (not in the trash) and return it."""
        data = {"marked_for_deletion": False, **attributes}
        answer = self.http.request("POST", cls.collection, [_POPULATE], {"data": data})
        return self._parse(cls, answer, cls.collection)

    def spawn(self, cls: type[R], name: str, attributes: Mapping[str, Any] | None = None) -> R:
        """Return the entry named ``name``, creating it with ``attributes`` if absent (create-if-absent)."""
        existing = self.find(cls, name)
        if existing is not None:
            return existing
        return self.create(cls, {**(attributes or {}), "name": name})

    def update(self, cls: type[R], entry_id: int, attributes: Mapping[str, Any]) -> R:
        """Change only the given attributes of an entry and return it.

        Relations take ids (``{"current_plate": 5}``), or ``{"connect": [ids]}`` /
        ``{"disconnect": [ids]}`` to add to or remove from a to-many relation.
        """
        answer = self.http.request(
            "PUT", f"{cls.collection}/{int(entry_id)}", [_POPULATE], {"data": dict(attributes)}
        )
        return self._parse(cls, answer, f"{cls.collection}/{entry_id}")

    def delete(self, cls: type[R], entry_id: int) -> None:
        """Delete an entry for good."""
        self.http.request("DELETE", f"{cls.collection}/{int(entry_id)}")

    def trash(self, cls: type[R], entry_id: int) -> R:
        """Mark an entry for deletion (hidden from lists until restored or the trash is emptied)."""
        return self.update(cls, entry_id, {"marked_for_deletion": True})

    def restore(self, cls: type[R], entry_id: int) -> R:
        """Take an entry out of the trash."""
        return self.update(cls, entry_id, {"marked_for_deletion": False})

    def empty_trash(self) -> dict[str, int]:
        """Delete every entry marked for deletion in the five collections; return counts per collection."""
        deleted: dict[str, int] = {}
        for cls in RECORD_TYPES.values():
            trashed = self.find_all(cls, {"marked_for_deletion": {"$eq": True}}, include_trashed=True)
            for record in trashed:
                self.delete(cls, record.id)
            deleted[cls.collection] = len(trashed)
        return deleted

    def _parse(self, cls: type[R], answer: Any, where: str) -> R:
        data = answer.get("data") if isinstance(answer, dict) else None
        if data is None:
            raise NotFoundError(f"{self.http.url(where)}: Strapi returned no data: {str(answer)[:300]}")
        return _as(cls, parse_entry(cls.collection, data))

    # --- devices and their shadows -------------------------------------------------------------

    def create_thing(self, name: str, type: str = "Other") -> Thing:
        """Return the device named ``name``, creating it if absent and taking it out of the trash."""
        if type not in THING_TYPES:
            raise ConfigError(f"device type {type!r} is not one of {', '.join(THING_TYPES)} (Strapi's enum)")
        thing = self.spawn(Thing, name, {"type": type, "shadow": {}})
        if thing.marked_for_deletion or thing.attributes.get("marked_for_deletion") is None:
            thing = self.restore(Thing, thing.id)
        return thing

    def thing(self, name: str) -> Thing:
        """Return the device named ``name``."""
        return self.get_by_name(Thing, name)

    def things(self, type: str | None = None) -> list[Thing]:
        """Return the devices (of one ``type``, if given) that are not in the trash."""
        return self.find_all(Thing, {"type": {"$eq": type}} if type else None)

    def get_shadow(self, name: str) -> dict[str, Any]:
        """Return the shadow of the device named ``name``."""
        return self.thing(name).shadow

    def replace_shadow(self, name: str, shadow: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the whole shadow of device ``name`` (``{}`` empties it) and return it."""
        thing = self.thing(name)
        return self.update(Thing, thing.id, {"shadow": dict(shadow)}).shadow

    def update_shadow(
        self, name: str, changes: Mapping[str, Any], remove: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Set the top-level keys ``changes`` and delete the keys ``remove``; leave other keys alone.

        Strapi has no conditional update, so this is optimistic: read the shadow, write it back
        with only these keys changed, then re-read it for ``settle`` seconds. If a concurrent
        writer that read the shadow before this write landed after it (reverting these keys to
        the values they had before), the change is re-applied on top of the current shadow.

        Guarantee: two writers changing *different* keys both keep their keys, provided each
        writer's read-then-write takes less than ``settle`` seconds (one HTTP round trip;
        0.5 s by default). Writers changing the *same* key: the last write wins. A reader in
        between may briefly see a reverted key.

        Raises
        ------
        ~braingeneers.core.errors.ConflictError
            The keys were reverted again and again (more than 10 times).
        """
        removed = [key for key in remove if key not in changes]
        wanted: dict[str, Any] = {**changes, **{key: _ABSENT for key in removed}}
        thing = self.thing(name)
        for _ in range(10):
            before = thing.shadow
            merged = {**before, **changes}
            for key in removed:
                merged.pop(key, None)
            previous = {key: before.get(key, _ABSENT) for key in wanted}
            thing = self.update(Thing, thing.id, {"shadow": merged})
            settled = self._settled(thing.id, wanted, previous)
            if settled is not None:
                return settled
            _log.info("shadow of %r: a concurrent write reverted %s; re-applying", name, sorted(wanted))
            thing = self.get(Thing, thing.id)
        raise ConflictError(
            f"shadow of {name!r} at {self.http.endpoint}: keys {sorted(wanted)} were reverted by concurrent "
            "writers 10 times; retry later"
        )

    def _settled(
        self, thing_id: int, wanted: Mapping[str, Any], previous: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Re-read for ``settle`` seconds; return the last shadow read, or None if our keys were reverted."""
        deadline = time.monotonic() + self.settle
        pause = 0.05
        while True:
            current = self.get(Thing, thing_id).shadow
            for key, value in wanted.items():
                now = current.get(key, _ABSENT)
                if not _same(now, value) and _same(now, previous[key]):
                    return None  # a stale write put the old value back
            if time.monotonic() >= deadline:
                return current
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause *= 2

    def delete_shadow(self, name: str, keys: Sequence[str] | None = None) -> dict[str, Any]:
        """Delete ``keys`` from the shadow of device ``name``, or empty it when ``keys`` is ``None``."""
        if keys is None:
            return self.replace_shadow(name, {})
        return self.update_shadow(name, {}, remove=list(keys))

    # --- experiments, plates, wells, samples ---------------------------------------------------

    def create_experiment(self, name: str, description: str = "") -> Experiment:
        """Return the experiment named ``name``, creating it if absent."""
        return self.spawn(Experiment, name, {"description": description, "active": True})

    def create_plate(
        self, name: str, rows: int, columns: int, image_parameters: Mapping[str, Any] | None = None
    ) -> Plate:
        """Return the plate named ``name`` with ``rows`` x ``columns`` wells, creating what is missing.

        Wells are named ``<plate>_well_<row><column>`` with ``position_index`` ``"<row><column>"``
        (1-based); beyond 9 rows or columns the two numbers are joined by ``-`` so the index is
        unambiguous.
        """
        if rows < 1 or columns < 1:
            raise ConfigError(f"plate {name!r}: rows and columns must be positive, got {rows} x {columns}")
        plate = self.spawn(
            Plate,
            name,
            {
                "rows": rows,
                "columns": columns,
                "image_parameters": dict(image_parameters or {}),
                "active": True,
            },
        )
        existing = {w.attributes.get("position_index") for w in self.wells_of(plate)}
        wide = rows > 9 or columns > 9
        for row in range(1, rows + 1):
            for column in range(1, columns + 1):
                index = f"{row}-{column}" if wide else f"{row}{column}"
                if index not in existing:
                    self.create(
                        Well, {"name": f"{name}_well_{index}", "position_index": index, "plate": plate.id}
                    )
        return self.get(Plate, plate.id)

    def wells_of(self, plate: Plate | int) -> list[Well]:
        """Return the wells of a plate, in id order."""
        plate_id = plate.id if isinstance(plate, Plate) else int(plate)
        return self.find_all(Well, {"plate": {"id": {"$eq": plate_id}}})

    def create_sample(
        self,
        name: str,
        well: Well | int | None = None,
        description: str = "",
        annotation: Mapping[str, Any] | None = None,
    ) -> Sample:
        """Create a sample, in ``well`` if given."""
        attributes: dict[str, Any] = {"name": name, "description": description}
        attributes["annotation"] = dict(annotation or {})
        if well is not None:
            attributes["well"] = well.id if isinstance(well, Well) else int(well)
        return self.create(Sample, attributes)

    def set_current_plate(self, thing: Thing | str, plate: Plate | int) -> Thing:
        """Put ``plate`` in device ``thing``: its current plate, added to its plates."""
        target = self.thing(thing) if isinstance(thing, str) else thing
        plate_id = plate.id if isinstance(plate, Plate) else int(plate)
        return self.update(Thing, target.id, {"current_plate": plate_id, "plates": {"connect": [plate_id]}})

    def set_current_experiment(self, thing: Thing | str, experiment: Experiment | int) -> Thing:
        """Make ``experiment`` the current experiment of device ``thing``."""
        target = self.thing(thing) if isinstance(thing, str) else thing
        experiment_id = experiment.id if isinstance(experiment, Experiment) else int(experiment)
        return self.update(Thing, target.id, {"current_experiment": experiment_id})

    def add_plate_to_experiment(self, experiment: Experiment | int, plate: Plate | int) -> Experiment:
        """Add ``plate`` to ``experiment``'s plates."""
        experiment_id = experiment.id if isinstance(experiment, Experiment) else int(experiment)
        plate_id = plate.id if isinstance(plate, Plate) else int(plate)
        return self.update(Experiment, experiment_id, {"plates": {"connect": [plate_id]}})


def _as(cls: type[R], record: Record) -> R:
    if not isinstance(record, cls):  # pragma: no cover - parse_entry picks the class from the collection
        raise StorageError(f"expected a {cls.__name__}, got {type(record).__name__}")
    return record


def _same(a: Any, b: Any) -> bool:
    if a is _ABSENT or b is _ABSENT:
        return a is b
    return bool(a == b)


def _endpoint_from(credentials: str | os.PathLike[str] | IO[str] | None) -> str:
    from braingeneers.core.config import CredentialsFile

    if credentials is None or isinstance(credentials, (str, os.PathLike)):
        return CredentialsFile.load(credentials).strapi().endpoint
    import configparser

    parser = configparser.ConfigParser(interpolation=None, default_section="__no_defaults__")
    parser.read_string(credentials.read(), source="<credentials stream>")
    sections = {name: dict(parser.items(name)) for name in parser.sections()}
    return CredentialsFile(Path("<credentials stream>"), sections).strapi().endpoint


def for_broker(broker: Any) -> Shadows:
    """Return the shadows client of a ``MessageBroker``: same credentials file, shared token provider."""
    return Shadows(credentials=getattr(broker, "credentials_file", None))


class DatabaseInteractor:
    """Compatibility facade with the legacy ``braingeneers.iot.shadows.DatabaseInteractor`` method names.

    New code uses :class:`Shadows`. ``overwrite_api_key``, ``jwt_service_token`` and
    ``session`` are accepted and ignored: the token comes from core's shared provider.
    """

    def __init__(  # noqa: PLR0917 - the legacy positional signature
        self,
        credentials: str | os.PathLike[str] | IO[str] | None = None,
        overwrite_endpoint: str | None = None,
        overwrite_api_key: str | None = None,
        jwt_service_token: Any = None,
        session: Any = None,
        use_auth: bool | None = None,
        trust_env: bool | None = None,
        timeout: float = 30.0,
    ) -> None:
        del overwrite_api_key, jwt_service_token, session  # the shared token provider replaces them
        self.shadows = Shadows(
            overwrite_endpoint,
            credentials=credentials,
            use_auth=use_auth,
            trust_env=trust_env,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"DatabaseInteractor({self.shadows.http!r})"

    def create_interaction_thing(self, thing_type: str, name: str) -> Thing:
        """Return device ``name``, creating it with ``thing_type`` if absent."""
        return self.shadows.create_thing(name, thing_type)

    def create_experiment(self, name: str, description: str = "") -> Experiment:
        """Return experiment ``name``, creating it if absent."""
        return self.shadows.create_experiment(name, description)

    def create_plate(
        self, name: str, rows: int, columns: int, image_params: Mapping[str, Any] | None = None
    ) -> Plate:
        """Return plate ``name`` with its wells, creating what is missing."""
        return self.shadows.create_plate(name, rows, columns, image_params)

    def list_objects_with_name_and_id(self, api_object_id: str, filter: str = "") -> list[dict[str, Any]]:
        """Return ``[{"label": name, "value": id}]`` for a collection (raw ``filter`` unsupported)."""
        if filter.strip("?"):
            raise ConfigError("raw query filters are not supported; use Shadows.find_all with filters")
        cls = record_type(api_object_id)
        return [{"label": r.name, "value": r.id} for r in self.shadows.find_all(cls)]

    def list_experiments(self) -> list[str]:
        """Return the names of the experiments not in the trash."""
        return [e.name for e in self.shadows.find_all(Experiment)]

    def list_BioPlateScopes(self) -> list[dict[str, Any]]:  # noqa: N802 - legacy name
        """Return ``[{"label", "value"}]`` for the BioPlateScope devices."""
        return self.list_devices_by_type("BioPlateScope")

    def list_devices_by_type(self, thing_type_name: str) -> list[dict[str, Any]]:
        """Return ``[{"label": name, "value": id}]`` for the devices of one type."""
        return [{"label": t.name, "value": t.id} for t in self.shadows.things(thing_type_name)]

    def get_device_state(self, thing_id: int) -> dict[str, Any]:
        """Return the shadow of the device with id ``thing_id``."""
        return self.shadows.get(Thing, thing_id).shadow

    def get_device_state_by_name(self, name: str) -> dict[str, Any]:
        """Return the shadow of the device named ``name``."""
        return self.shadows.get_shadow(name)

    def get_device(self, thing_id: int | None = None, name: str | None = None) -> Thing:
        """Return a device by id or name."""
        if thing_id is not None:
            return self.shadows.get(Thing, thing_id)
        if name is None:
            raise ConfigError("get_device needs thing_id or name")
        return self.shadows.thing(name)

    def get_plate(self, plate_id: int) -> Plate:
        """Return a plate by id."""
        return self.shadows.get(Plate, plate_id)

    def get_experiment(self, experiment_id: int) -> Experiment:
        """Return an experiment by id."""
        return self.shadows.get(Experiment, experiment_id)

    def get_well(self, well_id: int) -> Well:
        """Return a well by id."""
        return self.shadows.get(Well, well_id)

    def get_sample(self, sample_id: int) -> Sample:
        """Return a sample by id."""
        return self.shadows.get(Sample, sample_id)

    def empty_trash(self) -> dict[str, int]:
        """Delete every entry marked for deletion; return counts per collection."""
        return self.shadows.empty_trash()

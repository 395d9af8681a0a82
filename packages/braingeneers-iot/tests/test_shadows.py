"""Contract tests of the shadows client against a real Strapi 4 server (schemas in tests/strapi)."""

from __future__ import annotations

import multiprocessing
import uuid
from typing import Any

import pytest

from braingeneers.core.errors import ConfigError, NotFoundError
from braingeneers.iot.shadows import (
    DatabaseInteractor,
    Experiment,
    Plate,
    Sample,
    Shadows,
    Thing,
    Well,
)
from braingeneers.iot.testing import StrapiServer

pytestmark = pytest.mark.services


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def shadows(strapi: StrapiServer) -> Shadows:
    return Shadows(strapi.url, token_provider=strapi, use_auth=True, timeout=20, settle=0.3)


def test_create_thing_is_create_if_absent_and_not_trashed(shadows: Shadows) -> None:
    name = unique("scope")
    first = shadows.create_thing(name, "BioPlateScope")
    second = shadows.create_thing(name, "BioPlateScope")
    assert first.id == second.id
    assert first.name == name
    assert first.type == "BioPlateScope"
    assert first.marked_for_deletion is False
    assert first.shadow == {}
    assert len(shadows.find_all(Thing, {"name": {"$eq": name}})) == 1


def test_unknown_thing_type_is_a_config_error(shadows: Shadows) -> None:
    with pytest.raises(ConfigError, match="Autoculture"):
        shadows.create_thing(unique("x"), "Toaster")


@pytest.mark.parametrize("special", ["a&b=c", "hash#tag", "plus+sign", "100%", "sp ace/slash?q"])
def test_names_with_query_metacharacters_round_trip(shadows: Shadows, special: str) -> None:
    name = unique(special)
    created = shadows.create_thing(name)
    assert shadows.thing(name).id == created.id
    assert shadows.get_shadow(name) == {}


def test_pagination_goes_past_the_100_row_cap(shadows: Shadows, strapi: StrapiServer) -> None:
    kind = unique("page")
    for index in range(105):
        shadows.create(Sample, {"name": f"{kind}-{index:03d}", "description": kind})
    found = shadows.find_all(Sample, {"description": {"$eq": kind}})
    assert [s.name for s in found] == [f"{kind}-{index:03d}" for index in range(105)]
    assert len({s.id for s in found}) == 105
    small_pages = shadows.find_all(Sample, {"description": {"$eq": kind}}, page_size=40)
    assert [s.id for s in small_pages] == [s.id for s in found]


def test_missing_entries_raise_not_found(shadows: Shadows) -> None:
    with pytest.raises(NotFoundError, match="404"):
        shadows.get(Thing, 987654321)
    with pytest.raises(NotFoundError, match="no interaction-things entry named"):
        shadows.thing(unique("absent"))
    with pytest.raises(NotFoundError):
        shadows.update(Plate, 987654321, {"name": "x"})
    assert shadows.find(Well, unique("absent")) is None


def test_update_shadow_changes_only_the_given_keys(shadows: Shadows) -> None:
    name = unique("dev")
    shadows.create_thing(name)
    shadows.replace_shadow(name, {"STATE": "IDLE", "keep": [1, 2]})
    after = shadows.update_shadow(name, {"STATE": "READY", "UUID": "2026-01-01-e-x"})
    assert after == {"STATE": "READY", "UUID": "2026-01-01-e-x", "keep": [1, 2]}
    after = shadows.update_shadow(name, {}, remove=["UUID"])
    assert after == {"STATE": "READY", "keep": [1, 2]}
    assert shadows.delete_shadow(name, ["keep"]) == {"STATE": "READY"}
    assert shadows.delete_shadow(name) == {}
    assert shadows.get_shadow(name) == {}


def test_shadow_update_keeps_relations(shadows: Shadows) -> None:
    name = unique("dev")
    thing = shadows.create_thing(name)
    plate = shadows.create_plate(unique("plate"), 1, 2)
    shadows.set_current_plate(thing, plate)
    shadows.update_shadow(name, {"STATE": "IDLE"})
    again = shadows.thing(name)
    assert again.current_plate == plate.id
    assert again.plates == [plate.id]


def _write_keys(url: str, token: str, name: str, prefix: str, count: int, barrier: Any) -> None:
    server = StrapiServer(url, token, None, None)  # type: ignore[arg-type]
    client = Shadows(url, token_provider=server, timeout=20, settle=0.3)
    barrier.wait(timeout=60)
    for index in range(count):
        client.update_shadow(name, {f"{prefix}{index}": index})


def test_concurrent_writers_in_two_processes_lose_no_key(shadows: Shadows, strapi: StrapiServer) -> None:
    name = unique("race")
    shadows.create_thing(name)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=_write_keys, args=(strapi.url, strapi.token, name, prefix, 12, barrier))
        for prefix in ("a", "b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
        assert worker.exitcode == 0
    shadow = shadows.get_shadow(name)
    assert shadow == {**{f"a{i}": i for i in range(12)}, **{f"b{i}": i for i in range(12)}}


def test_trash_restore_and_empty_trash(shadows: Shadows) -> None:
    name = unique("trash")
    thing = shadows.create_thing(name)
    shadows.trash(Thing, thing.id)
    assert name not in [t.name for t in shadows.things()]
    assert shadows.find(Thing, name, include_trashed=True) is not None
    shadows.restore(Thing, thing.id)
    assert name in [t.name for t in shadows.things("Other")]
    shadows.trash(Thing, thing.id)
    counts = shadows.empty_trash()
    assert counts["interaction-things"] >= 1
    with pytest.raises(NotFoundError):
        shadows.get(Thing, thing.id)
    # create_thing of a trashed device takes it out of the trash
    other = shadows.create_thing(unique("back"))
    shadows.trash(Thing, other.id)
    assert shadows.create_thing(other.name).marked_for_deletion is False


def test_plate_with_wells_samples_and_relations(shadows: Shadows) -> None:
    plate_name = unique("plate")
    plate = shadows.create_plate(plate_name, 2, 3, {"exposure": 5})
    assert (plate.rows, plate.columns) == (2, 3)
    wells = shadows.wells_of(plate)
    assert sorted(w.attributes["position_index"] for w in wells) == ["11", "12", "13", "21", "22", "23"]
    assert {w.name for w in wells} == {f"{plate_name}_well_{r}{c}" for r in (1, 2) for c in (1, 2, 3)}
    assert sorted(plate.wells) == sorted(w.id for w in wells)
    assert all(w.plate == plate.id for w in wells)
    # create-if-absent: a second call adds no wells
    assert sorted(shadows.create_plate(plate_name, 2, 3).wells) == sorted(plate.wells)

    sample = shadows.create_sample(unique("sample"), wells[0], "organoid", {"line": "H9"})
    assert sample.well == wells[0].id
    assert shadows.get(Well, wells[0].id).samples == [sample.id]

    experiment = shadows.create_experiment(unique("exp"), "a test")
    shadows.add_plate_to_experiment(experiment, plate)
    assert shadows.get(Experiment, experiment.id).plates == [plate.id]
    assert shadows.get(Plate, plate.id).experiments == [experiment.id]

    thing = shadows.create_thing(unique("scope"), "BioPlateScope")
    thing = shadows.set_current_plate(thing, plate)
    thing = shadows.set_current_experiment(thing, experiment)
    assert (thing.current_plate, thing.current_experiment, thing.plates) == (
        plate.id,
        experiment.id,
        [plate.id],
    )
    assert shadows.get(Plate, plate.id).interaction_things == [thing.id]


def test_wide_plates_get_unambiguous_indexes(shadows: Shadows) -> None:
    plate = shadows.create_plate(unique("wide"), 1, 11)
    indexes = {w.attributes["position_index"] for w in shadows.wells_of(plate)}
    assert indexes == {f"1-{c}" for c in range(1, 12)}


def test_legacy_database_interactor(strapi: StrapiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAINGENEERS_HTTP_USE_AUTH", "true")
    from braingeneers.core import auth

    monkeypatch.setattr(auth, "_default", strapi)
    db = DatabaseInteractor(overwrite_endpoint=strapi.url, timeout=20)
    name = unique("legacy")
    thing = db.create_interaction_thing("Autoculture", name)
    assert {"label": name, "value": thing.id} in db.list_devices_by_type("Autoculture")
    assert db.get_device_state(thing.id) == {}
    assert db.get_device_state_by_name(name) == {}
    assert db.get_device(name=name).id == thing.id
    exp = db.create_experiment(unique("exp"), "d")
    assert exp.name in db.list_experiments()
    assert repr(db).startswith("DatabaseInteractor(StrapiClient(")
    assert strapi.token not in repr(db)


def test_legacy_message_broker_shadow_methods(
    strapi: StrapiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from braingeneers.core import auth
    from braingeneers.iot.messaging import MessageBroker

    monkeypatch.setattr(auth, "_default", strapi)
    monkeypatch.delenv("BRAINGENEERS_STRAPI_ENDPOINT", raising=False)
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[strapi]\nendpoint = {strapi.url}\napi_key = unused\n")
    broker = MessageBroker("legacy-shadows", credentials_file=str(credentials))  # no MQTT needed
    name = unique("legacy-dev")
    thing = broker.create_device(name, "Autoculture")
    assert {"label": name, "value": thing.id} in broker.list_devices_by_type("Autoculture")
    assert broker.get_device_state(name) == {}
    broker.update_device_state(name, {"STATE": "IDLE", "a": 1})
    assert broker.update_device_state(name, {"b": 2}) == {"STATE": "IDLE", "a": 1, "b": 2}
    assert broker.delete_device_state(name, ["a"]) == {"STATE": "IDLE", "b": 2}
    assert broker.delete_device_state(name) == {}  # really deletes (the legacy one did nothing)
    assert broker.get_device_state(name) == {}
    broker.shutdown()

"""Batch metadata: validation, legacy forms, round trip of unknown keys, load/save/list on S3 and a mirror."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from braingeneers.core.errors import FormatError, NotFoundError
from braingeneers.data.metadata import (
    BatchMetadata,
    list_uuids,
    load_metadata,
    save_metadata,
)


def example() -> dict[str, Any]:
    return {
        "uuid": "2024-01-02-e-demo",
        "timestamp": "2024-01-02T10:00:00",
        "notes": {"comments": "kept", "biology": {"species": "human"}},
        "axion_per_well_channel_map": [[0, 1], [2, 3]],
        "ephys_experiments": {
            "rec_a": {
                "name": "rec_a",
                "hardware": "Maxwell",
                "data_format": "maxone",
                "num_channels": 1020,
                "sample_rate": 20000,
                "voltage_scaling_factor": 1,
                "offset": 0,
                "units": "µV",
                "version": 20190530,
                "blocks": [
                    {
                        "path": "original/data/rec_a.raw.h5",
                        "num_frames": 6000000,
                        "timestamp": "2024-01-02T10:01:00",
                        "data_order": "rowmajor",
                    }
                ],
            },
            "A1": {
                "name": "A1",
                "hardware": "Axion BioSystems",
                "num_channels": 384,
                "sample_rate": 12500,
                "voltage_scaling_factor": -5.48e-08,
                "units": "µV",
                "offset": 0,
                "axion_channel_offset": 0,
                "blocks": [
                    {
                        "path": "plate(000).raw",
                        "num_frames": 3750000,
                        "axion_data_start_position": 2048,
                        "axion_channel_map_key": "axion_per_well_channel_map",
                    }
                ],
            },
        },
    }


def test_round_trip_keeps_unknown_fields_at_every_level() -> None:
    data = example()
    meta = BatchMetadata.from_dict(copy.deepcopy(data))
    assert meta.to_dict() == data
    a1 = meta.experiment("A1")
    assert a1.voltage_scaling_factor == -5.48e-08
    assert a1.blocks[0].extra["axion_data_start_position"] == 2048
    assert meta.experiment(1) is a1
    assert meta.experiment(__import__("numpy").int64(0)).name == "rec_a"
    assert meta.ephys_experiments["rec_a"].blocks[0].data_order == "rowmajor"
    assert meta.ephys_experiments["rec_a"].num_frames == 6000000


def test_2022_list_form_and_scaler_key_are_converted() -> None:
    data = example()
    experiments = list(data["ephys_experiments"].values())
    experiments[0]["scaler"] = 0.5
    del experiments[0]["voltage_scaling_factor"]
    data["ephys_experiments"] = experiments
    meta = BatchMetadata.from_dict(data)
    assert list(meta.ephys_experiments) == ["rec_a", "A1"]
    assert meta.experiment("rec_a").voltage_scaling_factor == 0.5
    out = meta.to_dict()
    assert out["ephys_experiments"]["rec_a"]["voltage_scaling_factor"] == 0.5
    assert "scaler" not in out["ephys_experiments"]["rec_a"]


def test_top_level_hardware_after_nwb_rewrite_is_inherited_and_not_duplicated() -> None:
    data = example()
    data["hardware"] = "Maxwell"
    del data["ephys_experiments"]["rec_a"]["hardware"]
    meta = BatchMetadata.from_dict(copy.deepcopy(data))
    assert meta.experiment("rec_a").hardware == "Maxwell"
    assert meta.to_dict() == data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("ephys_experiments"), "'ephys_experiments'"),
        (
            lambda d: d["ephys_experiments"]["A1"].pop("hardware"),
            "experiment 'A1': missing required field 'hardware'",
        ),
        (
            lambda d: d["ephys_experiments"]["A1"].update(num_channels="many"),
            "'num_channels' must be an integer",
        ),
        (
            lambda d: d["ephys_experiments"]["A1"].update(sample_rate=-1),
            "'sample_rate' must be a finite positive",
        ),
        (
            lambda d: d["ephys_experiments"]["A1"]["blocks"][0].pop("num_frames"),
            r"blocks\[0\]: missing .*num_frames",
        ),
        (
            lambda d: d["ephys_experiments"]["A1"]["blocks"][0].update(num_frames=-5),
            "'num_frames' must be >= 0",
        ),
        (lambda d: d["ephys_experiments"]["A1"].update(blocks={}), "'blocks' must be a list"),
        (
            lambda d: d["ephys_experiments"]["A1"]["blocks"][0].update(axion_data_start_position="x"),
            "axion_data_start_position",
        ),
    ],
)
def test_invalid_metadata_names_batch_and_field(change: Any, message: str) -> None:
    data = example()
    change(data)
    with pytest.raises(FormatError, match=message) as info:
        BatchMetadata.from_dict(data, source="s3://braingeneers/ephys/2024-01-02-e-demo/metadata.json")
    assert "2024-01-02-e-demo" in str(info.value)


def test_missing_uuid_is_taken_from_the_folder_else_an_error() -> None:
    data = example()
    del data["uuid"]
    assert (
        BatchMetadata.from_dict(copy.deepcopy(data), source="/data/2024-05-05-e-x").uuid == "2024-05-05-e-x"
    )
    with pytest.raises(FormatError, match="missing required field 'uuid'"):
        BatchMetadata.from_dict(data)


def test_pre_2022_schema_says_to_regenerate() -> None:
    with pytest.raises(FormatError, match="generate-metadata"):
        BatchMetadata.from_dict({"uuid": "old", "experiments": ["exp1.json"]})


def test_unknown_experiment_lists_the_known_ones() -> None:
    meta = BatchMetadata.from_dict(example())
    with pytest.raises(KeyError, match="rec_a, A1"):
        meta.experiment("nope")
    with pytest.raises(IndexError):
        meta.experiment(2)


def test_block_uri_rules(tmp_path: Path) -> None:
    meta = BatchMetadata.from_dict(example())
    rec_a, a1 = meta.experiment("rec_a"), meta.experiment("A1")
    prefix = "s3://braingeneers/ephys/2024-01-02-e-demo/"
    assert meta.block_uri(rec_a.blocks[0]) == prefix + "original/data/rec_a.raw.h5"
    assert meta.block_uri(a1.blocks[0]) == prefix + "original/data/plate(000).raw"
    a1.blocks[0].path = "s3://other-bucket/x.raw"
    assert meta.block_uri(a1.blocks[0]) == "s3://other-bucket/x.raw"
    local = BatchMetadata.from_dict(example(), source=str(tmp_path))
    (tmp_path / "plate(000).raw").write_bytes(b"")
    assert local.block_uri(local.experiment("A1").blocks[0]) == str(tmp_path / "plate(000).raw")
    assert local.block_uri(local.experiment("rec_a").blocks[0]) == str(
        tmp_path / "original/data/rec_a.raw.h5"
    )


def test_load_save_list_on_s3_and_mirror(store: str) -> None:
    meta = BatchMetadata.from_dict(example())
    where = save_metadata(meta)
    assert where == "s3://braingeneers/ephys/2024-01-02-e-demo/metadata.json"
    second = BatchMetadata.from_dict(dict(example(), uuid="2024-02-02-e-other"))
    save_metadata(second)
    assert list_uuids() == ["2024-01-02-e-demo", "2024-02-02-e-other"]
    loaded = load_metadata("2024-01-02-e-demo")
    assert loaded.to_dict() == example()
    assert loaded.source is None
    loaded.extra["notes"] = "changed"
    save_metadata(loaded)
    assert load_metadata("2024-01-02-e-demo").extra["notes"] == "changed"
    with pytest.raises(NotFoundError):
        load_metadata("2099-01-01-e-missing")


def test_local_folder_batch_loads_and_saves_in_place(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text(json.dumps(example()), encoding="utf-8")
    meta = load_metadata(tmp_path)
    assert meta.source == str(tmp_path)
    meta.extra["issue"] = 42
    assert save_metadata(meta) == str(tmp_path / "metadata.json")
    assert json.loads((tmp_path / "metadata.json").read_text())["issue"] == 42
    assert load_metadata(tmp_path / "metadata.json").extra["issue"] == 42
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/metadata.json").write_text("{not json")
    with pytest.raises(FormatError, match="not valid JSON"):
        load_metadata(tmp_path / "bad")

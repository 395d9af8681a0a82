"""The thin fluidics and imaging helpers, on S3 (moto) and a local mirror."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from braingeneers.core.errors import FormatError, NotFoundError
from braingeneers.core.storage import open as storage_open
from braingeneers.data import datasets_fluidics, datasets_imaging


def test_fluidics_parameters_without_line_breaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "2024-01-01-f-pump"
    folder.mkdir()
    (folder / "parameters.txt").write_text("rate=1.5\nvolume=20\n")
    assert datasets_fluidics.get_fluidics_data("2024-01-01-f-pump", root=tmp_path) == "rate=1.5volume=20"
    monkeypatch.setenv("BRAINGENEERS_FLUIDICS_ROOT", str(tmp_path))
    assert datasets_fluidics.get_fluidics_data("2024-01-01-f-pump") == "rate=1.5volume=20"
    with pytest.raises(NotFoundError, match=r"2024-01-02-f-none/parameters\.txt"):
        datasets_fluidics.get_fluidics_data("2024-01-02-f-none")


def test_imaging_manifest_and_images(store: str, tmp_path: Path) -> None:
    uuid = "2024-01-01-i-camera"
    base = f"s3://braingeneers/archive/{uuid}/images"
    with storage_open(f"{base}/manifest.json", "w") as handle:
        json.dump({"captures": ["100", "200"], "stack_size": 2}, handle)
    for stamp in ("100", "200"):
        for focal in (1, 2):
            with storage_open(f"{base}/{stamp}/cameraC11/{focal}.jpg", "wb") as handle:
                handle.write(f"jpeg {stamp} {focal}".encode())
    assert datasets_imaging.get_timestamps(uuid) == ["100", "200"]
    assert len(datasets_imaging.camera_ids) == 24
    assert datasets_imaging.camera_ids[:3] == [11, 12, 13]
    assert datasets_imaging.camera_ids[-1] == 46
    written = datasets_imaging.save_images(uuid, cameras=[11], out=tmp_path / "out")
    assert len(written) == 4
    assert (tmp_path / "out" / uuid / "images" / "200" / "cameraC11" / "2.jpg").read_bytes() == b"jpeg 200 2"
    with pytest.raises(NotFoundError):
        datasets_imaging.save_images(uuid, cameras=[12], out=tmp_path / "out")


def test_imaging_bad_manifest(store: str) -> None:
    with storage_open("s3://braingeneers/archive/2024-01-01-i-bad/images/manifest.json", "w") as handle:
        handle.write('{"no": "captures"}')
    with pytest.raises(FormatError, match="captures"):
        datasets_imaging.import_json("2024-01-01-i-bad")

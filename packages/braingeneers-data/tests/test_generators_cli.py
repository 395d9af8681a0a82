"""Metadata generation over a mixed batch folder and on S3, and the ``braingeneers data`` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from braingeneers.core.cli import main
from braingeneers.core.errors import FormatError
from braingeneers.data.generators import generate_metadata
from braingeneers.data.metadata import load_metadata
from braingeneers.data.recording import open_experiment
from braingeneers.data.synthetic.maxwell import write_maxwell
from braingeneers.data.synthetic.mearec import write_mearec
from braingeneers.data.synthetic.nwb import write_nwb


def mixed_batch(folder: Path) -> None:
    write_maxwell(
        np.full((3, 100), 600, dtype=np.uint16), folder / "original/data/chip.raw.h5", layout="wells"
    )
    write_mearec(np.ones((2, 64), dtype=np.float32), folder / "original/data/recordings_sim.h5")
    write_nwb(np.arange(40, dtype=np.int16).reshape(4, 10), folder / "derived/nwb/chip.nwb")
    (folder / "notes.txt").write_text("not a recording")


def test_mixed_folder_generates_every_experiment(tmp_path: Path) -> None:
    mixed_batch(tmp_path / "2024-05-05-e-mixed")
    batch = generate_metadata(tmp_path / "2024-05-05-e-mixed")
    assert batch.uuid == "2024-05-05-e-mixed"
    assert sorted(batch.ephys_experiments) == ["chip", "experiment0"]  # derived/nwb copies are skipped
    assert batch.experiment("experiment0").blocks[0].path == "original/data/recordings_sim.h5"
    write_nwb(np.zeros((1, 10), dtype=np.int16), tmp_path / "2024-05-05-e-mixed/original/other.nwb")
    assert sorted(generate_metadata(tmp_path / "2024-05-05-e-mixed").ephys_experiments) == [
        "chip",
        "experiment0",
        "other",
    ]


def test_generate_save_and_read_on_store(tmp_path: Path, store: str, publish: Any) -> None:
    folder = tmp_path / "b"
    write_maxwell(
        np.full((3, 100), 600, dtype=np.uint16), folder / "original/data/chip.raw.h5", layout="wells"
    )
    write_mearec(np.ones((2, 64), dtype=np.float32), folder / "original/data/recordings_sim.h5")
    (folder / "metadata.json").write_text(
        json.dumps({"uuid": "2024-06-06-e-gen", "notes": "keep me", "ephys_experiments": {}})
    )
    publish(folder, "2024-06-06-e-gen")
    batch = generate_metadata("2024-06-06-e-gen", save=True)
    assert sorted(batch.ephys_experiments) == ["chip", "experiment0"]
    loaded = load_metadata("2024-06-06-e-gen")
    assert loaded.extra["notes"] == "keep me"
    assert loaded.experiment("chip").blocks[0].path == "original/data/chip.raw.h5"
    np.testing.assert_array_equal(open_experiment(loaded, "chip").read(units="raw"), np.full((3, 100), 600))
    np.testing.assert_array_equal(open_experiment(loaded, "experiment0").read(), np.ones((2, 64)))


def test_name_clash_and_empty_folder(tmp_path: Path) -> None:
    write_maxwell(np.full((1, 10), 512, dtype=np.uint16), tmp_path / "x/original/data/s.raw.h5")
    write_nwb(np.zeros((1, 10), dtype=np.int16), tmp_path / "x/original/data/s.nwb")
    with pytest.raises(FormatError, match="'s' is generated twice"):
        generate_metadata(tmp_path / "x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match="no recording files"):
        generate_metadata(tmp_path / "empty")


def test_cli_generate_and_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "2024-07-07-e-cli"
    write_maxwell(
        np.full((3, 200), 600, dtype=np.uint16), folder / "original/data/chip.raw.h5", layout="wells"
    )
    assert main(["data", "generate-metadata", str(folder)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["ephys_experiments"]["chip"]["num_channels"] == 3
    assert not (folder / "metadata.json").exists()
    assert main(["data", "generate-metadata", str(folder), "--save"]) == 0
    assert json.loads((folder / "metadata.json").read_text())["uuid"] == "2024-07-07-e-cli"
    capsys.readouterr()
    assert main(["data", "info", str(folder), "-e", "chip"]) == 0
    out = capsys.readouterr().out
    assert "chip: Maxwell / maxone, 3 channels, 20000 Hz, 200 frames" in out
    assert "offset 512 counts" in out
    assert main(["data", "info", str(tmp_path / "nowhere")]) == 1

"""The legacy EphysDataset: CSV rows, align and bounds modes, errors at construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import DataLoader

from braingeneers.ml import EphysDataset

from .conftest import maxwell_batch


@pytest.fixture
def batch(tmp_path: Path) -> tuple[Path, np.ndarray]:
    folder = tmp_path / "batch"
    meta = maxwell_batch(folder, num_channels=6, num_frames=1000, seed=11)
    from braingeneers.data.metadata import save_metadata
    from braingeneers.data.recording import open_experiment

    save_metadata(meta, folder / "metadata.json")
    with open_experiment(meta, 0) as rec:
        return folder, rec.read(units="uV", dtype=np.float64)


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("offset,length,channels\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(("align", "first"), [("left", 400), ("right", 400 - 100 + 1), ("center", 400 - 50)])
def test_windows_anchor_at_the_offset(batch, tmp_path, align, first):
    folder, data = batch
    csv = write_csv(tmp_path / "w.csv", ["400,,0/2/5", "400,,all"])
    ds = EphysDataset(folder, 0, 100, csv, align=align)
    assert len(ds) == 2
    item = ds[0]
    assert item.dtype == np.float64
    np.testing.assert_array_equal(item, data[[0, 2, 5], first : first + 100])
    np.testing.assert_array_equal(ds[1], data[:, first : first + 100])


def test_bounds_modes(batch, tmp_path):
    folder, data = batch
    csv = write_csv(tmp_path / "w.csv", ["20,,1", "990,,1", "500,30,1"])
    with pytest.raises(IndexError, match=r"row 1 of .*w\.csv.*\[-30, 70\)"):
        EphysDataset(folder, 0, 100, csv)
    pad = EphysDataset(folder, 0, 100, csv, bounds="pad")
    np.testing.assert_array_equal(pad[0][:, :30], 0)
    np.testing.assert_array_equal(pad[0][:, 30:], data[[1], 0:70])
    np.testing.assert_array_equal(pad[1][:, :60], data[[1], 940:1000])
    np.testing.assert_array_equal(pad[1][:, 60:], 0)
    # Row 3's span [500, 530) limits the centred window [450, 550) to its 30 frames.
    np.testing.assert_array_equal(pad[2][:, 50:80], data[[1], 500:530])
    assert not pad[2][:, :50].any()
    assert not pad[2][:, 80:].any()
    flush = EphysDataset(folder, 0, 100, csv, bounds="flush")
    np.testing.assert_array_equal(flush[0][:, :70], data[[1], 0:70])
    assert not flush[0][:, 70:].any()
    np.testing.assert_array_equal(flush[1][:, :60], data[[1], 940:1000])
    np.testing.assert_array_equal(flush[2][:, :30], data[[1], 500:530])
    assert not flush[2][:, 30:].any()


def test_constructor_length_and_channels_fill_empty_cells(batch, tmp_path):
    folder, data = batch
    csv = write_csv(tmp_path / "w.csv", ["100,,", "300,50,3"])
    ds = EphysDataset(folder, 0, 40, csv, align="left", length=40, channels=[4, 1])
    np.testing.assert_array_equal(ds[0], data[[4, 1], 100:140])
    np.testing.assert_array_equal(ds[1], data[[3], 300:340])
    with pytest.raises(IndexError, match="row 1"):
        EphysDataset(folder, 0, 41, csv, align="left", length=40)


def test_bad_rows_fail_at_construction(batch, tmp_path):
    folder, _ = batch
    with pytest.raises(IndexError, match=r"channels \[6\] are out of range.*6 channels"):
        EphysDataset(folder, 0, 10, write_csv(tmp_path / "a.csv", ["100,,1/6"]))
    with pytest.raises(ValueError, match="offset is 'abc'"):
        EphysDataset(folder, 0, 10, write_csv(tmp_path / "b.csv", ["abc,,1"]))
    with pytest.raises(ValueError, match="align"):
        EphysDataset(folder, 0, 10, write_csv(tmp_path / "c.csv", ["100,,1"]), align="middle")


def test_works_in_a_dataloader_with_workers(batch, tmp_path):
    folder, data = batch
    csv = write_csv(tmp_path / "w.csv", [f"{o},,0/1" for o in range(100, 900, 50)])
    ds = EphysDataset(folder, 0, 64, csv)
    batches = list(DataLoader(ds, batch_size=4, num_workers=2))
    assert len(batches) == 4
    np.testing.assert_array_equal(batches[1][2].numpy(), data[[0, 1], 400 - 32 : 400 + 32])


def test_legacy_module_path() -> None:
    import braingeneers.ml
    from braingeneers.ml.ephys_dataloader import EphysDataset

    assert EphysDataset is braingeneers.ml.EphysDataset

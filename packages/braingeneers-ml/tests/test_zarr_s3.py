"""Datasets over a batch on the loopback S3 server (and a mirror), reading its Zarr copy when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from braingeneers.ml import ChunkStream, RandomWindowSampler, RecordingRef, WindowDataset

from .conftest import maxwell_batch

pytest.importorskip("zarr", minversion="3")

UUID = "2024-01-01-e-ml-windows"


def publish(tmp_path: Path) -> None:
    """Write a two-experiment Maxwell batch and copy it to ``s3://braingeneers/ephys/<uuid>/``."""
    from braingeneers.core.transfer import upload
    from braingeneers.data.metadata import save_metadata

    folder = tmp_path / UUID
    meta = maxwell_batch(folder, num_channels=12, num_frames=3000, seed=21, files=2)
    save_metadata(meta, folder / "metadata.json")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        upload(path, f"s3://braingeneers/ephys/{UUID}/" + path.relative_to(folder).as_posix())


def test_windows_from_the_zarr_copy_equal_the_original(tmp_path, store):
    from braingeneers.data.recording import open_experiment
    from braingeneers.data.zarr_convert import Layout, convert_experiment

    publish(tmp_path)
    originals = [open_experiment(UUID, name).read() for name in ("rec0", "rec1")]
    plain = WindowDataset([RecordingRef(UUID, "rec0"), RecordingRef(UUID, "rec1")], window=256)
    assert all(op.metadata.experiment(op.experiment).data_format != "zarr" for op in plain._cache.openers)
    convert_experiment(UUID, "rec0", layout=Layout(chunk_channels=4, chunk_frames=512), progress=False)
    ds = WindowDataset(
        [RecordingRef(UUID, "rec0"), RecordingRef(UUID, "rec1")], window=256, channels=[11, 0, 5]
    )
    formats = [op.metadata.experiment(op.experiment).data_format for op in ds._cache.openers]
    assert formats[0] == "zarr"
    assert formats[1] != "zarr"
    assert ds._cache.openers[0].metadata.experiment("rec0").blocks[0].path.endswith("derived/zarr/rec0.zarr")
    sampler = RandomWindowSampler(ds, num_samples=24, seed=2)
    batches = torch.cat(list(DataLoader(ds, batch_size=6, sampler=sampler, num_workers=2))).numpy()
    for got, index in zip(batches, sampler, strict=True):
        rec, start = ds.locate(index)
        np.testing.assert_array_equal(got, (originals[rec][[11, 0, 5], start : start + 256]))
    stream = ChunkStream(RecordingRef(UUID, 0), chunk=1000)
    chunks = [data for data, _, _ in DataLoader(stream, batch_size=None, num_workers=2)]
    np.testing.assert_array_equal(torch.cat(chunks, dim=1).numpy(), originals[0])


def test_legacy_dataset_reads_its_csv_and_batch_from_the_store(tmp_path, store):
    from braingeneers.core import storage
    from braingeneers.data.recording import open_experiment
    from braingeneers.ml import EphysDataset

    publish(tmp_path)
    uri = f"s3://braingeneers/ephys/{UUID}/windows.csv"
    with storage.open(uri, "w") as handle:
        handle.write("offset,length,channels\n1500,,2/7\n10,,all\n")
    ds = EphysDataset(UUID, 1, 100, uri, bounds="pad")
    data = open_experiment(UUID, 1).read(units="uV", dtype=np.float64)
    np.testing.assert_array_equal(ds[0], data[[2, 7], 1450:1550])
    np.testing.assert_array_equal(ds[1][:, 40:], data[:, 0:60])
    assert not ds[1][:, :40].any()

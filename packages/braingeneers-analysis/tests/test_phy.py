"""Loading Phy/Kilosort zips from S3 (moto) and a local mirror, built by the tests."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest

from braingeneers.analysis import NeuronAttributes, load_spike_data, read_phy_files
from braingeneers.core import storage
from braingeneers.core.errors import FormatError, NotFoundError

UUID = "2026-01-01-e-phytest"
FS = 10000.0
N_CHANNELS = 14


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _phy_zip(label_files: dict[str, str] | None = None, drop: str | None = None) -> bytes:
    """Three clusters (0, 1 labelled, 2 noise) plus cluster 5 labelled but without spikes."""
    rng = np.random.default_rng(0)
    spike_times = np.array([10, 20, 30, 40, 55, 70, 90], dtype=np.uint64)
    spike_clusters = np.array([0, 1, 0, 2, 1, 0, 1], dtype=np.int32)
    spike_templates = np.array(
        [0, 1, 3, 2, 1, 0, 1], dtype=np.int32
    )  # cluster 0's last spike uses template 0
    templates = rng.normal(0, 0.1, size=(4, 8, N_CHANNELS)).astype(np.float32)
    templates[0, :, 3] += np.linspace(-5, 5, 8)  # cluster 0: biggest on channel index 3
    templates[1, :, 9] += np.linspace(-3, 3, 8)  # cluster 1: biggest on channel index 9
    files = {
        "params.py": f"dat_path = 'recording.dat'\nn_channels_dat = {N_CHANNELS}\nsample_rate = {FS}\n",
        "spike_times.npy": _npy(spike_times),
        "spike_clusters.npy": _npy(spike_clusters),
        "spike_templates.npy": _npy(spike_templates),
        "amplitudes.npy": _npy(np.arange(7, dtype=np.float64) + 1),
        "templates.npy": _npy(templates),
        "whitening_mat_inv.npy": _npy(np.eye(N_CHANNELS) * 2.0),
        "channel_map.npy": _npy(np.arange(100, 100 + N_CHANNELS, dtype=np.int32)),
        "channel_positions.npy": _npy(np.stack([np.arange(N_CHANNELS) * 17.5, np.zeros(N_CHANNELS)], axis=1)),
    }
    if label_files is None:
        label_files = {"cluster_group.tsv": "cluster_id\tgroup\n0\tgood\n1\tmua\n2\tnoise\n5\tgood\n"}
    files.update(label_files)
    if drop is not None:
        del files[drop]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"phy/{name}", data)
    return out.getvalue()


def _put(key: str, data: bytes) -> str:
    uri = f"s3://braingeneers/{key}"
    with storage.open(uri, "wb") as handle:
        handle.write(data)
    return uri


def test_load_spike_data_from_s3_and_mirror(store: str) -> None:
    _put(f"ephys/{UUID}/derived/kilosort2/rec1_phy.zip", _phy_zip())
    _put(
        f"ephys/{UUID}/metadata.json",
        json.dumps(
            {
                "ephys_experiments": {
                    "rec1": {"sample_rate": 10000, "blocks": [{"num_frames": 3000}, {"num_frames": 2000}]}
                }
            }
        ).encode(),
    )
    sd = load_spike_data(UUID, "rec1")
    assert sd.N == 2  # noise cluster and the spike-less cluster are left out
    np.testing.assert_allclose(sd.train[0], [1.0, 3.0, 7.0])  # samples / 10 kHz, in ms
    np.testing.assert_allclose(sd.train[1], [2.0, 5.5, 9.0])
    assert sd.length == 500.0  # 5000 frames at 10 kHz from metadata.json
    assert sd.metadata["experiment"] == "rec1"
    attrs = sd.neuron_attributes
    assert attrs is not None
    first = attrs[0]
    assert isinstance(first, NeuronAttributes)
    assert first.cluster_id == 0
    assert first.label == "good"
    assert attrs[1].label == "mua"
    assert first.channel == 103
    assert first.position == (52.5, 0.0)
    assert attrs[1].channel == 109
    np.testing.assert_array_equal(first.amplitudes, [1.0, 3.0, 6.0])
    assert first.templates.shape == (N_CHANNELS, 8)
    assert first.template == pytest.approx(first.templates[3])
    assert first.template.max() - first.template.min() == pytest.approx(20.0, abs=1.0)  # unwhitened x2
    assert len(first.neighbor_channels) == 12
    assert first.neighbor_channels[0] == 103
    good_only = load_spike_data(UUID, "rec1", groups_to_load=["good"])
    assert good_only.N == 1


def test_full_path_and_read_phy_files_on_a_local_zip(tmp_path: Path) -> None:
    path = tmp_path / "exp7.zip"
    path.write_bytes(_phy_zip())
    sd = load_spike_data("unused", full_path=str(path))
    assert sd.metadata["experiment"] == "exp7"
    assert sd.length == 9.0  # no metadata: the last spike
    legacy = read_phy_files(path)
    assert legacy.N == sd.N
    for a, b in zip(legacy.train, sd.train, strict=True):
        np.testing.assert_array_equal(a, b)


def test_label_file_priority_and_kslabel(tmp_path: Path) -> None:
    info = "cluster_id\tKSLabel\tgroup\tch\n0\tgood\tnoise\t3\n1\tmua\tgood\t9\n2\tgood\t\t1\n"
    path = tmp_path / "a.zip"
    path.write_bytes(
        _phy_zip(
            {"cluster_info.tsv": info, "cluster_group.tsv": "cluster_id\tgroup\n0\tgood\n1\tgood\n2\tgood\n"}
        )
    )
    sd = read_phy_files(path)  # cluster_info.tsv wins; its curated "group" column is used
    assert [a.cluster_id for a in sd.neuron_attributes or []] == [1, 2]
    assert [a.label for a in sd.neuron_attributes or []] == ["good", ""]
    path.write_bytes(_phy_zip({"cluster_KSLabel.tsv": "cluster_id\tKSLabel\n0\tmua\n1\tnoise\n2\tgood\n"}))
    assert [a.label for a in read_phy_files(path).neuron_attributes or []] == ["mua", "good"]


def test_no_label_file_loads_everything_unlabelled(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "b.zip"
    path.write_bytes(_phy_zip({}))
    with caplog.at_level(logging.WARNING):
        sd = read_phy_files(path)
    assert sd.N == 3
    assert "no cluster label TSV" in caplog.text


def test_missing_files_and_folders_raise_typed_errors(tmp_path: Path, store: str) -> None:
    path = tmp_path / "c.zip"
    path.write_bytes(_phy_zip(drop="params.py"))
    with pytest.raises(FormatError, match=r"params\.py"):
        read_phy_files(path)
    path.write_bytes(_phy_zip(drop="templates.npy"))
    with pytest.raises(FormatError, match=r"templates\.npy"):
        read_phy_files(path)
    _put(f"ephys/{UUID}/derived/kilosort2/other.zip", _phy_zip())
    with pytest.raises(NotFoundError, match="rec9"):
        load_spike_data(UUID, "rec9")
    with pytest.raises(NotFoundError):
        load_spike_data(UUID, "rec1", sorter="ks4")

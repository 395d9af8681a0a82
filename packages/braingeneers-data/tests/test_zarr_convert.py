"""Zarr copies: every format -> Zarr -> identical raw counts, locally and on the loopback S3 server;
resume after a SIGKILL, verification, damaged/missing chunks, incomplete stores, S3 going away."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("zarr", minversion="3")

from braingeneers.core.errors import ConflictError, FormatError, StorageError
from braingeneers.data.metadata import BatchMetadata, load_metadata
from braingeneers.data.recording import Recording, open_experiment
from braingeneers.data.zarr_convert import (
    Layout,
    configure_convert,
    convert_experiment,
    default_store_uri,
    store_status,
    zarr_copy,
    zarr_experiment,
)

#: A small layout so that test recordings span several chunks, shards and ranges.
SMALL = Layout(chunk_channels=16, chunk_frames=256, range_bytes=64 * 512 * 2)


def publish(folder: Path) -> BatchMetadata:
    """Copy a local batch folder to ``s3://braingeneers/ephys/<uuid>/`` (S3 or mirror) and load it."""
    from braingeneers.core.transfer import upload

    uuid = load_metadata(folder).uuid
    base = f"s3://braingeneers/ephys/{uuid}/"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        upload(path, base + path.relative_to(folder).as_posix())
    return load_metadata(uuid)


def axion_batch(
    tmp_path: Path, frames: int = 2600, per_file: int = 1000, uuid: str = "2024-01-01-e-zarr-axion"
) -> Path:
    from braingeneers.data.synthetic.axion import write_axion_batch
    from braingeneers.data.synthetic.signal import synthetic_signal

    data, _ = synthetic_signal(384, frames, 12500.0, seed=3)
    folder = tmp_path / "axion-batch"
    write_axion_batch(folder, data, per_file, uuid=uuid)
    return folder


def maxwell_batch(tmp_path: Path) -> Path:
    """A MaxTwo file with two wells (one experiment per well) and a legacy MaxOne file."""
    from braingeneers.data.formats import maxwell
    from braingeneers.data.metadata import save_metadata
    from braingeneers.data.synthetic.maxwell import write_maxwell
    from braingeneers.data.synthetic.signal import synthetic_signal

    data, _ = synthetic_signal(40, 1500, 20000.0, seed=4)
    counts = (data.astype(np.int32) + 512).astype(np.uint16)
    folder = tmp_path / "maxwell-batch"
    write_maxwell({0: counts, 1: counts[:21, :900]}, folder / "original/data/plate.raw.h5", layout="wells")
    write_maxwell(counts[:6], folder / "original/data/one.raw.h5", channels=[5, 9, 100, 3, 1000, 7])
    meta = maxwell.generate_metadata(folder)
    meta.uuid = "2024-01-01-e-zarr-maxwell"
    save_metadata(meta, folder / "metadata.json")
    return folder


def hengenlab_batch(tmp_path: Path) -> Path:
    from braingeneers.data.synthetic.hengenlab import write_hengenlab_batch
    from braingeneers.data.synthetic.signal import synthetic_signal

    data, _ = synthetic_signal(24, 2100, 25000.0, seed=5)
    folder = tmp_path / "hengenlab-batch"
    write_hengenlab_batch(folder, data, 800, uuid="2024-01-01-e-zarr-hengenlab")
    return folder


def flat_batch(tmp_path: Path, hardware: str) -> Path:
    from braingeneers.data.metadata import save_metadata
    from braingeneers.data.synthetic.flat import write_intan, write_raspi
    from braingeneers.data.synthetic.signal import synthetic_signal

    data, _ = synthetic_signal(20, 1700, 1000.0, seed=6)
    folder = tmp_path / f"{hardware.lower()}-batch"
    write = write_raspi if hardware == "Raspi" else write_intan
    write(data[:, :1000], folder / "original/data/a.bin")
    write(data[:, 1000:], folder / "original/data/b.bin")
    meta = BatchMetadata.from_dict(
        {
            "uuid": f"2024-01-01-e-zarr-{hardware.lower()}",
            "ephys_experiments": {
                "e": {
                    "hardware": hardware,
                    "num_channels": 20,
                    "sample_rate": 1000,
                    "voltage_scaling_factor": 0.195,
                    "blocks": [
                        {"path": "original/data/a.bin", "num_frames": 1000},
                        {"path": "original/data/b.bin", "num_frames": 700},
                    ],
                }
            },
        },
        source=str(folder),
    )
    save_metadata(meta, folder / "metadata.json")
    return folder


def hdf5_batch(tmp_path: Path, fmt: str) -> Path:
    """An NWB file (int16 ElectricalSeries) or a MEArec file (float32 recordings)."""
    from braingeneers.data.formats import mearec, nwb
    from braingeneers.data.metadata import save_metadata
    from braingeneers.data.synthetic.mearec import write_mearec
    from braingeneers.data.synthetic.nwb import write_nwb
    from braingeneers.data.synthetic.signal import synthetic_signal

    data, _ = synthetic_signal(12, 2000, 20000.0, seed=8)
    folder = tmp_path / f"{fmt}-batch"
    if fmt == "nwb":
        write_nwb(data, folder / "original/data/rec.nwb")
        meta = nwb.generate_metadata(folder, uuid="2024-01-01-e-zarr-nwb")
    else:
        write_mearec(data.astype(np.float32) * 0.5, folder / "original/data/recordings_sim.h5")
        meta = mearec.generate_metadata(folder, uuid="2024-01-01-e-zarr-mearec")
    save_metadata(meta, folder / "metadata.json")
    return folder


BATCHES = {
    "axion": axion_batch,
    "maxwell": maxwell_batch,
    "hengenlab": hengenlab_batch,
    "raspi": lambda tmp_path: flat_batch(tmp_path, "Raspi"),
    "intan": lambda tmp_path: flat_batch(tmp_path, "Intan"),
    "nwb": lambda tmp_path: hdf5_batch(tmp_path, "nwb"),
    "mearec": lambda tmp_path: hdf5_batch(tmp_path, "mearec"),
}


def windows(rec: Recording, rng: np.random.Generator) -> list[tuple[int, int, np.ndarray]]:
    """Whole recording, block and chunk boundaries, the last frames, scattered channels."""
    n, c = rec.num_frames, rec.num_channels
    bounds = np.cumsum([b.num_frames for b in rec.experiment.blocks])[:-1].tolist()
    picks = [(0, n, np.arange(c))]
    for edge in [*bounds, 256, 512, n - 1]:
        picks.append((max(0, edge - 7), min(n, edge + 9), np.arange(c)))
    for _ in range(4):
        start = int(rng.integers(0, n - 1))
        stop = int(rng.integers(start + 1, n + 1))
        picks.append((start, stop, np.sort(rng.choice(c, size=min(c, 5), replace=False))))
    return picks


@pytest.mark.parametrize("fmt", sorted(BATCHES))
def test_round_trip_gives_identical_raw_counts(tmp_path: Path, store: str, fmt: str) -> None:
    meta = publish(BATCHES[fmt](tmp_path))
    rng = np.random.default_rng(0)
    for name in list(meta.ephys_experiments)[:3]:
        result = convert_experiment(meta, name, workers=2, layout=SMALL, progress=False)
        assert result.complete
        assert result.ranges >= 1
        assert result.converted == list(range(result.ranges))
        assert result.store == default_store_uri(meta, name)
        assert result.store.startswith("s3://braingeneers/ephys/")
        assert zarr_copy(meta, name) == (result.store, "complete")
        with open_experiment(meta, name) as original:
            copy_meta = BatchMetadata.from_dict(meta.to_dict(), source=meta.source)
            copy_meta.ephys_experiments[name] = zarr_experiment(
                meta.ephys_experiments[name], result.store, original.num_frames
            )
            with open_experiment(copy_meta, name) as copy:
                assert (copy.num_channels, copy.num_frames) == (original.num_channels, original.num_frames)
                assert copy.sample_rate == original.sample_rate
                assert copy.dtype == original.dtype
                np.testing.assert_array_equal(copy.channel_ids, original.channel_ids)
                np.testing.assert_array_equal(copy.channel_info.gain_uv, original.channel_info.gain_uv)
                np.testing.assert_array_equal(copy.channel_info.offset, original.channel_info.offset)
                for start, stop, channels in windows(original, rng):
                    np.testing.assert_array_equal(
                        copy.read(start, stop, channels, units="raw"),
                        original.read(start, stop, channels, units="raw"),
                    )
                np.testing.assert_array_equal(copy.read(10, 300), original.read(10, 300))


def test_store_attributes_record_provenance(tmp_path: Path) -> None:
    import zarr

    meta = load_metadata(axion_batch(tmp_path, frames=600, per_file=300))
    name = next(iter(meta.ephys_experiments))
    result = convert_experiment(meta, name, layout=SMALL, progress=False)
    group = zarr.open_group(result.store, mode="r+")
    info = group.attrs["braingeneers"]
    assert info["status"] == "complete"
    assert info["completed"] >= info["created"]
    assert info["source"]["experiment"] == name
    assert [f["num_frames"] for f in info["source"]["files"]] == [300, 300]
    for entry in info["source"]["files"]:
        assert entry["size"] == Path(entry["uri"]).stat().st_size
        assert len(entry["sha256"]) == 64
    assert info["converter"]["name"] == "braingeneers-data"
    attrs = group["raw"].attrs
    assert attrs["sample_rate"] == 12500.0
    assert attrs["block_first_frames"] == [0, 300]
    assert len(attrs["gain_uv"]) == group["raw"].shape[0] == 64
    # Converting again does nothing; a different layout is refused without overwrite.
    again = convert_experiment(meta, name, layout=SMALL, progress=False)
    assert again.complete
    assert again.converted == []
    partial_other = Layout(chunk_channels=16, chunk_frames=128, range_bytes=4096)
    group.attrs["braingeneers"] = {**info, "status": "converting"}
    with pytest.raises(ConflictError, match="overwrite"):
        convert_experiment(meta, name, layout=partial_other, progress=False)
    redone = convert_experiment(meta, name, layout=partial_other, overwrite=True, progress=False)
    assert redone.complete
    assert len(redone.converted) == redone.ranges


def test_incomplete_store_is_refused_with_resume_message(tmp_path: Path, store: str) -> None:
    meta = publish(axion_batch(tmp_path, frames=1200, per_file=600))
    name = next(iter(meta.ephys_experiments))
    first = convert_experiment(meta, name, layout=SMALL, task=(0, 2), progress=False)
    assert not first.complete
    assert first.converted == list(range(0, first.ranges, 2))
    assert store_status(first.store) == "converting"
    copy_meta = BatchMetadata.from_dict(meta.to_dict(), source=meta.source)
    copy_meta.ephys_experiments[name] = zarr_experiment(meta.ephys_experiments[name], first.store, 1200)
    with pytest.raises(FormatError, match="resume the conversion"), open_experiment(copy_meta, name) as rec:
        rec.read(0, 10)
    second = convert_experiment(meta, name, layout=SMALL, task=(1, 2), progress=False)
    assert second.converted == list(range(1, first.ranges, 2))
    assert not second.complete
    final = convert_experiment(meta, name, layout=SMALL, progress=False)
    assert final.complete
    assert final.converted == []
    assert final.skipped == list(range(first.ranges))
    with open_experiment(copy_meta, name) as rec, open_experiment(meta, name) as original:
        np.testing.assert_array_equal(rec.read(units="raw"), original.read(units="raw"))


class TcpProxy:
    """A loopback TCP relay to a server that can be stopped (connections cut) and started again."""

    def __init__(self, target_url: str) -> None:
        from urllib.parse import urlsplit

        from braingeneers.core.testing import free_port

        self.target = ("127.0.0.1", int(urlsplit(target_url).port or 80))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)


def _shard_keys(store_uri: str) -> list[str]:
    from braingeneers.core import storage

    return [o.uri for o in storage.list_objects(store_uri) if "/raw/c/" in o.uri]


def _damage(uri: str, how: str) -> None:
    from braingeneers.core import storage
    from braingeneers.core.endpoint import local_path

    path = local_path(uri)
    if how == "delete":
        if path is not None:
            path.unlink()
        else:
            bucket, key = uri[5:].split("/", 1)
            storage.s3_client().delete_object(Bucket=bucket, Key=key)
        return
    with storage.open(uri, "rb") as handle:
        data = bytearray(handle.read())
    data[40:80] = bytes(40)  # inside the first chunk's compressed bytes
    with storage.open(uri, "wb") as handle:
        handle.write(bytes(data))


@pytest.mark.parametrize("how", ["corrupt", "delete"])
def test_damaged_or_missing_chunk_raises_format_error_naming_it(tmp_path: Path, store: str, how: str) -> None:
    meta = publish(axion_batch(tmp_path, frames=1200, per_file=1200))
    name = next(iter(meta.ephys_experiments))
    result = convert_experiment(meta, name, layout=SMALL, progress=False)
    shards = _shard_keys(result.store)
    assert len(shards) == result.ranges * 4  # 64 channels: 4 shard rows of 16 per range
    target = sorted(shards)[0]
    _damage(target, how)
    copy_meta = BatchMetadata.from_dict(meta.to_dict(), source=meta.source)
    copy_meta.ephys_experiments[name] = zarr_experiment(meta.ephys_experiments[name], result.store, 1200)
    key = target.split(".zarr/", 1)[1]
    with open_experiment(copy_meta, name) as rec:
        with pytest.raises(FormatError) as caught:
            rec.read(0, 100, units="raw")
        message = str(caught.value)
        assert key in message or "chunk (0, 0)" in message
        assert "convert" in message
    # Verification notices the damage and converting again repairs it.
    if how == "corrupt":
        store_status_before = store_status(result.store)
        assert store_status_before == "complete"
    repaired = convert_experiment(meta, name, layout=SMALL, overwrite=True, progress=False)
    assert repaired.complete
    with open_experiment(copy_meta, name) as rec, open_experiment(meta, name) as original:
        np.testing.assert_array_equal(rec.read(0, 100, units="raw"), original.read(0, 100, units="raw"))


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from braingeneers.data import zarr_convert
    from braingeneers.data.zarr_convert import Layout, convert_experiment

    real = zarr_convert.convert_range

    def slow(store_uri, index):
        record = real(store_uri, index)
        print("done", index, flush=True)
        time.sleep(0.3)
        return record

    zarr_convert.convert_range = slow
    layout = Layout(chunk_channels=16, chunk_frames=256, range_bytes=16 * 256 * 2 * 4)
    convert_experiment(sys.argv[1], sys.argv[2], layout=layout, workers=1, progress=False)
    print("finished", flush=True)
    """
)


def _records(store_uri: str) -> dict[str, dict]:
    from braingeneers.core import storage

    return {
        o.uri: json.loads(storage.open(o.uri, "rb").read())
        for o in storage.list_objects(store_uri)
        if "/progress/" in o.uri
    }


def test_sigkilled_conversion_resumes_without_redoing_finished_ranges(tmp_path: Path, store: str) -> None:
    meta = publish(axion_batch(tmp_path, frames=3000, per_file=1000))
    name = next(iter(meta.ephys_experiments))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, meta.uuid, name],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        seen = 0
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while seen < 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line.startswith("done")
        assert seen == 3, "the conversion did not get going"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    uri = default_store_uri(meta, name)
    assert store_status(uri) == "converting"
    before = _records(uri)
    assert len(before) >= 3
    layout = Layout(chunk_channels=16, chunk_frames=256, range_bytes=16 * 256 * 2 * 4)
    redone: list[int] = []
    result = convert_experiment(meta, name, layout=layout, workers=2, progress=False, on_range=redone.append)
    assert result.complete
    done_before = {record["index"] for record in before.values()}
    assert set(result.skipped) == done_before
    assert not done_before & set(redone)
    assert sorted(redone) == sorted(set(range(result.ranges)) - done_before)
    after = _records(uri)
    for key, record in before.items():
        assert after[key] == record  # finished ranges were not converted again
    copy_meta = BatchMetadata.from_dict(meta.to_dict(), source=meta.source)
    copy_meta.ephys_experiments[name] = zarr_experiment(meta.ephys_experiments[name], uri, 3000)
    with open_experiment(copy_meta, name) as rec, open_experiment(meta, name) as original:
        np.testing.assert_array_equal(rec.read(units="raw"), original.read(units="raw"))


def test_verification_reconverts_a_range_damaged_before_finalizing(tmp_path: Path) -> None:
    meta = load_metadata(axion_batch(tmp_path, frames=1200, per_file=600))
    name = next(iter(meta.ephys_experiments))
    partial = convert_experiment(meta, name, layout=SMALL, task=(0, 1), progress=False)
    assert not partial.complete
    _damage(sorted(_shard_keys(partial.store))[0], "corrupt")
    redone: list[int] = []
    final = convert_experiment(meta, name, layout=SMALL, progress=False, on_range=redone.append)
    assert final.complete
    assert redone == [0]


def test_cli_convert_parses_and_converts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = axion_batch(tmp_path, frames=600, per_file=600)
    parser = argparse.ArgumentParser()
    configure_convert(parser.add_subparsers())
    args = parser.parse_args(["convert", str(folder), "-e", "A1", "--workers", "1", "--no-progress"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("A1: ")
    assert " complete;" in out
    meta = load_metadata(folder)
    assert zarr_copy(meta, "A1") is not None
    assert zarr_copy(meta, "A2") is None
    with pytest.raises(SystemExit):
        parser.parse_args(["convert", str(folder), "--task", "3/2"])


def test_s3_going_away_leaves_a_resumable_store(tmp_path: Path, s3_server: str) -> None:
    from braingeneers.core import endpoint
    from braingeneers.core.testing import reset_bucket

    with TcpProxy(s3_server) as proxy:
        endpoint.set_default_endpoint(proxy.url)
        os.environ["BRAINGENEERS_S3_MAX_ATTEMPTS"] = "1"
        os.environ["BRAINGENEERS_S3_TIMEOUT"] = "5"
        try:
            reset_bucket()
            meta = load_metadata(axion_batch(tmp_path, frames=3000, per_file=1000))
            name = next(iter(meta.ephys_experiments))
            out = "s3://braingeneers/derived/zarr-fault.zarr"
            layout = Layout(chunk_channels=16, chunk_frames=256, range_bytes=16 * 256 * 2 * 2)

            def cut(index: int) -> None:
                if index == 2:
                    proxy.stop()

            with pytest.raises(StorageError, match="resumable"):
                convert_experiment(meta, name, out, layout=layout, progress=False, on_range=cut)
            proxy.start()
            assert store_status(out) == "converting"
            redone: list[int] = []
            result = convert_experiment(
                meta, name, out, layout=layout, progress=False, on_range=redone.append
            )
            assert result.complete
            assert result.skipped == [0, 1, 2]
            assert 0 not in redone
        finally:
            os.environ.pop("BRAINGENEERS_S3_MAX_ATTEMPTS", None)
            os.environ.pop("BRAINGENEERS_S3_TIMEOUT", None)


def test_job_array_tasks_started_together_then_finalized(tmp_path: Path, store: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    meta = publish(axion_batch(tmp_path, frames=2600, per_file=1000))
    name = "B2"
    with ThreadPoolExecutor(3) as pool:
        parts = list(
            pool.map(
                lambda i: convert_experiment(meta, name, layout=SMALL, task=(i, 3), progress=False), range(3)
            )
        )
    ranges = parts[0].ranges
    assert sorted(r for part in parts for r in part.converted) == list(range(ranges))
    assert store_status(default_store_uri(meta, name)) == "converting"
    final = convert_experiment(meta, name, layout=SMALL, progress=False)
    assert final.complete
    assert final.converted == []
    copy_meta = BatchMetadata.from_dict(meta.to_dict(), source=meta.source)
    copy_meta.ephys_experiments[name] = zarr_experiment(meta.ephys_experiments[name], final.store, 2600)
    with open_experiment(copy_meta, name) as rec, open_experiment(meta, name) as original:
        np.testing.assert_array_equal(rec.read(units="raw"), original.read(units="raw"))


def test_python_older_than_311_gets_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import namedtuple

    from braingeneers.core.errors import ConfigError
    from braingeneers.data.zarr_store import require_zarr

    monkeypatch.setattr(sys, "version_info", namedtuple("V", "major minor micro")(3, 10, 14))
    with pytest.raises(ConfigError, match=r"Python 3\.11 or newer"):
        require_zarr()


def test_cli_info_says_whether_a_zarr_copy_exists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from braingeneers.core.cli import main

    folder = axion_batch(tmp_path, frames=600, per_file=600)
    assert main(["data", "convert", str(folder), "-e", "A1", "--task", "0/2", "--no-progress"]) == 0
    assert main(["data", "convert", str(folder), "-e", "A2", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = {lines[i].split(":")[0].strip(): lines[i + 1].strip() for i in range(1, len(lines) - 1, 2)}
    assert summary["A1"].startswith("zarr copy: ")
    assert summary["A1"].endswith(
        "(converting; resume: braingeneers data convert 2024-01-01-e-zarr-axion -e 'A1')"
    )
    assert summary["A2"] == f"zarr copy: {folder.resolve() / 'derived/zarr/A2.zarr'} (complete)"
    assert summary["B3"] == "zarr copy: none (braingeneers data convert makes one)"


@pytest.mark.parametrize("level", ["experiment", "block"])
def test_metadata_points_at_the_copy_and_legacy_load_data_reads_it(
    tmp_path: Path, store: str, level: str
) -> None:
    from braingeneers.data.datasets_electrophysiology import load_data
    from braingeneers.data.metadata import save_metadata

    # A UUID of its own: the legacy API keeps recordings open across calls, keyed by batch.
    meta = publish(
        axion_batch(tmp_path, frames=1500, per_file=700, uuid=f"2024-01-01-e-legacy-{store}-{level}")
    )
    result = convert_experiment(meta, "A2", layout=SMALL, progress=False)
    assert result.store == f"s3://braingeneers/ephys/{meta.uuid}/derived/zarr/A2.zarr"
    document = meta.to_dict()
    entry = json.loads(json.dumps(document["ephys_experiments"]["A2"]))
    entry["blocks"] = [{"path": "derived/zarr/A2.zarr", "num_frames": 1500}]
    if level == "experiment":
        entry["data_format"] = "zarr"
    else:
        entry["blocks"][0]["data_format"] = "zarr"
    entry["name"] = "A2 (zarr)"
    document["ephys_experiments"]["A2 (zarr)"] = entry
    save_metadata(BatchMetadata.from_dict(document))
    reloaded = load_metadata(meta.uuid)
    for offset, length in [(0, None), (695, 10), (1490, 10)]:
        np.testing.assert_array_equal(
            load_data(reloaded, "A2 (zarr)", offset, length, channels=[3, 1, 3], dtype="int16"),
            load_data(reloaded, "A2", offset, length, channels=[3, 1, 3], dtype="int16"),
        )
    np.testing.assert_allclose(
        load_data(reloaded, "A2 (zarr)", 100, 50), load_data(reloaded, "A2", 100, 50), rtol=0, atol=0
    )

"""Cross-check the Axion, Hengenlab and Raspi readers against an independent reader (neo).

neo (0.14) has no Axion or eCube reader (an Axion reader is an open request upstream),
but its generic flat-binary reader reads interleaved samples after a byte offset.
We give it only what our header parser found (data start, channel count) and compare
the samples of every well column it returns with ours; its µV come from the gain we
pass, so only raw counts are compared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from braingeneers.data.metadata import load_metadata
from braingeneers.data.recording import open_experiment
from braingeneers.data.synthetic.axion import write_axion_batch
from braingeneers.data.synthetic.flat import write_raspi
from braingeneers.data.synthetic.hengenlab import write_hengenlab_batch

rawio = pytest.importorskip("neo.rawio")


def neo_frames(
    path: Path, dtype: str, channels: int, offset: int, start: int, stop: int, columns: list[int]
) -> np.ndarray:
    """Read ``[channels, frames]`` with neo (which returns ``[frames, channels]``)."""
    reader = rawio.RawBinarySignalRawIO(
        filename=str(path), dtype=dtype, sampling_rate=1000.0, nb_channel=channels, bytesoffset=offset
    )
    reader.parse_header()
    chunk = reader.get_analogsignal_chunk(
        block_index=0, seg_index=0, i_start=start, i_stop=stop, stream_index=0, channel_indexes=columns
    )
    return np.asarray(chunk).T


def test_axion_wells_match_neo_on_every_file(tmp_path: Path) -> None:
    from braingeneers.data.synthetic.signal import synthetic_signal

    data, _ = synthetic_signal(384, 900, 12500.0, seed=4)
    folder = tmp_path / "ax"
    write_axion_batch(folder, data, 500, plate="24-well")
    meta = load_metadata(folder)
    for index, well in enumerate(meta.ephys_experiments):
        columns = meta.extra["axion_per_well_channel_map"][index]
        experiment = meta.ephys_experiments[well]
        pieces = []
        for block in experiment.blocks:
            path = Path(meta.block_uri(block))
            start = block.extra["axion_data_start_position"]
            pieces.append(neo_frames(path, "int16", 384, start, 0, block.num_frames, columns))
        expected = np.concatenate(pieces, axis=1)
        with open_experiment(meta, well) as rec:
            np.testing.assert_array_equal(rec.read(units="raw"), expected)
            np.testing.assert_array_equal(
                rec.read(480, 530, channels=[3, 1], units="raw"), expected[[3, 1], 480:530]
            )


def test_hengenlab_matches_neo_across_files(tmp_path: Path) -> None:
    data = np.random.default_rng(5).integers(-3000, 3000, size=(16, 700), dtype=np.int16)
    order = [int(c) for c in np.random.default_rng(6).permutation(16)]
    write_hengenlab_batch(tmp_path / "hl", data, 250, channel_map=order)
    meta = load_metadata(tmp_path / "hl")
    experiment = meta.ephys_experiments["experiment1"]
    expected = np.concatenate(
        [
            neo_frames(Path(meta.block_uri(b)), "int16", 16, 8, 0, b.num_frames, order)
            for b in experiment.blocks
        ],
        axis=1,
    )
    with open_experiment(meta, "experiment1") as rec:
        np.testing.assert_array_equal(rec.read(units="raw"), expected)


def test_raspi_big_endian_matches_neo(tmp_path: Path) -> None:
    from braingeneers.data.metadata import BatchMetadata

    data = np.random.default_rng(8).integers(-32768, 32767, size=(6, 300), dtype=np.int16)
    write_raspi(data, tmp_path / "derived" / "r.bin", header_bytes=4)
    meta = BatchMetadata.from_dict(
        {
            "uuid": "r",
            "ephys_experiments": {
                "e": {
                    "hardware": "Raspi",
                    "num_channels": 6,
                    "sample_rate": 1000,
                    "offset": 128,
                    "blocks": [{"path": "derived/r.bin", "num_frames": 300}],
                }
            },
        },
        source=str(tmp_path),
    )
    expected = neo_frames(tmp_path / "derived" / "r.bin", ">i2", 6, 4, 0, 300, list(range(6)))
    with open_experiment(meta, "e") as rec:
        np.testing.assert_array_equal(rec.read(units="raw"), expected)

"""ChunkStream: contiguous chunks in order, across workers and ranks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

from braingeneers.ml import ChunkStream


@pytest.mark.parametrize("workers", [0, 2])
def test_chunks_reassemble_the_recordings_in_order(make_recording, workers):
    a, b = make_recording(num_frames=2500, seed=1), make_recording(num_frames=900, seed=2)
    stream = ChunkStream([a, b], chunk=1000, channels=[2, 5])
    assert isinstance(stream, IterableDataset)
    assert len(stream) == 3 + 1
    loader = DataLoader(stream, batch_size=None, num_workers=workers)
    got = [(rec, start, data) for data, rec, start in loader]
    assert [(r, s) for r, s, _ in got] == [(0, 0), (0, 1000), (0, 2000), (1, 0)]
    for (_, start, data), opener in zip(got, [a, a, a, b], strict=True):
        expected = opener().read(start, min(start + 1000, opener().num_frames), channels=[2, 5])
        assert data.shape == (2, 1000)
        np.testing.assert_array_equal(data[:, : expected.shape[1]].numpy(), expected)
        assert torch.all(data[:, expected.shape[1] :] == 0)


def test_overlap_and_short_last_chunk(make_recording):
    opener = make_recording(num_frames=1000, seed=3)
    stream = ChunkStream(opener, chunk=400, overlap=100, pad_last=False, units="raw")
    chunks = list(stream)
    assert [s for _, _, s in chunks] == [0, 300, 600]
    assert [d.shape[1] for d, _, _ in chunks] == [400, 400, 400]
    stream = ChunkStream(opener, chunk=450, overlap=100, pad_last=False)
    chunks = list(stream)
    assert [(s, d.shape[1]) for d, _, s in chunks] == [(0, 450), (350, 450), (700, 300)]
    np.testing.assert_array_equal(chunks[-1][0].numpy(), opener().read(700, 1000))


def test_ranks_and_workers_split_the_chunks(make_recording):
    opener = make_recording(num_frames=5000, seed=4)
    starts = []
    for rank in range(2):
        stream = ChunkStream(opener, chunk=500, num_replicas=2, rank=rank)
        starts.append([s for _, _, s in DataLoader(stream, batch_size=None, num_workers=2)])
    assert starts == [[0, 1000, 2000, 3000, 4000], [500, 1500, 2500, 3500, 4500]]
    batched = DataLoader(ChunkStream(opener, chunk=500, group=4), batch_size=4, num_workers=2)
    got = [(data.shape, first.tolist()) for data, _, first in batched]
    assert got == [
        ((4, 8, 500), [0, 500, 1000, 1500]),
        ((4, 8, 500), [2000, 2500, 3000, 3500]),
        ((2, 8, 500), [4000, 4500]),
    ]


def test_bad_chunking_fails_at_construction(make_recording):
    opener = make_recording(num_frames=500, seed=5)
    with pytest.raises(ValueError, match="overlap"):
        ChunkStream(opener, chunk=100, overlap=100)
    with pytest.raises(ValueError, match="chunk"):
        ChunkStream(opener, chunk=0)
    with pytest.raises(IndexError, match="out of range"):
        ChunkStream(opener, chunk=100, channels=[8])

"""File handles: opened lazily once per process, never shared across fork, dropped when pickled."""

from __future__ import annotations

import os
import pickle

import numpy as np
import torch
from torch.utils.data import DataLoader

from braingeneers.ml import RandomWindowSampler, WindowDataset


def opens(log):
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def test_each_worker_opens_its_own_handle_once_and_reuses_it(make_recording, tmp_path):
    opener = make_recording(num_frames=4000, seed=7, log=True)
    ds = WindowDataset(opener, window=64)
    assert opens(opener.log) == [os.getpid()]  # geometry, read once in this process
    here = ds.recording(0)
    sampler = RandomWindowSampler(ds, num_samples=60, seed=1)
    for _ in range(2):  # two epochs with fresh workers
        loader = DataLoader(ds, batch_size=4, sampler=sampler, num_workers=2, multiprocessing_context="fork")
        batches = list(loader)
        assert len(batches) == 15
    pids = opens(opener.log)
    assert pids[0] == os.getpid()
    workers = pids[1:]
    assert len(workers) == 4  # one open per worker per epoch, not per item
    assert os.getpid() not in workers
    assert len(set(workers)) == 4
    # The parent's handle was neither replaced nor closed by the children.
    assert ds.recording(0) is here
    np.testing.assert_array_equal(ds[3].numpy(), opener().read(3, 67))


def test_persistent_workers_keep_their_handles_across_epochs(make_recording):
    opener = make_recording(num_frames=2000, seed=8, log=True)
    ds = WindowDataset(opener, window=64)
    loader = DataLoader(
        ds,
        batch_size=5,
        sampler=RandomWindowSampler(ds, num_samples=20, seed=1),
        num_workers=2,
        persistent_workers=True,
    )
    for _ in range(3):
        assert sum(batch.shape[0] for batch in loader) == 20
    assert len(opens(opener.log)) == 1 + 2


def test_pickling_drops_open_handles(make_recording):
    opener = make_recording(num_frames=500, seed=9, log=True)
    ds = WindowDataset(opener, window=32)
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._cache._handles == {}
    torch.testing.assert_close(clone[10], ds[10])
    assert len(opens(opener.log)) == 2


def test_pin_memory_loader(make_recording):
    ds = WindowDataset(make_recording(num_frames=500), window=32)
    loader = DataLoader(ds, batch_size=4, sampler=[0, 1, 2, 3], pin_memory=torch.cuda.is_available())
    (batch,) = list(loader)
    assert batch.shape == (4, 8, 32)


def test_spawned_workers_receive_a_picklable_dataset(make_recording):
    opener = make_recording(num_frames=800, seed=10)
    ds = WindowDataset(opener, window=32, channels=[1, 2])
    loader = DataLoader(
        ds, batch_size=4, sampler=[0, 100, 700, 768], num_workers=1, multiprocessing_context="spawn"
    )
    (batch,) = list(loader)
    rec = opener()
    expected = np.stack([rec.read(s, s + 32, channels=[1, 2]) for s in (0, 100, 700, 768)])
    np.testing.assert_array_equal(batch.numpy(), expected)


def test_samplers_default_to_the_initialised_process_group(make_recording):
    import torch.distributed as dist

    from braingeneers.core.testing import free_port
    from braingeneers.ml import SlidingWindowSampler

    ds = WindowDataset(make_recording(num_frames=800, seed=12), window=100)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1)
    try:
        sampler = SlidingWindowSampler(ds, stride=100)
        assert (sampler.num_replicas, sampler.rank) == (1, 0)
        assert len(sampler) == 8
    finally:
        dist.destroy_process_group()

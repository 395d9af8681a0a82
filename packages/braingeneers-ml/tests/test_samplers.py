"""Samplers: exact content through a DataLoader, seeds, worker counts and distributed sharding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from braingeneers.ml import EventWindowSampler, RandomWindowSampler, SlidingWindowSampler, WindowDataset


def expected_windows(dataset, openers, indices):
    recs = [opener() for opener in openers]
    out = []
    for index in indices:
        rec, start = dataset.locate(index)
        out.append(recs[rec].read(start, start + dataset.window, channels=dataset.channels))
    return np.stack(out)


def loaded(dataset, sampler, workers, batch_size=7):
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers)
    return torch.cat(list(loader)).numpy()


@pytest.fixture
def two(make_recording):
    openers = [make_recording(num_frames=3000, seed=1), make_recording(num_frames=1200, seed=2)]
    return openers, WindowDataset(openers, window=128, channels=[7, 0, 3])


@pytest.mark.parametrize("workers", [0, 2])
def test_every_sampler_yields_exactly_the_windows_it_names(two, workers):
    openers, ds = two
    samplers = [
        RandomWindowSampler(ds, num_samples=20, seed=3),
        EventWindowSampler(ds, [np.array([64, 500, 2935]), np.array([100, 1136])], seed=1),
        SlidingWindowSampler(ds, stride=300, cover_end=True),
    ]
    for sampler in samplers:
        indices = list(sampler)
        assert len(indices) == len(sampler)
        np.testing.assert_array_equal(loaded(ds, sampler, workers), expected_windows(ds, openers, indices))


def test_random_windows_are_reproducible_and_change_with_seed_and_epoch(two):
    _, ds = two
    a, b = RandomWindowSampler(ds, num_samples=50, seed=9), RandomWindowSampler(ds, num_samples=50, seed=9)
    assert list(a) == list(b)
    assert list(a) != list(RandomWindowSampler(ds, num_samples=50, seed=10))
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    a.set_epoch(0)
    assert list(a) == first
    # Uniform over positions: both recordings drawn, roughly in proportion to their windows.
    recs, _ = ds.locate_many(list(RandomWindowSampler(ds, num_samples=4000, seed=0)))
    share = np.mean(recs == 0)
    assert abs(share - ds.window_counts[0] / len(ds)) < 0.04
    only_second = RandomWindowSampler(ds, num_samples=30, recordings=[1])
    assert set(ds.locate_many(list(only_second))[0].tolist()) == {1}
    assert len(RandomWindowSampler(ds)) == (3000 + 1200) // 128


def test_same_batches_with_zero_and_two_workers(two):
    _, ds = two
    sampler = RandomWindowSampler(ds, num_samples=30, seed=4)
    np.testing.assert_array_equal(loaded(ds, sampler, 0), loaded(ds, sampler, 2))


def test_event_alignment_and_bounds(make_recording):
    ds = WindowDataset(make_recording(num_frames=1000), window=100)
    events = np.array([50, 500, 950, 951, 999])
    centre = EventWindowSampler(ds, events[:3], shuffle=False)
    assert [ds.locate(i)[1] for i in centre] == [0, 450, 900]
    left = EventWindowSampler(ds, [0, 900], align="left", shuffle=False)
    assert [ds.locate(i)[1] for i in left] == [0, 900]
    right = EventWindowSampler(ds, [99, 999], align="right", shuffle=False)
    assert [ds.locate(i)[1] for i in right] == [0, 900]
    with pytest.raises(IndexError, match=r"2 events of recording 0 \(frames \[951, 999\]"):
        EventWindowSampler(ds, events)
    dropped = EventWindowSampler(ds, events, out_of_bounds="drop", shuffle=False)
    assert len(dropped) == 3
    with pytest.raises(TypeError, match="from_seconds"):
        EventWindowSampler(ds, np.array([0.5, 1.0]))
    seconds = EventWindowSampler.from_seconds(ds, np.array([0.0025, 0.025]), shuffle=False)
    assert [ds.locate(i)[1] for i in seconds] == [0, 450]


def test_event_jitter_is_seeded_and_stays_inside(make_recording):
    ds = WindowDataset(make_recording(num_frames=1000), window=100)
    events = np.arange(50, 951, 100)
    a = EventWindowSampler(ds, events, jitter=30, seed=2)
    assert list(a) == list(EventWindowSampler(ds, events, jitter=30, seed=2))
    starts = np.array([ds.locate(i)[1] for i in a])
    assert starts.min() >= 0
    assert starts.max() <= 900
    plain = np.sort(events - 50)
    assert np.all(np.abs(np.sort(starts) - plain) <= 60)
    assert not np.array_equal(np.sort(starts), plain)


@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_split_an_epoch_like_distributed_sampler(two, drop_last):
    _, ds = two
    for make in (
        lambda **kw: RandomWindowSampler(ds, num_samples=23, seed=5, **kw),
        lambda **kw: EventWindowSampler(ds, {0: np.arange(100, 2900, 130)}, seed=5, **kw),
        lambda **kw: SlidingWindowSampler(ds, stride=200, **kw),
    ):
        whole = make(num_replicas=1, rank=0).epoch_indices()
        parts = [make(num_replicas=3, rank=r, drop_last=drop_last) for r in range(3)]
        lengths = {len(p) for p in parts}
        assert len(lengths) == 1
        merged = np.stack([p.indices() for p in parts], axis=1).reshape(-1)
        if drop_last:
            np.testing.assert_array_equal(merged, whole[: merged.size])
            assert merged.size == whole.size // 3 * 3
        else:
            np.testing.assert_array_equal(merged[: whole.size], whole)
            np.testing.assert_array_equal(merged[whole.size :], whole[: merged.size - whole.size])
    with pytest.raises(ValueError, match=r"rank must be in 0\.\.1"):
        SlidingWindowSampler(ds, num_replicas=2, rank=2)


def test_sliding_windows_cover_every_recording_in_order(two):
    _, ds = two
    sampler = SlidingWindowSampler(ds, stride=1000)
    located = [ds.locate(i) for i in sampler]
    assert located == [(0, 0), (0, 1000), (0, 2000), (1, 0), (1, 1000)]
    covered = [ds.locate(i) for i in SlidingWindowSampler(ds, stride=1000, cover_end=True)]
    assert covered == [(0, 0), (0, 1000), (0, 2000), (0, 2872), (1, 0), (1, 1000), (1, 1072)]


def test_random_windows_avoid_excluded_intervals(two):
    _, ds = two
    exclude = {0: [(500, 900), (2000, 2010)], 1: [(0, 1000)]}
    sampler = RandomWindowSampler(ds, num_samples=3000, seed=3, exclude=exclude)
    recs, starts = ds.locate_many(list(sampler))
    for rec, intervals in exclude.items():
        mine = starts[recs == rec]
        for a, b in intervals:
            assert not np.any((mine < b) & (mine + ds.window > a)), (rec, a, b)
    # Recording 1 keeps only starts 1000..1072; recording 0 still reaches both ends.
    assert set(starts[recs == 1].tolist()) <= set(range(1000, 1073))
    assert len(set(starts[recs == 1].tolist())) > 40
    assert starts[recs == 0].min() < 10
    assert starts[recs == 0].max() > 2862
    # No exclusion gives the same draw as before.
    assert list(RandomWindowSampler(ds, num_samples=40, seed=3, exclude={})) == list(
        RandomWindowSampler(ds, num_samples=40, seed=3)
    )
    with pytest.raises(ValueError, match="no window"):
        RandomWindowSampler(ds, exclude={0: [(0, 3000)], 1: [(0, 1200)]})
    with pytest.raises(ValueError, match="reversed"):
        RandomWindowSampler(ds, exclude={0: [(10, 5)]})

"""WindowDataset: exact window content, batched reads, targets and construction-time errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from braingeneers.ml import IntervalLabels, RecordingRef, WindowDataset


def test_every_item_equals_a_direct_read(make_recording):
    opener = make_recording(num_channels=6, num_frames=700)
    ds = WindowDataset(opener, window=64)
    rec = opener()
    assert len(ds) == 700 - 64 + 1
    for i in (0, 1, 300, len(ds) - 1):
        item = ds[i]
        assert isinstance(item, torch.Tensor)
        assert item.dtype == torch.float32
        assert item.shape == (6, 64)
        np.testing.assert_array_equal(item.numpy(), rec.read(i, i + 64, units="uV", dtype=np.float32))


def test_raw_units_keep_the_stored_integer_type_and_channel_order(make_recording):
    opener = make_recording(num_channels=6, num_frames=300)
    ds = WindowDataset(opener, window=10, channels=[5, 0, 5, 2], units="raw")
    item = ds[17]
    assert item.dtype == torch.uint16
    assert item.shape == (4, 10)
    np.testing.assert_array_equal(item.numpy(), opener().read(17, 27, channels=[5, 0, 5, 2], units="raw"))


def test_raw_windows_convert_to_the_same_microvolts(make_recording):
    a, b = make_recording(num_frames=300, seed=1), make_recording(num_frames=300, seed=2)
    raw = WindowDataset([a, b], window=50, channels=[4, 1], units="raw")
    uv = WindowDataset([a, b], window=50, channels=[4, 1])
    batch = torch.stack([raw[0], raw[260]])
    torch.testing.assert_close(raw.to_microvolts(batch), torch.stack([uv[0], uv[260]]), rtol=0, atol=0)
    assert raw.to_microvolts(raw[3], dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (torch.float16, torch.float16),
        (torch.float64, torch.float64),
        (torch.bfloat16, torch.bfloat16),
        ("float64", torch.float64),
    ],
)
def test_requested_dtype(make_recording, dtype, expected):
    ds = WindowDataset(make_recording(num_frames=200), window=20, dtype=dtype)
    assert ds[3].dtype == expected


def test_several_recordings_are_indexed_one_after_the_other(make_recording):
    a, b = make_recording(num_frames=100, seed=1), make_recording(num_frames=250, seed=2)
    ds = WindowDataset([a, b], window=50)
    assert len(ds) == 51 + 201
    assert ds.locate(0) == (0, 0)
    assert ds.locate(50) == (0, 50)
    assert ds.locate(51) == (1, 0)
    assert ds.index(1, 200) == len(ds) - 1
    np.testing.assert_array_equal(ds[51 + 7].numpy(), b().read(7, 57, dtype=np.float32))
    recs, starts = ds.locate_many([0, 60, 251])
    assert recs.tolist() == [0, 1, 1]
    assert starts.tolist() == [0, 9, 200]
    with pytest.raises(IndexError, match=r"out of range 0\.\.251"):
        ds[len(ds)]
    with pytest.raises(IndexError, match=r"out of range 0\.\.200"):
        ds.index(1, 201)


@pytest.mark.parametrize("merge_gap", [-1, 0, 8, 10_000])
def test_batched_reads_equal_single_reads(make_recording, merge_gap):
    a, b = make_recording(num_frames=400, seed=1), make_recording(num_frames=300, seed=2)
    ds = WindowDataset([a, b], window=32, channels=[3, 1], merge_gap=merge_gap)
    rng = np.random.default_rng(5)
    indices = [*rng.integers(0, len(ds), size=40).tolist(), 5, 5, 6, 700 - 2 * 31 - 1]
    batch = ds.__getitems__(indices)
    for index, item in zip(indices, batch, strict=True):
        torch.testing.assert_close(item, ds[index], rtol=0, atol=0)


def test_merged_reads_are_fewer_and_bounded(make_recording):
    opener = make_recording(num_channels=4, num_frames=2000)
    ds = WindowDataset(opener, window=100, max_read_bytes=4 * 4 * 400)
    calls = []
    rec = ds.recording(0)
    original = rec.read

    def counting(*args, **kwargs):
        calls.append(args[:2])
        return original(*args, **kwargs)

    rec.read = counting  # type: ignore[method-assign]
    out = ds.read_windows(0, [0, 50, 100, 150, 1800])
    assert out.shape == (5, 4, 100)
    # 0..250 in one read (250 frames <= 400), 1800 alone: the gap is far larger than merge_gap.
    assert calls == [(0, 250), (1800, 1900)]
    calls.clear()
    ds.read_windows(0, list(range(0, 1000, 50)))
    assert all(stop - start <= 400 for start, stop in calls)
    assert len(calls) < 20
    calls.clear()
    ds.merge_gap = -1
    ds.read_windows(0, [0, 50, 100])
    assert calls == [(0, 100), (50, 150), (100, 200)]


def test_transform_and_callable_targets(make_recording):
    opener = make_recording(num_frames=300)
    ds = WindowDataset(opener, window=10, transform=lambda x: x * 2, targets=lambda r, a, b: (r, a, b))
    data, target = ds[40]
    np.testing.assert_allclose(data.numpy(), 2 * opener().read(40, 50, dtype=np.float32))
    assert target == (0, 40, 50)
    items = ds.__getitems__([40, 41])
    assert items[1][1] == (0, 41, 51)


def test_interval_labels_label_by_window_centre(make_recording):
    a, b = make_recording(num_frames=1000, seed=1), make_recording(num_frames=1000, seed=2)
    labels = IntervalLabels(
        [0, 0, 1], [0, 500, 100], [500, 1000, 200], ["rest", "burst", "stim"], default="none"
    )
    ds = WindowDataset([a, b], window=100, targets=labels)
    assert ds[ds.index(0, 399)][1] == "rest"  # centre 449
    assert ds[ds.index(0, 450)][1] == "burst"  # centre 500
    assert ds[ds.index(1, 60)][1] == "stim"  # centre 110
    assert ds[ds.index(1, 300)][1] == "none"
    strict = IntervalLabels([0], [0], [10], [1])
    with pytest.raises(LookupError, match="frame 5000"):
        strict(0, 4950, 5050)
    with pytest.raises(ValueError, match="overlap"):
        IntervalLabels([0, 0], [0, 5], [10, 20], [1, 2])


def test_bad_windows_fail_at_construction(make_recording):
    short, long = make_recording(num_frames=100, seed=1), make_recording(num_frames=1000, seed=2)
    with pytest.raises(ValueError, match="longer than recording 0 \\(100 frames\\)"):
        WindowDataset([short, long], window=101)
    with pytest.raises(ValueError, match="positive"):
        WindowDataset(long, window=0)
    with pytest.raises(IndexError, match=r"channel indices \[8\] are out of range for recording 0 with 8"):
        WindowDataset(long, window=10, channels=[0, 8])
    with pytest.raises(IndexError, match=r"\[-1\]"):
        WindowDataset(long, window=10, channels=[-1])
    with pytest.raises(ValueError, match="different channel counts"):
        WindowDataset([make_recording(num_channels=4, seed=3), long], window=10)
    with pytest.raises(ValueError, match="units"):
        WindowDataset(long, window=10, units="mV")
    with pytest.raises(TypeError, match="Recording, RecordingRef"):
        WindowDataset(42, window=10)


def test_an_open_recording_is_used_here_and_reopened_from_its_metadata_elsewhere(make_recording):
    rec = make_recording()()
    ds = WindowDataset(rec, window=10)
    assert ds.recording(0) is rec
    assert ds._cache.openers[0] == RecordingRef(rec.batch, "rec0", prefer_zarr=False)
    np.testing.assert_array_equal(ds[5].numpy(), rec.read(5, 15))


class _Anonymous:
    num_channels, num_frames, sample_rate, channel_ids = 1, 10, 1.0, np.zeros(1)

    def read(self, start=0, stop=None, channels=None, units="uV", dtype=None):
        return np.zeros((1, 10))

    def close(self):
        pass


def test_a_recording_without_a_reopen_recipe_is_refused():
    with pytest.raises(TypeError, match="cannot reopen"):
        WindowDataset(_Anonymous(), window=10)

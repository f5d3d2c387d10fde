"""The training pipeline: uint8 until the end, seeded and pure, augmentation that only shifts
(and, for natural images, mirrors), evaluation splits walked in order."""

from __future__ import annotations

import numpy as np
import pytest

from trial.data import load
from trial.data.augment import augment_to_float, pad_for, rng_for, to_float
from trial.data.cluttered_digits import ClutteredDigitsConfig
from trial.data.splits import StoreView
from trial.data.stores import ArrayStore


def _store(n=40, side=12, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(1, 256, size=(n, side, side, channels), dtype=np.uint8)  # no zeros
    return ArrayStore(images, np.arange(n, dtype=np.int32) % 10, None, np.arange(n))


def _matches_shift(out: np.ndarray, src: np.ndarray, pad: int, mirror: bool) -> bool:
    """Whether `out` is `src` (optionally mirrored) shifted by at most `pad`, zero-filled."""
    h, w, _ = src.shape
    base = src[:, ::-1] if mirror else src
    for dy in range(-pad, pad + 1):
        for dx in range(-pad, pad + 1):
            want = np.zeros_like(base)
            y0, y1, x0, x1 = max(0, -dy), min(h, h - dy), max(0, -dx), min(w, w - dx)
            want[y0:y1, x0:x1] = base[y0 + dy : y1 + dy, x0 + dx : x1 + dx]
            if np.array_equal(out, want):
                return True
    return False


@pytest.mark.parametrize("flips", [False, True])
def test_augmentation_only_shifts_and_mirrors(flips):
    images = _store(n=24).images
    out = augment_to_float(images, rng_for(5, 0), flips=flips)
    assert out.dtype == np.float32 and out.shape == images.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    back = np.round(out * 255).astype(np.uint8)
    pad = pad_for(12)
    mirrored = 0
    for got, src in zip(back, images, strict=True):
        plain = _matches_shift(got, src, pad, mirror=False)
        flipped = _matches_shift(got, src, pad, mirror=True)
        assert plain or (flips and flipped)
        mirrored += flipped and not plain
    assert (mirrored > 0) == flips  # natural images get mirrored; digits never
    assert not np.array_equal(back, images)  # something moved


def test_to_float_is_exact():
    images = _store(n=3).images
    np.testing.assert_array_equal(to_float(images), images.astype(np.float32) / np.float32(255))


def test_train_batches_are_a_pure_function_of_their_arguments():
    view = StoreView(_store(), np.arange(40))
    a = [(x.numpy(), y.numpy()) for x, y in view.train_dataset(8, 3, True, True)]
    b = [(x.numpy(), y.numpy()) for x, y in view.train_dataset(8, 3, True, True)]
    c = [(x.numpy(), y.numpy()) for x, y in view.train_dataset(8, 4, True, True)]
    plain = [(x.numpy(), y.numpy()) for x, y in view.train_dataset(8, 3, False, True)]
    assert len(a) == 5 and all(x.dtype == np.float32 and y.dtype == np.int32 for x, y in a)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert any(not np.array_equal(ya, yc) for (_, ya), (_, yc) in zip(a, c, strict=True))
    # augmentation changes pixels, never the order
    assert all(np.array_equal(ya, yp) for (_, ya), (_, yp) in zip(a, plain, strict=True))


def test_an_epoch_is_a_permutation_without_the_remainder():
    store = _store(n=43)
    view = StoreView(store, np.arange(43))
    seen = []
    for x, _ in view.train_dataset(8, 0, False, True):
        for image in np.round(x.numpy() * 255).astype(np.uint8):
            seen.append(int(np.flatnonzero((store.images == image).all(axis=(1, 2, 3)))[0]))
    assert len(seen) == 40 and len(set(seen)) == 40  # 5 full batches, no repeats


def test_embedded_digits_through_the_interface():
    data = load(ClutteredDigitsConfig.tiny())
    assert data.input_shape == (16, 16, 1) and data.num_classes == 10 and data.train_size == 64
    batches = list(data.train_batches(16, seed=0, augment=True))
    assert len(batches) == 4 and all(x.shape == (16, 16, 16, 1) for x, _ in batches)
    val = list(data.val.batches(10))
    assert [len(b.labels) for b in val] == [10, 6]  # fixed order, last batch smaller
    assert val[0].centres.shape == (10, 2) and np.abs(val[0].centres).max() < 1
    small = data.val.take(5)
    np.testing.assert_array_equal(small.images, val[0].images[:5])
    np.testing.assert_array_equal(small.centres, val[0].centres[:5])
    assert len(list(data.test.batches(4, limit=6))) == 2
    assert data.skipped == 0
    with pytest.raises(ValueError, match="batch_size=0"):
        data.train_batches(0, seed=0)


def test_reused_batch_buffers_never_change_a_batch_someone_holds():
    store = _store(n=64)
    view = StoreView(store, np.arange(64))
    held, copies = [], []
    for x, _ in view.train_dataset(4, 7, True, True):
        held.append(x)  # keep every tensor alive: its buffer must not be reused
        copies.append(x.numpy().copy())
    for x, copy in zip(held, copies, strict=True):
        np.testing.assert_array_equal(x.numpy(), copy)
    reference = [x.numpy().copy() for x, _ in view.train_dataset(4, 7, True, True)]  # reused
    for got, want in zip(reference, copies, strict=True):
        np.testing.assert_array_equal(got, want)


def test_buffer_pool_hands_out_only_free_buffers():
    from trial.data.augment import BufferPool

    pool = BufferPool((2, 3))
    a = pool.get()
    b = pool.get()
    assert a is not b  # `a` is still held
    del a
    c = pool.get()
    assert c is not b and len(pool.buffers) == 2  # the freed one came back

"""The embedded dataset is deterministic, split by source digit, and knows its object centres."""

from __future__ import annotations

import numpy as np
import pytest

from trial.data.cluttered_digits import (
    ClutteredDigitsConfig,
    make_cluttered_digits,
    source_indices,
)

SIZES = {"train": 64, "val": 16, "test": 16}


def test_same_seed_same_arrays_other_seed_other_arrays():
    a = make_cluttered_digits(sizes=SIZES, image_size=24, digit_size=12, seed=3)
    b = make_cluttered_digits(sizes=SIZES, image_size=24, digit_size=12, seed=3)
    c = make_cluttered_digits(sizes=SIZES, image_size=24, digit_size=12, seed=4)
    np.testing.assert_array_equal(a["train"].images, b["train"].images)
    assert not np.array_equal(a["train"].images, c["train"].images)


def test_splits_share_no_source_digit():
    parts = source_indices()
    assert sum(len(v) for v in parts.values()) == 1797
    for x, y in [("train", "val"), ("train", "test"), ("val", "test")]:
        assert not set(parts[x]) & set(parts[y])


def test_values_shapes_and_labels():
    splits = make_cluttered_digits(sizes=SIZES, image_size=32, digit_size=16, clutter=3)
    train = splits["train"]
    assert train.images.shape == (64, 32, 32, 1) and train.images.dtype == np.float32
    assert train.images.min() >= 0.0 and train.images.max() <= 1.0
    assert set(np.unique(train.labels)) <= set(range(10))
    assert np.abs(train.centres).max() < 1.0


def test_centres_point_at_the_digit():
    # Without clutter the digit's intensity centroid must sit near the recorded centre.
    size = 40
    split = make_cluttered_digits(sizes={"train": 32}, image_size=size, clutter=0)["train"]
    rows, cols = np.mgrid[0:size, 0:size] + 0.5  # pixel centres in edge coordinates
    for image, (cx, cy) in zip(split.images[..., 0], split.centres, strict=True):
        mass = image.sum()
        x = (image * cols).sum() / mass / (size / 2) - 1
        y = (image * rows).sum() / mass / (size / 2) - 1
        assert abs(x - cx) < 0.15 and abs(y - cy) < 0.15


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="data.digit_size=50"):
        make_cluttered_digits(sizes=SIZES, image_size=40, digit_size=50)
    with pytest.raises(ValueError, match="data.digit_size=50"):
        ClutteredDigitsConfig(digit_size=50)
    with pytest.raises(ValueError, match="data.clutter=-1"):
        ClutteredDigitsConfig(clutter=-1)
    with pytest.raises(ValueError, match="data.val_size=0"):
        ClutteredDigitsConfig(val_size=0)

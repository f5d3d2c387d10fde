"""The embedded dataset is deterministic, split by source digit, and knows its object centres."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from trial.data import DataConfig, load
from trial.data.cluttered_digits import make_cluttered_digits, source_indices

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
    with pytest.raises(ValueError, match="data.name='mnist'"):
        DataConfig(name="mnist")


def test_load_gives_batches_of_fixed_shape():
    data = load(DataConfig(image_size=16, digit_size=10, train_size=100, val_size=10, test_size=10))
    batches = list(data.train_batches(32, seed=0, augment=True))
    assert len(batches) == 3  # the partial batch is dropped
    assert all(x.shape == (32, 16, 16, 1) for x, _ in batches)
    assert data.input_shape == (16, 16, 1) and data.num_classes == 10


def test_tfds_cifar10_under_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40, data_dir=str(tmp_path)):
        data = load(
            DataConfig(name="cifar10", image_size=16, train_size=20, val_size=8, test_size=12)
        )
        batch = next(iter(data.train_batches(4, seed=0)))
    assert data.input_shape == (16, 16, 3)
    assert batch[0].shape == (4, 16, 16, 3) and batch[0].dtype == tf.float32
    assert len(data.val) == 8 and len(data.test) == 12
    assert data.test.images.min() >= 0.0 and data.test.images.max() <= 1.0

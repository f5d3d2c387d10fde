"""tensorflow-datasets sources (CIFAR-10, Imagenette), resized to the configured square side.

Validation comes from the start of the training split (tfds' CIFAR-10 has no validation split),
so test images are never used for model selection. Tests run these loaders under
`tfds.testing.mock_data`, so nothing is downloaded there.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from trial.data.cluttered_digits import Split
from trial.data.config import DataConfig

TFDS_NAMES = {"cifar10": "cifar10", "imagenette": "imagenette/320px-v2"}
NUM_CLASSES = {"cifar10": 10, "imagenette": 10}
TEST_SPLIT = {"cifar10": "test", "imagenette": "validation"}
CACHE_UP_TO = 64  # image side up to which the decoded training split is cached in memory


def _prepare(image, label, size: int):
    image = tf.image.convert_image_dtype(image, tf.float32)
    image = tf.image.resize(image, (size, size), antialias=True)
    return tf.clip_by_value(image, 0.0, 1.0), tf.cast(label, tf.int32)


def _load(cfg: DataConfig, split: str) -> tuple[tf.data.Dataset, int]:
    import tensorflow_datasets as tfds

    try:
        ds, info = tfds.load(
            TFDS_NAMES[cfg.name],
            split=split,
            as_supervised=True,
            data_dir=cfg.data_dir or None,
            shuffle_files=False,
            with_info=True,
        )
    except Exception as err:  # tfds raises several types for a missing dataset
        raise RuntimeError(
            f"could not load tfds dataset {TFDS_NAMES[cfg.name]!r} (split {split!r}) from "
            f"data.data_dir={cfg.data_dir or '~/tensorflow_datasets'!r}: {err}. Prepare it with "
            f"`tfds build {TFDS_NAMES[cfg.name]}` or point data.data_dir at a prepared copy."
        ) from err
    ds = ds.map(lambda x, y: _prepare(x, y, cfg.image_size), num_parallel_calls=tf.data.AUTOTUNE)
    try:
        return ds, info.splits[split].num_examples
    except KeyError:  # mock data (tests) carries no split sizes
        return ds, 0


def _to_split(ds: tf.data.Dataset) -> Split:
    images, labels = [], []
    for x, y in ds.batch(512).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    return Split(np.concatenate(images), np.concatenate(labels).astype(np.int32), None)


def load_tfds(cfg: DataConfig) -> tuple[tf.data.Dataset, int | None, Split, Split, int]:
    """Returns (unbatched train stream, its size if known, val split, test split, classes)."""
    full, total = _load(cfg, "train")  # files in a fixed order: the same val split every time
    val = _to_split(full.take(cfg.val_size))
    train = full.skip(cfg.val_size)
    size = max(total - cfg.val_size, 0) or None
    if cfg.train_size:
        train, size = train.take(cfg.train_size), min(size or cfg.train_size, cfg.train_size)
    test, _ = _load(cfg, TEST_SPLIT[cfg.name])
    if cfg.test_size:
        test = test.take(cfg.test_size)
    if cfg.image_size <= CACHE_UP_TO:  # small images fit in memory; large ones stream
        train = train.cache()
    return train, size, val, _to_split(test), NUM_CLASSES[cfg.name]

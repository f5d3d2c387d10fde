"""Datasets for trials: one `load(cfg)` that returns a uniform `Data` bundle.

The training split is a shuffled, batched, prefetched `tf.data` pipeline; validation and test are
small in-memory `Split`s (the attacks and the gaze metrics need fixed arrays).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from trial.data.cluttered_digits import Batch, Split, make_cluttered_digits
from trial.data.config import DATASETS, DataConfig

__all__ = ["DATASETS", "Batch", "Data", "DataConfig", "Split", "check", "load"]


@dataclasses.dataclass(frozen=True)
class Data:
    """A loaded dataset: the training stream plus in-memory validation and test splits."""

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    train: tf.data.Dataset  # unbatched (image, label) pairs
    train_size: int | None  # examples per pass, when known
    val: Split
    test: Split

    def train_batches(self, batch_size: int, seed: int, augment: bool = False) -> tf.data.Dataset:
        """One epoch of shuffled batches (the last partial batch is dropped: fixed shapes)."""
        buffer = min(self.train_size or 10_000, 10_000)
        stream = self.train.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        if augment:
            flip = self.name != "cluttered_digits"  # mirrored digits are not digits
            stream = stream.map(
                lambda x, y: (_augment(x, self.input_shape, flip), y),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        return stream.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _augment(image: tf.Tensor, shape: tuple[int, int, int], flip: bool) -> tf.Tensor:
    """A random shift of up to 1/16 of the side (zero-padded), per image; optional flip."""
    pad = max(1, shape[0] // 16)
    image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    image = tf.image.random_crop(image, shape)
    return tf.image.random_flip_left_right(image) if flip else image


def load(cfg: DataConfig) -> Data:
    """Loads the dataset that `cfg` names."""
    if cfg.name == "cluttered_digits":
        splits = make_cluttered_digits(
            sizes={
                "train": cfg.train_size or 12000,
                "val": cfg.val_size,
                "test": cfg.test_size or 1000,
            },
            image_size=cfg.image_size,
            digit_size=cfg.digit_size,
            clutter=cfg.clutter,
            seed=cfg.seed,
        )
        train = splits["train"]
        stream = tf.data.Dataset.from_tensor_slices((train.images, train.labels))
        return Data(
            cfg.name, train.images.shape[1:], 10, stream, len(train), splits["val"], splits["test"]
        )
    from trial.data.tfds_source import load_tfds

    stream, size, val, test, num_classes = load_tfds(cfg)
    channels = val.images.shape[-1]
    return Data(
        cfg.name,
        (cfg.image_size, cfg.image_size, channels),
        num_classes,
        stream,
        size,
        val,
        test,
    )


def check(cfg: DataConfig) -> None:
    """Fails fast when the data that `cfg` names is not present: raises ValueError naming the
    dataset, where it looked, what it expected there and how to get it. Cheap (no decoding):
    the sweeper calls it for each distinct dataset of a study before Ray starts.

    Interim: accepts everything; the dataset registry (issue 9) gives each dataset its check.
    """
    del cfg

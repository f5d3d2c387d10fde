"""What a loaded dataset hands to a trial: `Data`, its splits, and the training pipeline.

Validation and test are walked in batches of a fixed order (`Split.batches`); only `take(n)`
materialises a small fixed set in memory (the per-epoch validation batch, the attacked test
subset). Training batches come from `Data.train_batches(batch_size, seed, augment)`: a pure
function of its arguments (the shuffle and the augmentation are drawn from `seed` alone), so the
same call gives the same batches in any process, which exact resume relies on.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from trial.data.augment import BufferPool, augment_to_float, rng_for, to_float

if TYPE_CHECKING:
    import tensorflow as tf

    from trial.data.sources import Source
    from trial.data.stores import Store


PREFETCH = 2  # batches ready ahead of the model: enough to hide the pipeline, bounded memory


def workers() -> int:
    """Decoding threads: the cores this process may use (at most 8)."""
    try:
        return max(1, min(8, len(os.sched_getaffinity(0))))
    except AttributeError:  # not Linux
        return max(1, min(8, os.cpu_count() or 1))


def batch_workers() -> int:
    """Batches made in parallel: the cores this process may use, at most 4 (one core already
    makes ~2,000 augmented 320 px images/s); fixed, so memory in flight is too."""
    return min(4, workers())


def _fed(ds: tf.data.Dataset) -> tf.data.Dataset:
    """The training pipeline's end: `PREFETCH` batches ahead, and no tf.data autotuning. Its
    knobs are fixed here anyway, and its optimiser thread made releasing an epoch's iterator
    block for about 4 s while the model trained (measured on 2 cores: bench/data.py)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(PREFETCH).with_options(options)


class Batch(NamedTuple):
    """One batch of a split: float32 images in [0, 1], int32 labels, object centres or None."""

    images: np.ndarray
    labels: np.ndarray
    centres: np.ndarray | None


@dataclasses.dataclass(frozen=True)
class Split:
    """A small split held in memory (what `take` returns).

    Attributes:
        images: float32 (N, H, W, C) in [0, 1].
        labels: int32 (N,).
        centres: float32 (N, 2) object centres (x, y) in gaze units, or None when unknown.
    """

    images: np.ndarray
    labels: np.ndarray
    centres: np.ndarray | None

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, n: int) -> Split:
        """The first `n` examples (all when n <= 0)."""
        if n <= 0 or n >= len(self):
            return self
        centres = None if self.centres is None else self.centres[:n]
        return Split(self.images[:n], self.labels[:n], centres)

    def batches(self, batch_size: int, limit: int = 0) -> Iterator[Batch]:
        """The first `limit` examples (all when limit <= 0) in order, `batch_size` at a time;
        the last batch may be smaller. Code outside `trial/data/` walks splits only this way."""
        n = len(self) if limit <= 0 else min(limit, len(self))
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            centres = None if self.centres is None else self.centres[start:stop]
            yield Batch(self.images[start:stop], self.labels[start:stop], centres)


class Examples:
    """One split's uint8 examples in a fixed order (a store view or an uncached source view)."""

    def __len__(self) -> int:
        raise NotImplementedError

    def chunks(self, batch_size: int, limit: int) -> Iterator[tuple[np.ndarray, ...]]:
        """(uint8 images, labels, centres or None) of the first `limit` examples, in order."""
        raise NotImplementedError

    def train_dataset(
        self, batch_size: int, seed: int, augment: bool, flips: bool
    ) -> tf.data.Dataset:
        raise NotImplementedError


class StoreView(Examples):
    """Examples at given record positions of a store (cached data: memory or disk)."""

    def __init__(self, store: Store, positions: np.ndarray) -> None:
        self.store, self.positions = store, np.asarray(positions, np.int64)

    def __len__(self) -> int:
        return len(self.positions)

    def chunks(self, batch_size: int, limit: int) -> Iterator[tuple[np.ndarray, ...]]:
        n = len(self) if limit <= 0 else min(limit, len(self))
        for start in range(0, n, batch_size):
            pos = self.positions[start : min(start + batch_size, n)]
            centres = None if self.store.centres is None else self.store.centres[pos]
            yield self.store.read(pos), self.store.labels[pos], centres

    def train_dataset(
        self, batch_size: int, seed: int, augment: bool, flips: bool
    ) -> tf.data.Dataset:
        import tensorflow as tf

        order = self.positions[np.random.default_rng([seed % 2**32, 0x5EED]).permutation(len(self))]
        store, shape = self.store, (batch_size, *self.store.shape)
        pool, raw = BufferPool(shape), BufferPool(shape, np.uint8)

        def make(k):
            k = int(k)
            pos = order[k * batch_size : (k + 1) * batch_size]
            images, out = store.read(pos, raw.get()), pool.get()
            if augment:
                out = augment_to_float(images, rng_for(seed, k), flips=flips, out=out)
            else:
                out = to_float(images, out)
            return out, store.labels[pos]

        def call(k):
            x, y = tf.numpy_function(make, [k], [tf.float32, tf.int32], stateful=False)
            return tf.ensure_shape(x, shape), tf.ensure_shape(y, shape[:1])

        steps = len(self) // batch_size
        ds = tf.data.Dataset.range(steps)
        ds = ds.map(call, num_parallel_calls=batch_workers(), deterministic=True)
        return _fed(ds)


class SourceView(Examples):
    """Examples at given canonical indices of an uncached source (`data.cache: none`)."""

    def __init__(self, source: Source, indices: np.ndarray) -> None:
        self.source, self.indices = source, np.asarray(indices, np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def chunks(self, batch_size: int, limit: int) -> Iterator[tuple[np.ndarray, ...]]:
        n = len(self) if limit <= 0 else min(limit, len(self))
        for chunk in self.source.chunks(self.indices[:n], batch_size):
            yield chunk.images, chunk.labels, chunk.centres

    def train_dataset(
        self, batch_size: int, seed: int, augment: bool, flips: bool
    ) -> tf.data.Dataset:
        import tensorflow as tf

        shape = (batch_size, *self.source.shape)
        pool = BufferPool(shape)

        def finish(k, images):
            k = int(k)
            if augment:
                return augment_to_float(images, rng_for(seed, k), flips=flips, out=pool.get())
            return to_float(images, pool.get())

        def call(k, batch):
            images, labels = batch
            x = tf.numpy_function(finish, [k, images], tf.float32, stateful=False)
            return tf.ensure_shape(x, shape), tf.cast(labels, tf.int32)

        ds = self.source.shuffled(self.indices, seed)
        ds = ds.batch(batch_size, drop_remainder=True).enumerate()
        ds = ds.map(call, num_parallel_calls=batch_workers(), deterministic=True)
        return _fed(ds)


class StreamSplit:
    """A validation or test split read in batches from a store or a source (never all at once)."""

    def __init__(self, examples: Examples) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def batches(self, batch_size: int, limit: int = 0) -> Iterator[Batch]:
        """The first `limit` examples (all when limit <= 0) in a fixed order, `batch_size` at a
        time; the last batch may be smaller. Images are converted to float32 per batch."""
        for images, labels, centres in self.examples.chunks(batch_size, limit):
            yield Batch(to_float(images), labels.astype(np.int32), centres)

    def take(self, n: int) -> Split:
        """The first `n` examples (all when n <= 0) as an in-memory `Split`."""
        parts = list(self.batches(256, n))
        if not parts:
            raise ValueError("the split is empty")
        centres = None if parts[0].centres is None else np.concatenate([p.centres for p in parts])
        return Split(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.labels for p in parts]),
            centres,
        )


@dataclasses.dataclass(frozen=True)
class Data:
    """A loaded dataset: the training pipeline and the validation and test splits.

    `skipped` counts the unreadable images left out so far (the metric `data/skipped`).
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    train_size: int
    val: StreamSplit
    test: StreamSplit
    train: Examples = dataclasses.field(repr=False)
    flips: bool = True
    skipped_fn: Callable[[], int] = dataclasses.field(default=lambda: 0, repr=False)

    def __post_init__(self) -> None:  # an epoch's length is never guessed
        if isinstance(self.train_size, bool) or not isinstance(self.train_size, int):
            raise ValueError(f"{self.name}: train_size={self.train_size!r} must be an integer")
        if self.train_size < 1:
            raise ValueError(
                f"{self.name}: the training split holds {self.train_size} examples, so an epoch "
                "has nothing to train on; check data.train_size and data.val_size (validation "
                "comes out of the training split) and that the dataset's files are readable"
            )

    @property
    def skipped(self) -> int:
        return int(self.skipped_fn())

    def train_batches(self, batch_size: int, seed: int, augment: bool = False) -> tf.data.Dataset:
        """One epoch of shuffled (float32 images in [0, 1], int32 labels) batches; the last
        partial batch is dropped (fixed shapes). Pure: the order and the augmentation are drawn
        from `seed` only, so equal calls give equal batches in any process."""
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1")
        return self.train.train_dataset(batch_size, seed, augment, self.flips)

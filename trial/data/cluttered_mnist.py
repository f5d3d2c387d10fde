"""Cluttered MNIST: a 28x28 MNIST digit on a 40x40 canvas with clutter, object centres known.

The fork trained on a 40x40 cluttered MNIST (`cluttered_mnist`, 1-channel) whose generator was
not published (it loaded pickles), so it is rebuilt here the usual way (DeepMind's
mnist-cluttered): each canvas holds one whole MNIST digit at a random position plus `clutter`
random `fragment_size`-square patches cut from other digits of the same split. Example i of a
split uses MNIST digit i, and its placement and clutter are drawn from (data.seed, split, i), so
any example renders on its own and the dataset is the same on every machine. MNIST comes from
tensorflow-datasets; test canvases are built from MNIST's test digits only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

from trial.data import tfds_source
from trial.data.config import CacheFields, CacheMode, DataConfig, TfdsFields
from trial.data.registry import get, register
from trial.data.sources import Source, assemble
from trial.data.splits import Data
from trial.data.stores import Chunk

TFDS_NAME = "mnist"
DIGIT = 28  # MNIST's side


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClutteredMnistConfig(CacheFields, TfdsFields, DataConfig):
    """Cluttered MNIST; the canvas side is `image_size` (at least 28)."""

    name: str = "cluttered_mnist"
    image_size: int = 40
    val_size: int = 5000
    cache: CacheMode = "memory"
    clutter: int = 4  # clutter patches per canvas
    fragment_size: int = 8  # side of a clutter patch

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_size < DIGIT:
            raise ValueError(
                f"data.image_size={self.image_size} is below MNIST's {DIGIT}-pixel digits; "
                f"use >= {DIGIT} (the fork used 40)"
            )
        if self.clutter < 0:
            raise ValueError(f"data.clutter={self.clutter} must be >= 0 (0 = no clutter)")
        if not 2 <= self.fragment_size <= DIGIT:
            raise ValueError(f"data.fragment_size={self.fragment_size} must lie in [2, {DIGIT}]")

    @classmethod
    def tiny(cls) -> ClutteredMnistConfig:
        return cls(image_size=32, clutter=2, train_size=64, val_size=16, test_size=16)


class RenderSource(Source):
    """Canvases rendered on demand from one MNIST split."""

    def __init__(self, cfg: ClutteredMnistConfig, split: str, salt: int) -> None:
        super().__init__()
        self.cfg, self.split, self.salt = cfg, split, salt
        self.what = f"cluttered_mnist {split}"
        self.shape = (cfg.image_size, cfg.image_size, 1)
        self._digits: tuple[np.ndarray, np.ndarray] | None = None

    def digits(self) -> tuple[np.ndarray, np.ndarray]:
        if self._digits is None:
            import tensorflow_datasets as tfds

            ds = tfds.load(
                TFDS_NAME,
                split=self.split,
                data_dir=str(tfds_source.data_dir(self.cfg)),
                download=False,
                as_supervised=True,
            )
            parts = list(ds.batch(8192).as_numpy_iterator())
            images = np.concatenate([p[0][..., 0] for p in parts]).astype(np.uint8)
            self._digits = images, np.concatenate([p[1] for p in parts]).astype(np.int32)
        return self._digits

    def __len__(self) -> int:
        return len(self.digits()[1])

    def fingerprint(self) -> dict[str, Any]:
        c = self.cfg
        return {"n": len(self), "clutter": c.clutter, "fragment": c.fragment_size, "seed": c.seed}

    def render(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        digits, _ = self.digits()
        size, frag, n = self.cfg.image_size, self.cfg.fragment_size, len(digits)
        images = np.zeros((len(indices), size, size, 1), np.uint8)
        centres = np.zeros((len(indices), 2), np.float32)
        for k, i in enumerate(indices):
            rng = np.random.default_rng([self.cfg.seed % 2**32, self.salt, int(i)])
            canvas = images[k, ..., 0]
            for _ in range(self.cfg.clutter):
                other = digits[rng.integers(n)]
                r, c = rng.integers(0, DIGIT - frag + 1, size=2)
                top, left = rng.integers(0, size - frag + 1, size=2)
                window = canvas[top : top + frag, left : left + frag]
                np.maximum(window, other[r : r + frag, c : c + frag], out=window)
            top, left = rng.integers(0, size - DIGIT + 1, size=2)
            window = canvas[top : top + DIGIT, left : left + DIGIT]
            np.maximum(window, digits[int(i)], out=window)
            half = size / 2.0
            centres[k] = ((left + DIGIT / 2) / half - 1.0, (top + DIGIT / 2) / half - 1.0)
        return images, centres

    def chunks(self, indices: np.ndarray | None, size: int = 256) -> Iterator[Chunk]:
        indices = np.arange(len(self)) if indices is None else np.asarray(indices, np.int64)
        labels = self.digits()[1]
        for start in range(0, len(indices), size):
            idx = indices[start : start + size]
            images, centres = self.render(idx)
            yield Chunk(images, labels[idx], centres, idx)

    def shuffled(self, indices: np.ndarray, seed: int):
        import tensorflow as tf

        order = np.asarray(indices, np.int64)
        order = order[np.random.default_rng([seed % 2**32, 0x5EED]).permutation(len(order))]
        labels = self.digits()[1]

        def one(i):
            images, _ = self.render(np.array([int(i)]))
            return images[0], labels[int(i)]

        def call(i):
            image, label = tf.numpy_function(one, [i], [tf.uint8, tf.int32])
            return tf.ensure_shape(image, self.shape), tf.ensure_shape(label, [])

        ds = tf.data.Dataset.from_tensor_slices(order)
        return ds.map(call, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _check(cfg: ClutteredMnistConfig) -> None:
    tfds_source.check(cfg, TFDS_NAME, ("train", "test"))


def _where(cfg: ClutteredMnistConfig) -> list[tuple[str, str]]:
    return tfds_source.where(cfg, TFDS_NAME)


@register(
    "cluttered_mnist",
    ClutteredMnistConfig,
    check=_check,
    where=_where,
    summary="MNIST digits on a cluttered 40x40 canvas (the fork's), built from tfds MNIST",
    num_classes=10,
    channels=1,
    splits="train: MNIST train after the first val_size, val: its first val_size, test: MNIST test",
    centres_known=True,
    flips=False,
)
def load(cfg: ClutteredMnistConfig) -> Data:
    tfds_source.prepare(cfg, TFDS_NAME)
    train, test = RenderSource(cfg, "train", 0), RenderSource(cfg, "test", 1)
    return assemble(
        cfg, get("cluttered_mnist"), train=train, test=test, cache_root=tfds_source.cache_root(cfg)
    )

"""The embedded dataset: handwritten digits placed on a cluttered canvas, made offline.

Source digits are the 1,797 8x8 images that scikit-learn ships (so nothing is downloaded). Each
example upscales one source digit, places it at a random position on a square canvas and adds
clutter: fragments cut from other digits of the same split. The digit's centre is kept in the
project's gaze units, so gaze metrics can say how far a model looks from the object. Splits are
by source image (no source digit feeds two splits) and everything is a pure function of the seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from scipy import ndimage

SPLIT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}
SOURCE_SPLIT_SEED = 1234  # fixed: the source-image split never depends on the trial seed


class Batch(NamedTuple):
    """One batch of a split: float32 images in [0, 1], int32 labels, object centres or None."""

    images: np.ndarray
    labels: np.ndarray
    centres: np.ndarray | None


@dataclasses.dataclass(frozen=True)
class Split:
    """One split held in memory.

    Attributes:
        images: float32 (N, S, S, 1) in [0, 1].
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


def _source_digits(digit_size: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0
    zoom = digit_size / images.shape[1]
    big = np.stack([ndimage.zoom(img, zoom, order=1) for img in images])
    return np.clip(big, 0.0, 1.0), digits.target.astype(np.int32)


def _source_split(n: int) -> dict[str, np.ndarray]:
    order = np.random.default_rng(SOURCE_SPLIT_SEED).permutation(n)
    n_train = round(SPLIT_FRACTIONS["train"] * n)
    n_val = round(SPLIT_FRACTIONS["val"] * n)
    return {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }


def _render(
    rng: np.random.Generator,
    digits: np.ndarray,
    labels: np.ndarray,
    sources: np.ndarray,
    n: int,
    image_size: int,
    clutter: int,
    fragment_size: int,
) -> Split:
    size = digits.shape[1]
    half = image_size / 2.0
    images = np.zeros((n, image_size, image_size), np.float32)
    centres = np.zeros((n, 2), np.float32)
    # Cycle through the split's sources in a shuffled order so every digit is used evenly.
    picks = np.resize(rng.permutation(sources), n)
    for i, src in enumerate(picks):
        canvas = images[i]
        for _ in range(clutter):
            other = digits[rng.choice(sources)]
            r, c = rng.integers(0, size - fragment_size + 1, size=2)
            fragment = other[r : r + fragment_size, c : c + fragment_size]
            top, left = rng.integers(0, image_size - fragment_size + 1, size=2)
            window = canvas[top : top + fragment_size, left : left + fragment_size]
            np.maximum(window, fragment, out=window)
        top, left = rng.integers(0, image_size - size + 1, size=2)
        window = canvas[top : top + size, left : left + size]
        np.maximum(window, digits[src], out=window)
        centres[i] = ((left + size / 2.0) / half - 1.0, (top + size / 2.0) / half - 1.0)
    return Split(images[..., None], labels[picks], centres)


def make_cluttered_digits(
    *,
    sizes: dict[str, int],
    image_size: int = 40,
    digit_size: int = 20,
    clutter: int = 4,
    seed: int = 0,
) -> dict[str, Split]:
    """Renders the train/val/test splits.

    Args:
        sizes: examples per split, e.g. {"train": 12000, "val": 1000, "test": 1000}.
        image_size: side of the square canvas in pixels.
        digit_size: side of an upscaled digit in pixels (at most image_size).
        clutter: clutter fragments per image.
        seed: the rendering seed; the same seed gives the same arrays.
    """
    if not 8 <= digit_size <= image_size:
        raise ValueError(
            f"data.digit_size={digit_size} must lie in [8, data.image_size={image_size}]; "
            "lower digit_size or raise image_size"
        )
    if clutter < 0:
        raise ValueError(f"data.clutter={clutter} must be >= 0 (0 = no clutter)")
    unknown = set(sizes) - set(SPLIT_FRACTIONS)
    if unknown:
        raise ValueError(f"unknown split(s) {sorted(unknown)}; splits are train, val, test")
    digits, labels = _source_digits(digit_size)
    fragment_size = max(2, digit_size // 2)
    sources = _source_split(len(labels))
    return {
        name: _render(
            np.random.default_rng([seed, index]),
            digits,
            labels,
            sources[name],
            n,
            image_size,
            clutter,
            fragment_size,
        )
        for index, (name, n) in enumerate(sizes.items())
    }


def source_indices() -> dict[str, np.ndarray]:
    """The source-digit indices of each split (for tests of split disjointness)."""
    return _source_split(1797)

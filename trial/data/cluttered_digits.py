"""The embedded dataset: handwritten digits placed on a cluttered canvas, made offline.

Source digits are the 1,797 8x8 images that scikit-learn ships (so nothing is downloaded). Each
example upscales one source digit, places it at a random position on a square canvas and adds
clutter: fragments cut from other digits of the same split. The digit's centre is kept in the
project's gaze units, so gaze metrics can say how far a model looks from the object. Splits are
by source image (no source digit feeds two splits) and everything is a pure function of the seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from trial.data.config import DataConfig
from trial.data.registry import get, register
from trial.data.sources import ArraySource, assemble
from trial.data.splits import Data, Split

SPLIT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}
SOURCE_SPLIT_SEED = 1234  # fixed: the source-image split never depends on the trial seed


def _check_fields(image_size: int, digit_size: int, clutter: int) -> None:
    if not 8 <= digit_size <= image_size:
        raise ValueError(
            f"data.digit_size={digit_size} must lie in [8, data.image_size={image_size}]; "
            "lower digit_size or raise image_size"
        )
    if clutter < 0:
        raise ValueError(f"data.clutter={clutter} must be >= 0 (0 = no clutter)")


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
    images = np.zeros((n, image_size, image_size), digits.dtype)
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
    _check_fields(image_size, digit_size, clutter)
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClutteredDigitsConfig(DataConfig):
    """The embedded dataset: rendered in memory from scikit-learn's digits, nothing to fetch.

    Train, validation and test are rendered from disjoint source digits, so `train_size` and
    `test_size` are how many to render (0 = 12,000 and 1,000).
    """

    name: str = "cluttered_digits"
    train_size: int = 12000
    test_size: int = 1000
    digit_size: int = 20  # side of a digit on the canvas
    clutter: int = 4  # clutter fragments per image

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_fields(self.image_size, self.digit_size, self.clutter)

    @classmethod
    def tiny(cls) -> ClutteredDigitsConfig:
        return cls(
            image_size=16, digit_size=10, clutter=1, train_size=64, val_size=16, test_size=16
        )


def _check(cfg: ClutteredDigitsConfig) -> None:
    del cfg  # scikit-learn ships the source digits: nothing can be missing


def _where(cfg: ClutteredDigitsConfig) -> list[tuple[str, str]]:
    del cfg
    return [("source digits", "bundled with scikit-learn (sklearn.datasets.load_digits)")]


@register(
    "cluttered_digits",
    ClutteredDigitsConfig,
    check=_check,
    where=_where,
    summary="embedded: scikit-learn's digits on a cluttered canvas, rendered offline",
    num_classes=10,
    channels=1,
    splits="train/val/test rendered from disjoint source digits (70/15/15%)",
    centres_known=True,
    flips=False,  # a mirrored digit is not a digit
)
def load(cfg: ClutteredDigitsConfig) -> Data:
    sizes = {"train": cfg.train_size or 12000, "val": cfg.val_size, "test": cfg.test_size or 1000}
    splits = make_cluttered_digits(
        sizes=sizes,
        image_size=cfg.image_size,
        digit_size=cfg.digit_size,
        clutter=cfg.clutter,
        seed=cfg.seed,
    )
    sources = {
        name: ArraySource(
            f"cluttered_digits {name}",
            np.round(split.images * 255).astype(np.uint8),
            split.labels,
            split.centres,
        )
        for name, split in splits.items()
    }
    return assemble(cfg, get("cluttered_digits"), **sources)

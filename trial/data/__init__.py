"""Datasets for trials: a registry by `data.name`, one `load(cfg)` that returns a uniform `Data`.

Importing this package registers every dataset (the explicit import list below). `load(cfg)`
checks that the data is there (`check`), then builds the splits: uint8 images up to the last
step of each pipeline, a training stream that is a pure function of (batch size, seed, augment),
and validation/test splits walked in batches. `python -m trial.data` lists the datasets.
"""

from __future__ import annotations

import functools

from trial.data import (  # noqa: F401  (each import registers its dataset)
    cifar10,
    cluttered_digits,
    cluttered_mnist,
    imagenet10,
    imagenet100,
    imagenette,
)
from trial.data.config import DataConfig
from trial.data.registry import Dataset, config_paths, get, names
from trial.data.splits import Batch, Data, Split, StreamSplit

__all__ = [
    "SKIPPED",
    "Batch",
    "Data",
    "DataConfig",
    "Dataset",
    "Split",
    "StreamSplit",
    "check",
    "config_paths",
    "get",
    "load",
    "names",
]

SKIPPED = "data/skipped"  # the per-epoch metric: unreadable images left out


def load(cfg: DataConfig) -> Data:
    """Loads the dataset that `cfg` names (after its presence check)."""
    dataset = get(cfg.name)
    dataset.check(cfg)
    return dataset.load(cfg)


def check(cfg: DataConfig) -> None:
    """Fails fast when the data that `cfg` names is not present: raises ValueError naming the
    dataset, where it looked, what it expected there and how to get it. Cheap (no decoding):
    the sweeper calls it for each trial of a study before Ray starts (once per distinct data
    config: a passed check is remembered)."""
    _check(cfg)


@functools.lru_cache(maxsize=64)
def _check(cfg: DataConfig) -> None:
    get(cfg.name).check(cfg)

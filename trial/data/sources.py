"""Sources (one split of a dataset before caching) and `assemble`, which makes `Data` of them.

A source lists its examples in a canonical order and decodes any of them to uint8 on demand. The
shared `assemble` does everything else the same way for every dataset: it holds the validation
examples out of the training split (by a permutation seeded with `data.seed` for file trees, by
position for sources that are already shuffled, such as tfds records), caps the splits at their
configured sizes, and backs each split by the configured cache (`none`: decode on demand;
`memory`: decode the needed examples once into RAM; `disk`: read a disk cache of the whole split,
written once).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from trial.data.splits import Data, SourceView, StoreView, StreamSplit
from trial.data.stores import ArrayStore, Chunk, Progress, Store, chunk_size, disk_store

log = logging.getLogger(__name__)


class Source:
    """One split of a dataset, before caching (subclasses decode; see the module docstring).

    Attributes:
        what: a name for logs and messages, e.g. "imagenet10 train".
        shape: the decoded image shape (H, W, C).
        random_partition: whether subsets are drawn by a seeded permutation (True: the canonical
            order is sorted, e.g. by class) or by position (False: already shuffled).
        skipped: ids (paths) of examples that could not be decoded so far.
    """

    what: str = ""
    shape: tuple[int, int, int] = (0, 0, 0)
    random_partition: bool = False

    def __init__(self) -> None:
        self.skipped: set[str] = set()

    def __len__(self) -> int:
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        """What determines the decoded content (the disk cache's key)."""
        raise NotImplementedError

    def chunks(self, indices: np.ndarray | None, size: int = 256) -> Iterator[Chunk]:
        """Decoded examples at canonical `indices` (None = all), in that order, `size` at a
        time; unreadable ones are left out and added to `skipped`."""
        raise NotImplementedError

    def shuffled(self, indices: np.ndarray, seed: int):
        """A tf.data.Dataset of decoded (uint8 image, label) pairs of `indices` in an order drawn
        from `seed` (shuffling file names or encoded records, never decoded images)."""
        raise NotImplementedError


class ArraySource(Source):
    """A split rendered or loaded into uint8 arrays already (the embedded digits, renders)."""

    def __init__(self, what, images, labels, centres=None, fingerprint=None) -> None:
        super().__init__()
        self.what, self.images, self.labels, self.centres = what, images, labels, centres
        self.shape = tuple(images.shape[1:])
        self._fingerprint = fingerprint or {}

    def __len__(self) -> int:
        return len(self.labels)

    def fingerprint(self) -> dict[str, Any]:
        return self._fingerprint

    def chunks(self, indices: np.ndarray | None, size: int = 256) -> Iterator[Chunk]:
        indices = np.arange(len(self)) if indices is None else np.asarray(indices, np.int64)
        for start in range(0, len(indices), size):
            idx = indices[start : start + size]
            centres = None if self.centres is None else self.centres[idx]
            yield Chunk(self.images[idx], self.labels[idx], centres, idx)


def cache_mode(cfg: Any) -> str:
    return getattr(cfg, "cache", "memory")


def partition(cfg: Any, train: Source, val: Source | None, test: Source) -> dict[str, Any]:
    """Canonical indices of the train/val/test examples a config uses."""

    def order(src: Source, salt: int) -> np.ndarray:
        if src.random_partition:
            return np.random.default_rng([cfg.seed % 2**32, salt]).permutation(len(src))
        return np.arange(len(src), dtype=np.int64)

    def cap(idx: np.ndarray, size: int) -> np.ndarray:
        return idx[:size] if size else idx

    if val is None:
        pool = order(train, 0)
        if cfg.val_size >= len(pool):
            raise ValueError(
                f"data.val_size={cfg.val_size} leaves no training examples: {train.what} has "
                f"{len(pool)}; lower data.val_size"
            )
        val_idx, train_idx = pool[: cfg.val_size], cap(pool[cfg.val_size :], cfg.train_size)
    else:
        val_idx, train_idx = cap(order(val, 1), cfg.val_size), cap(order(train, 0), cfg.train_size)
    return {"train": train_idx, "val": val_idx, "test": cap(order(test, 2), cfg.test_size)}


def cache_folder(root: Path, dataset: str, split: str, source: Source) -> Path:
    """`<root>/<dataset>-<split>-<H>x<W>x<C>-<content hash>`: one folder per decoded content."""
    key = json.dumps({"dataset": dataset, "split": split, **source.fingerprint()}, sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    h, w, c = source.shape
    return root / f"{dataset}-{split}-{h}x{w}x{c}-{digest}"


def assemble(
    cfg: Any,
    dataset: Any,
    *,
    train: Source,
    test: Source,
    val: Source | None = None,
    cache_root: Path | None = None,
    num_classes: int | None = None,
) -> Data:
    """The `Data` of a dataset's sources under a config (partition, cache, splits).

    `num_classes` overrides the registry's count (e.g. ImageNet with a custom class list).
    """
    parts = partition(cfg, train, val, test)
    mode = cache_mode(cfg)
    sources = {"train": train, "val": val or train, "test": test}
    stores: dict[int, Store] = {}

    def store_for(split: str, src: Source) -> Store:
        if id(src) in stores:
            return stores[id(src)]
        if mode == "disk":
            if cache_root is None:
                raise ValueError(f"{dataset.name} has no folder for a disk cache")
            folder = cache_folder(cache_root, dataset.name, split, src)
            chunks = Progress(f"{src.what}: caching", len(src))
            size = chunk_size(src.shape)
            store: Store = disk_store(folder, chunks(src.chunks(None, size)), src.skipped)
        else:  # memory: only what this config uses
            wanted = np.unique(np.concatenate([parts[s] for s in parts if sources[s] is src]))
            chunks = Progress(f"{src.what}: decoding into memory", len(wanted))
            decoded = chunks(src.chunks(wanted, chunk_size(src.shape)))
            store = ArrayStore.collect(decoded, len(wanted), src.skipped)
        stores[id(src)] = store
        return store

    views = {}
    for split, src in sources.items():
        if mode == "none":
            views[split] = SourceView(src, parts[split])
        else:
            store = store_for("test" if src is test else "train" if src is train else split, src)
            views[split] = StoreView(store, store.positions_of(parts[split]))
    for split in ("train", "val", "test"):
        if len(views[split]) == 0:
            raise ValueError(f"{dataset.name}: the {split} split is empty (every image skipped?)")

    unique = {id(s): s for s in sources.values()}.values()

    def skipped() -> int:
        if mode == "none":
            return sum(len(s.skipped) for s in unique)
        return sum(len(st.skipped) for st in stores.values())

    h, w, c = train.shape
    return Data(
        name=dataset.name,
        input_shape=(h, w, c),
        num_classes=num_classes or dataset.num_classes,
        train_size=len(views["train"]),
        val=StreamSplit(views["val"]),
        test=StreamSplit(views["test"]),
        train=views["train"],
        flips=dataset.flips,
        skipped_fn=skipped,
    )

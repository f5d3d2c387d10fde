"""tensorflow-datasets sources: presence check, opt-in download under a lock, decoded splits.

Trials read tfds data that is already prepared in `data.data_dir` (default: TFDS_DATA_DIR or
~/tensorflow_datasets) and never touch the network unless `data.download` is set; then the
download and preparation run under a file lock, so trials starting together on one node wait
for one another instead of writing the same folder. Records are read in their stored order
(tfds shuffles examples when it prepares a dataset), shuffled as encoded bytes, and decoded and
resized (shorter side to `image_size`, centre crop) to uint8 only after that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from trial.data.sources import Source, assemble
from trial.data.splits import Data
from trial.data.stores import Chunk, check_writable

SHUFFLE_BUFFER = 10_000  # encoded records (a few KB to ~100 KB each), never decoded images


def data_dir(cfg: Any) -> Path:
    if cfg.data_dir:
        return Path(cfg.data_dir).expanduser()
    return Path(os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets")


def cache_root(cfg: Any) -> Path:
    if cfg.cache_dir:
        return Path(cfg.cache_dir).expanduser()
    return data_dir(cfg) / "attention-sweeps-cache"


def where(cfg: Any, tfds_name: str) -> list[tuple[str, str]]:
    out = [("tfds data", f"{data_dir(cfg)}/{tfds_name}/<version>/ (data.data_dir)")]
    if getattr(cfg, "cache", "") == "disk":
        out.append(("disk cache", str(cache_root(cfg))))
    return out


def check(cfg: Any, tfds_name: str, splits: tuple[str, ...]) -> None:
    """Fails fast when tfds has not prepared `tfds_name` (unless the trial may download it)."""
    if cfg.download:
        return
    if cfg.cache == "disk" and (data_dir(cfg) / tfds_name.split("/")[0]).is_dir():
        check_writable(cache_root(cfg))
    import tensorflow_datasets as tfds

    folder = data_dir(cfg)
    try:
        builder = tfds.builder(tfds_name, data_dir=str(folder))
        for split in splits:
            builder.as_dataset(split=split)
    except Exception:  # tfds raises AssertionError, DatasetNotFoundError, ...
        raise ValueError(
            f"{cfg.name}: tensorflow-datasets has no prepared {tfds_name!r} in {folder} "
            f"(data.data_dir{'=' + repr(cfg.data_dir) if cfg.data_dir else ' is unset'}). "
            f"Expected {folder}/{tfds_name}/<version>/ with "
            f"dataset_info.json and the record files. Prepare it where the network reaches "
            f"tfds' sources: `tfds build {tfds_name} --data_dir={folder}`, then copy that folder "
            "here or point data.data_dir at it; or set data.download=true to let the trial "
            "download it."
        ) from None


def prepare(cfg: Any, tfds_name: str) -> None:
    """With `data.download`, downloads and prepares the dataset once per node (file lock)."""
    if not cfg.download:
        return
    import tensorflow_datasets as tfds
    from filelock import FileLock

    folder = data_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / f"{tfds_name.replace('/', '_')}.prepare.lock")):
        builder = tfds.builder(tfds_name, data_dir=str(folder))
        try:
            builder.download_and_prepare()
        except Exception as err:
            raise RuntimeError(
                f"{cfg.name}: downloading {tfds_name!r} into {folder} failed: "
                f"{str(err).strip().splitlines()[0][:300] if str(err).strip() else err!r}. "
                f"Prepare it elsewhere with `tfds build {tfds_name}` and set data.data_dir"
            ) from None


def fit(image, size: int, channels: int):
    """Shorter side to `size` (antialiased), centre crop, uint8; identity at the right size."""
    import tensorflow as tf

    image = tf.ensure_shape(image, [None, None, channels])
    h, w = tf.shape(image)[0], tf.shape(image)[1]

    def resize():
        scale = size / tf.cast(tf.minimum(h, w), tf.float32)
        nh = tf.maximum(size, tf.cast(tf.round(tf.cast(h, tf.float32) * scale), tf.int32))
        nw = tf.maximum(size, tf.cast(tf.round(tf.cast(w, tf.float32) * scale), tf.int32))
        big = tf.image.resize(image, tf.stack([nh, nw]), antialias=True)
        top, left = (nh - size) // 2, (nw - size) // 2
        crop = big[top : top + size, left : left + size]
        return tf.cast(tf.clip_by_value(tf.round(crop), 0, 255), tf.uint8)

    same = tf.logical_and(tf.equal(h, size), tf.equal(w, size))
    out = tf.cond(same, lambda: tf.cast(image, tf.uint8), resize)
    return tf.ensure_shape(out, [size, size, channels])


class TfdsSource(Source):
    """One tfds split, decoded and resized to uint8 (canonical order = stored order)."""

    random_partition = False  # tfds stores examples shuffled: subsets are taken by position

    def __init__(self, cfg: Any, tfds_name: str, split: str, channels: int) -> None:
        super().__init__()
        self.cfg, self.tfds_name, self.split = cfg, tfds_name, split
        self.what = f"{cfg.name} {split}"
        self.shape = (cfg.image_size, cfg.image_size, channels)
        self._n: int | None = None

    def _encoded(self):
        import tensorflow_datasets as tfds

        return tfds.load(
            self.tfds_name,
            split=self.split,
            data_dir=str(data_dir(self.cfg)),
            download=False,
            shuffle_files=False,
            as_supervised=True,
            decoders={"image": tfds.decode.SkipDecoding()},
        )

    def _decode(self, encoded, label):
        import tensorflow as tf

        channels = self.shape[-1]
        image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
        return fit(image, self.shape[0], channels), tf.cast(label, tf.int32)

    def __len__(self) -> int:
        if self._n is None:
            n = int(self._encoded().cardinality())
            self._n = n if n >= 0 else sum(1 for _ in self._encoded())
        return self._n

    def fingerprint(self) -> dict[str, Any]:
        import tensorflow_datasets as tfds

        info = tfds.builder(self.tfds_name, data_dir=str(data_dir(self.cfg))).info
        return {"tfds": self.tfds_name, "version": str(info.version), "n": len(self)}

    def _range(self, indices: np.ndarray | None) -> tuple[int, int]:
        if indices is None or len(indices) == 0:
            return 0, len(self) if indices is None else 0
        start, stop = int(indices[0]), int(indices[-1]) + 1
        if stop - start != len(indices) or not np.all(np.diff(indices) == 1):
            raise ValueError(f"{self.what}: tfds sources read contiguous ranges only")
        return start, stop

    def chunks(self, indices: np.ndarray | None, size: int = 256) -> Iterator[Chunk]:
        import tensorflow as tf

        start, stop = self._range(indices)
        ds = self._encoded().skip(start).take(stop - start)
        ds = ds.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        position = start
        for images, labels in ds.batch(size).prefetch(1).as_numpy_iterator():
            index = np.arange(position, position + len(labels), dtype=np.int64)
            position += len(labels)
            yield Chunk(images, labels.astype(np.int32), None, index)

    def shuffled(self, indices: np.ndarray, seed: int):
        import tensorflow as tf

        start, stop = self._range(np.sort(indices))
        ds = self._encoded().skip(start).take(stop - start)
        buffer = max(1, min(stop - start, SHUFFLE_BUFFER))
        ds = ds.shuffle(buffer, seed=seed % 2**31, reshuffle_each_iteration=False)
        return ds.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def load(cfg: Any, dataset: Any, tfds_name: str, test_split: str) -> Data:
    """`Data` of a tfds dataset: validation held out of the start of `train`."""
    prepare(cfg, tfds_name)
    train = TfdsSource(cfg, tfds_name, "train", dataset.channels)
    test = TfdsSource(cfg, tfds_name, test_split, dataset.channels)
    return assemble(cfg, dataset, train=train, test=test, cache_root=cache_root(cfg))

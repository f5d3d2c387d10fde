"""Image files to uint8 arrays: decode (any mode), optional box crop, resize, centre crop.

Decoding goes through Pillow, which reads what ImageNet actually contains (greyscale and CMYK
JPEGs, a PNG named .JPEG) and converts everything to RGB; anything it cannot read raises, and
the caller skips and counts that file. `FileSource` decodes a list of files in parallel threads
(Pillow releases the GIL while decoding), in order.

Resizing follows the original: `upscale_only` enlarges an image whose shorter side is below the
target (bilinear, aspect kept) and never shrinks larger ones, then takes the centre square (so a
large image shows a smaller part of its scene); `shorter_side` always scales the shorter side to
the target first (the usual ImageNet practice; every image then shows its whole shorter side).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from trial.data.sources import Source
from trial.data.splits import workers
from trial.data.stores import Chunk


def first_box(xml_path: str | Path) -> tuple[int, int, int, int]:
    """(xmin, ymin, xmax, ymax) of the first object in an ILSVRC box file (as the original)."""
    box = ET.parse(xml_path).getroot().find("object/bndbox")
    if box is None:
        raise ValueError(f"{xml_path} holds no <object><bndbox>")
    return tuple(int(float(box.findtext(k))) for k in ("xmin", "ymin", "xmax", "ymax"))  # type: ignore[return-value]


def decode(
    path: str | Path, size: int, resize: str = "upscale_only", box_xml: str | Path | None = None
) -> np.ndarray:
    """A (size, size, 3) uint8 RGB image from a file; raises on anything unreadable."""
    from PIL import Image

    with Image.open(path) as im:
        if box_xml is not None:
            xmin, ymin, xmax, ymax = first_box(box_xml)
            w, h = im.size
            xmin, ymin, xmax, ymax = max(0, xmin), max(0, ymin), min(w, xmax), min(h, ymax)
            if xmax - xmin < 2 or ymax - ymin < 2:
                raise ValueError(f"degenerate box {xmin, ymin, xmax, ymax} in {box_xml}")
            im = im.crop((xmin, ymin, xmax, ymax))
        elif resize == "shorter_side" and im.format == "JPEG":
            short = min(im.size)
            im.draft("RGB", (im.size[0] * size // short, im.size[1] * size // short))
        im = fit(im.convert("RGB"), size, resize)
        return np.asarray(im, np.uint8)


def fit(im: Any, size: int, resize: str) -> Any:
    """Resizes a PIL image by the `resize` rule (module docstring), then crops the centre."""
    from PIL import Image

    w, h = im.size
    short = min(w, h)
    if resize == "shorter_side" or short < size:
        scale = size / short
        new = (max(size, round(w * scale)), max(size, round(h * scale)))
        if new != (w, h):
            im = im.resize(new, Image.Resampling.BILINEAR)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    return im.crop((left, top, left + size, top + size))


class FileSource(Source):
    """A split given as image files with labels (and optional box files), decoded with Pillow.

    Args:
        what: a name for logs, e.g. "imagenet10 train".
        items: (path, label, box xml or None) in canonical order (sorted by class, then file).
        size: the square side to produce.
        resize: `upscale_only` or `shorter_side`.
        fingerprint: what else determines the content (dataset options) for the cache key.
    """

    random_partition = True  # canonical order is sorted by class: draw subsets at random

    def __init__(self, what: str, items: list, size: int, resize: str, fingerprint: dict) -> None:
        super().__init__()
        self.what, self.items, self.size, self.resize = what, items, size, resize
        self.shape = (size, size, 3)
        self._fingerprint = fingerprint

    def __len__(self) -> int:
        return len(self.items)

    def fingerprint(self) -> dict[str, Any]:
        import hashlib

        names = "\n".join(f"{p}|{b or ''}" for p, _, b in self.items)
        return {
            **self._fingerprint,
            "files": hashlib.sha1(names.encode()).hexdigest(),
            "n": len(self.items),
            "resize": self.resize,
            "size": self.size,
        }

    def decode(self, i: int) -> np.ndarray | None:
        path, _, box = self.items[i]
        try:
            return decode(path, self.size, self.resize, box)
        except Exception:  # unreadable: corrupt, truncated, not an image, bad box file
            self.skipped.add(str(path))
            return None

    def chunks(self, indices: np.ndarray | None, size: int = 256) -> Iterator[Chunk]:
        indices = np.arange(len(self)) if indices is None else np.asarray(indices, np.int64)
        with ThreadPoolExecutor(workers()) as pool:
            for start in range(0, len(indices), size):
                idx = indices[start : start + size]
                images = list(pool.map(self.decode, idx.tolist()))
                ok = np.array([im is not None for im in images], bool)
                if not ok.any():
                    continue
                yield Chunk(
                    np.stack([im for im in images if im is not None]),
                    np.array([self.items[i][1] for i in idx[ok]], np.int32),
                    None,
                    idx[ok],
                )

    def shuffled(self, indices: np.ndarray, seed: int):
        import tensorflow as tf

        order = np.asarray(indices, np.int64)
        order = order[np.random.default_rng([seed % 2**32, 0x5EED]).permutation(len(order))]
        empty = np.zeros(self.shape, np.uint8)

        def one(i):
            image = self.decode(int(i))
            ok = image is not None
            return (image if ok else empty), np.int32(self.items[int(i)][1]), np.bool_(ok)

        def call(i):
            image, label, ok = tf.numpy_function(one, [i], [tf.uint8, tf.int32, tf.bool])
            return tf.ensure_shape(image, self.shape), tf.ensure_shape(label, []), ok

        def readable(image, label, ok):
            return ok

        def pair(image, label, ok):
            return image, label

        ds = tf.data.Dataset.from_tensor_slices(order)
        ds = ds.map(call, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.filter(readable).map(pair)

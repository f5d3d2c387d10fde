"""Generated ImageNet-style trees, for tests, the data benchmark and trying a study offline.

`make_imagenet_tree(root, synsets)` writes the ILSVRC layout that `imagenet10`/`imagenet100`
read: `train/<synset>/<synset>_<n>.JPEG`, `val/` (per-synset folders or flat with a devkit),
and `bbox/<synset>/<synset>_<n>.xml` for a share of the training images. Each class has its own
colour, so a model can learn the task; inside a box the image is that colour, outside it is
grey noise, so a box crop is recognisable. Optional broken files exercise the skip path (a
truncated JPEG), and CMYK and greyscale JPEGs the conversions.

    python -m trial.data make-tree /tmp/fake_imagenet --per-class 40
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

BOX_XML = """<annotation><filename>{stem}</filename>
<size><width>{w}</width><height>{h}</height><depth>3</depth></size>
<object><name>{synset}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>
<ymax>{y1}</ymax></bndbox></object></annotation>
"""


def class_colour(label: int) -> np.ndarray:
    """A distinct RGB colour per class."""
    hue = (label * 0.618034) % 1.0
    from colorsys import hsv_to_rgb

    return (np.array(hsv_to_rgb(hue, 0.9, 0.95)) * 255).astype(np.uint8)


def _image(rng, label: int, w: int, h: int, box: tuple[int, int, int, int] | None) -> np.ndarray:
    img = rng.integers(90, 140, size=(h, w, 3), dtype=np.uint8)  # grey noise
    x0, y0, x1, y1 = box or (w // 4, h // 4, 3 * w // 4, 3 * h // 4)
    patch = class_colour(label).astype(np.int16) + rng.integers(-12, 13, (y1 - y0, x1 - x0, 3))
    img[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)
    return img


def _save(path: Path, array: np.ndarray, mode: str = "RGB") -> None:
    from PIL import Image

    im = Image.fromarray(array)
    if mode != "RGB":
        im = im.convert(mode)
    im.save(path, "JPEG", quality=90)


def make_imagenet_tree(
    root: str | Path,
    synsets: Sequence[str],
    *,
    train_per_class: int = 4,
    val_per_class: int = 2,
    size: tuple[int, int] = (64, 48),
    box_share: float = 0.5,
    val_layout: str = "folders",
    broken: bool = False,
    seed: int = 0,
) -> Path:
    """Writes an ImageNet-style tree under `root` and returns `root`.

    Args:
        synsets: class folder names (classes are indexed in sorted order by the readers).
        train_per_class / val_per_class: images per class.
        size: (width, height) of each image (every other image is transposed).
        box_share: share of training images that get a box file (the first ones per class).
        val_layout: `folders` (val/<synset>/) or `devkit` (flat val/ + devkit labels).
        broken: add one truncated JPEG, one CMYK and one greyscale JPEG to train/.
        seed: content seed.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    ordered = sorted(synsets)
    for label, synset in enumerate(ordered):
        (root / "train" / synset).mkdir(parents=True, exist_ok=True)
        (root / "bbox" / synset).mkdir(parents=True, exist_ok=True)
        for n in range(train_per_class):
            w, h = size if n % 2 == 0 else size[::-1]
            stem = f"{synset}_{n}"
            box = None
            if n < round(box_share * train_per_class):
                bw, bh = rng.integers(w // 4, w // 2 + 1), rng.integers(h // 4, h // 2 + 1)
                x0, y0 = rng.integers(0, w - bw + 1), rng.integers(0, h - bh + 1)
                box = (int(x0), int(y0), int(x0 + bw), int(y0 + bh))
                xml = BOX_XML.format(
                    stem=stem, w=w, h=h, synset=synset, x0=box[0], y0=box[1], x1=box[2], y1=box[3]
                )
                (root / "bbox" / synset / f"{stem}.xml").write_text(xml)
            _save(root / "train" / synset / f"{stem}.JPEG", _image(rng, label, w, h, box))
    if broken:
        folder = root / "train" / ordered[0]
        good = (folder / f"{ordered[0]}_0.JPEG").read_bytes()
        (folder / f"{ordered[0]}_broken.JPEG").write_bytes(good[: len(good) // 3])
        _save(folder / f"{ordered[0]}_cmyk.JPEG", _image(rng, 0, *size, None), "CMYK")
        _save(folder / f"{ordered[0]}_grey.JPEG", _image(rng, 0, *size, None), "L")
    _write_val(root, ordered, val_per_class, size, val_layout, rng)
    return root


def _write_val(root: Path, ordered, per_class: int, size, layout: str, rng) -> None:
    if layout not in ("folders", "devkit"):
        raise ValueError(f"val_layout={layout!r} is not folders or devkit")
    (root / "val").mkdir(parents=True, exist_ok=True)
    truth, number = [], 0
    for label, synset in enumerate(ordered):
        for _ in range(per_class):
            number += 1
            image = _image(rng, label, *size, None)
            if layout == "folders":
                (root / "val" / synset).mkdir(exist_ok=True)
                _save(root / "val" / synset / f"ILSVRC2012_val_{number:08d}.JPEG", image)
            else:
                _save(root / "val" / f"ILSVRC2012_val_{number:08d}.JPEG", image)
                truth.append(label + 1)  # devkit ids are 1-based; ours follow sorted order
    if layout == "devkit":
        from scipy.io import savemat

        data = root / "ILSVRC2012_devkit_t12" / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / "ILSVRC2012_validation_ground_truth.txt").write_text(
            "".join(f"{t}\n" for t in truth)
        )
        records = np.zeros(len(ordered), dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O")])
        for i, synset in enumerate(ordered):
            records[i] = (i + 1, synset)
        savemat(str(data / "meta.mat"), {"synsets": records})

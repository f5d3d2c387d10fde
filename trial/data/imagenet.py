"""Subsets of a local ImageNet (ILSVRC2012) tree: layout, labels, presence check, sources.

Nothing here downloads (ImageNet's licence requires a manual download). The tree under
`data.imagenet.root` follows the standard ILSVRC layout:

    train/<synset>/<synset>_<n>.JPEG        training images
    val/<synset>/*.JPEG                      validation (our test split), one folder per class,
      or val/ILSVRC2012_val_<n>.JPEG         flat, labelled by the devkit
                                             (ILSVRC2012_devkit_t12/data/
                                             ILSVRC2012_validation_ground_truth.txt + meta.mat)
                                             or by Kaggle's LOC_val_solution.csv
    bbox/<synset>/<synset>_<n>.xml           boxes (ILSVRC2012_bbox_train_v2), for bbox training

Classes are indexed in sorted synset order (the original used unsorted `os.listdir`). Our
validation split is held out of the training images; the test split is ILSVRC's validation set.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from trial.data.images import FileSource
from trial.data.sources import assemble
from trial.data.splits import Data
from trial.data.stores import check_writable

IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
DEVKITS = ("ILSVRC2012_devkit_t12", "devkit")
GET_IT = (
    "ImageNet cannot be downloaded automatically: request ILSVRC2012 at "
    "https://image-net.org/download, extract ILSVRC2012_img_train.tar into <root>/train/<synset>/ "
    "and the validation images into <root>/val/ (per-synset folders, or flat with the devkit), "
    "then set data.imagenet.root=<root>"
)
LAYOUT = (
    "<root>/train/<synset>/*.JPEG, <root>/val/<synset>/*.JPEG (or flat <root>/val/*.JPEG with "
    "<root>/ILSVRC2012_devkit_t12/ or <root>/LOC_val_solution.csv)"
)
BBOX_LAYOUT = "<root>/bbox/<synset>/<image name>.xml (from ILSVRC2012_bbox_train_v2.tar.gz)"


def synsets_of(cfg: Any, default: tuple[str, ...]) -> list[str]:
    """The classes, sorted (class i = the i-th synset): the built-in list or a file's."""
    if not cfg.imagenet.synsets:
        return sorted(default)
    path = Path(cfg.imagenet.synsets).expanduser()
    try:
        words = path.read_text().split()
    except OSError as err:
        raise ValueError(
            f"{cfg.name}: cannot read data.imagenet.synsets={str(path)!r} ({err.strerror}); "
            "give a text file with one synset (e.g. n01440764) per line, or leave it empty"
        ) from None
    bad = [w for w in words if not re.fullmatch(r"n\d{8}", w)]
    if bad or not words or len(set(words)) != len(words):
        raise ValueError(
            f"{cfg.name}: data.imagenet.synsets={str(path)!r} must list distinct synsets like "
            f"n01440764, one per line; got {bad[:3] or 'duplicates or nothing'}"
        )
    return sorted(words)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _fail(cfg: Any, problem: str, searched: Path | str | None, expected: str, how: str = GET_IT):
    where = f" (searched {searched})" if searched else ""
    return ValueError(
        f"{cfg.name}: {problem}{where}. Expected {expected}. {how}. "
        "`python -m trial.data` shows where each dataset looks."
    )


def check(cfg: Any, default_synsets: tuple[str, ...]) -> None:
    """Fast presence check: folders and label files exist, no image is decoded."""
    root_text = cfg.imagenet.root
    if not root_text:
        raise _fail(cfg, "data.imagenet.root is not set", None, LAYOUT)
    root = Path(root_text).expanduser()
    if not root.is_dir():
        raise _fail(cfg, f"data.imagenet.root={root_text!r} is not a folder", root, LAYOUT)
    synsets = synsets_of(cfg, default_synsets)
    train = root / "train"
    missing = [s for s in synsets if not (train / s).is_dir()]
    if missing:
        raise _fail(
            cfg,
            f"{len(missing)} of {len(synsets)} class folders are missing from train/, e.g. "
            f"{', '.join(missing[:5])}",
            train,
            LAYOUT,
        )
    empty = [s for s in synsets if not any(True for _ in (train / s).iterdir())]
    if empty:
        raise _fail(cfg, f"class folders without images: {', '.join(empty[:5])}", train, LAYOUT)
    _val_layout(cfg, root, synsets)  # raises when neither layout is there
    if cfg.cache == "disk":
        check_writable(cache_root(cfg))
    if cfg.imagenet.train_images == "bbox":
        box_dirs = [root / "bbox" / s for s in synsets]
        if not (root / "bbox").is_dir() or not all(d.is_dir() for d in box_dirs):
            lacking = [d.name for d in box_dirs if not d.is_dir()]
            raise _fail(
                cfg,
                "data.imagenet.train_images=bbox needs the training boxes"
                + (f"; no box folder for {', '.join(lacking[:5])}" if lacking else ""),
                root / "bbox",
                BBOX_LAYOUT,
                "Download ILSVRC2012_bbox_train_v2.tar.gz from image-net.org and extract it "
                "into <root>/bbox/, or set data.imagenet.train_images=all",
            )


def _val_layout(cfg: Any, root: Path, synsets: list[str]) -> str:
    """`folders` (val/<synset>/), `devkit`, `kaggle`; raises when none applies."""
    val = root / "val"
    if not val.is_dir():
        raise _fail(cfg, "no val/ folder (the test split)", val, LAYOUT)
    present = [s for s in synsets if (val / s).is_dir()]
    if present:
        if len(present) < len(synsets):
            lacking = sorted(set(synsets) - set(present))
            raise _fail(cfg, f"val/ lacks class folders {', '.join(lacking[:5])}", val, LAYOUT)
        return "folders"
    if _devkit(root) is not None:
        return "devkit"
    if (root / "LOC_val_solution.csv").is_file():
        return "kaggle"
    raise _fail(
        cfg,
        "val/ has no class folders and no labels for flat images were found",
        f"{val} and {root}/{{{','.join(DEVKITS)}}}/data, {root}/LOC_val_solution.csv",
        LAYOUT,
    )


def _devkit(root: Path) -> Path | None:
    for name in DEVKITS:
        data = root / name / "data"
        if (data / "ILSVRC2012_validation_ground_truth.txt").is_file() and (
            data / "meta.mat"
        ).is_file():
            return data
    return None


def _flat_val_labels(cfg: Any, root: Path, layout: str) -> dict[int, str]:
    """Validation image number -> synset, from the devkit or Kaggle's csv."""
    if layout == "kaggle":
        out = {}
        with open(root / "LOC_val_solution.csv", newline="") as f:
            for row in csv.DictReader(f):
                out[int(row["ImageId"].rsplit("_", 1)[1])] = row["PredictionString"].split()[0]
        return out
    from scipy.io import loadmat

    data = _devkit(root)
    meta = loadmat(str(data / "meta.mat"), squeeze_me=True)["synsets"]
    wnid = {int(m["ILSVRC2012_ID"]): str(m["WNID"]) for m in meta}
    truth = (data / "ILSVRC2012_validation_ground_truth.txt").read_text().split()
    return {i + 1: wnid[int(v)] for i, v in enumerate(truth)}


def tree_items(cfg: Any, default_synsets: tuple[str, ...]) -> tuple[list, list]:
    """(train items, test items) as (path, label, box xml or None), canonical order."""
    root = Path(cfg.imagenet.root).expanduser()
    synsets = synsets_of(cfg, default_synsets)
    label = {s: i for i, s in enumerate(synsets)}
    bbox = cfg.imagenet.train_images == "bbox"
    train = []
    for s in synsets:
        boxes = {}
        if bbox:
            boxes = {p.stem: p for p in (root / "bbox" / s).iterdir() if p.suffix == ".xml"}
        for path in _images(root / "train" / s):
            box = boxes.get(path.stem)
            if box is not None or not bbox:
                train.append((str(path), label[s], None if box is None else str(box)))
    if bbox and not train:
        raise _fail(cfg, "no training image has a box file", root / "bbox", BBOX_LAYOUT)
    layout = _val_layout(cfg, root, synsets)
    test = []
    if layout == "folders":
        for s in synsets:
            test += [(str(p), label[s], None) for p in _images(root / "val" / s)]
    else:
        truth = _flat_val_labels(cfg, root, layout)
        for path in _images(root / "val"):
            number = re.search(r"(\d+)$", path.stem)
            synset = truth.get(int(number.group(1))) if number else None
            if synset in label:
                test.append((str(path), label[synset], None))
    if not test:
        raise _fail(cfg, "no validation image of these classes", root / "val", LAYOUT)
    return train, test


def cache_root(cfg: Any) -> Path:
    if cfg.cache_dir:
        return Path(cfg.cache_dir).expanduser()
    return Path(cfg.imagenet.root).expanduser() / "attention-sweeps-cache"


def where(cfg: Any) -> list[tuple[str, str]]:
    root = cfg.imagenet.root or "<data.imagenet.root, not set>"
    out = [
        ("train images", f"{root}/train/<synset>/*.JPEG"),
        ("test images", f"{root}/val/<synset>/ or {root}/val/ + devkit labels"),
    ]
    if cfg.imagenet.train_images == "bbox":
        out.append(("training boxes", f"{root}/bbox/<synset>/*.xml"))
    if cfg.cache == "disk":
        out.append(("disk cache", str(cache_root(cfg)) if cfg.imagenet.root else f"{root}/..."))
    return out


def load(cfg: Any, dataset: Any, default_synsets: tuple[str, ...]) -> Data:
    train_items, test_items = tree_items(cfg, default_synsets)
    extra = {"root": str(Path(cfg.imagenet.root).expanduser().resolve())}
    train = FileSource(
        f"{cfg.name} train",
        train_items,
        cfg.image_size,
        cfg.imagenet.resize,
        {**extra, "train_images": cfg.imagenet.train_images},
    )
    test = FileSource(f"{cfg.name} test", test_items, cfg.image_size, cfg.imagenet.resize, extra)
    classes = len(synsets_of(cfg, default_synsets))
    return assemble(
        cfg, dataset, train=train, test=test, cache_root=cache_root(cfg), num_classes=classes
    )

"""The data section of a trial's config: the fields every dataset has, and the groups some mix in.

`data.name` picks a registered dataset (see `trial.data.registry`), whose own frozen config class
then accepts only its own fields, exactly as `model.kind` picks a family. The shared base holds
what every dataset means the same way (image side, split sizes, subsampling seed); each dataset
overrides the defaults that fit it (320 px for ImageNet, 32 for CIFAR-10) and mixes in the field
groups below when it has files (`CacheFields`), comes from tensorflow-datasets (`TfdsFields`) or
from a local ImageNet tree (`imagenet.*`).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

CACHES = ("none", "memory", "disk")
CacheMode = Literal["none", "memory", "disk"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Fields every dataset has.

    `train_size` and `test_size` cap their splits (0 = the whole split); validation examples come
    from the dataset's validation split when it has one, else they are held out of the training
    split (never from the test split), so `train_size` counts what is left.
    """

    name: str = "cluttered_digits"  # set from data.name by the registry
    image_size: int = 40  # square side images are resized/cropped (or rendered) to
    train_size: int = 0  # training examples per epoch; 0 = the whole training split
    val_size: int = 1000  # validation examples (val/clean_acc; the first ones feed val/adv_acc)
    test_size: int = 0  # test examples the final attack may see; 0 = the whole test split
    seed: int = 0  # which examples form val/train subsets; fixed across trials so they compare

    def __post_init__(self) -> None:
        if self.image_size < 8:
            raise ValueError(f"data.image_size={self.image_size} must be >= 8 pixels")
        for field in ("train_size", "val_size", "test_size"):
            if getattr(self, field) < 0:
                raise ValueError(f"data.{field}={getattr(self, field)} must be >= 0")
        if self.val_size == 0:
            raise ValueError("data.val_size=0: per-epoch validation needs at least 1 example")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CacheFields:
    """Where decoded images live between epochs.

    `none` decodes every epoch (shuffling file names or encoded records); `memory` keeps the
    decoded uint8 images in RAM; `disk` writes them once as fixed-size uint8 records into a cache
    folder (next to the data unless `cache_dir` is set) that later trials and epochs reuse.
    """

    caches: ClassVar[tuple[str, ...]] = CACHES  # a dataset may allow fewer

    cache: CacheMode = "disk"
    cache_dir: str = ""  # the disk cache's folder; empty = a folder next to the data

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[misc]
        if self.cache not in self.caches:
            raise ValueError(
                f"data.cache={self.cache!r} is not available for data.name={self.name!r}; "  # type: ignore[attr-defined]
                f"choose one of {', '.join(self.caches)}"
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class TfdsFields:
    """Datasets that tensorflow-datasets prepares: where, and whether a trial may download."""

    data_dir: str = ""  # tfds data_dir; empty = TFDS_DATA_DIR or ~/tensorflow_datasets
    download: bool = False  # let tfds download and prepare a missing dataset (needs network)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageNetFields:
    """`data.imagenet.*`: a local ImageNet (ILSVRC2012) tree.

    Expected layout under `root`: `train/<synset>/*.JPEG`; `val/<synset>/*.JPEG`, or `val/*.JPEG`
    with the devkit (`ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt` and
    `meta.mat`) or Kaggle's `LOC_val_solution.csv`; for `train_images: bbox` also
    `bbox/<synset>/<image>.xml` (ILSVRC2012_bbox_train_v2).
    """

    root: str = ""  # the folder that holds train/ and val/
    train_images: Literal["bbox", "all"] = "all"  # bbox: only images with a box, cropped to it
    resize: Literal["upscale_only", "shorter_side"] = "upscale_only"
    synsets: str = ""  # a text file of synsets (one per line) instead of the built-in list

    def __post_init__(self) -> None:
        if self.train_images not in ("bbox", "all"):
            raise ValueError(
                f"data.imagenet.train_images={self.train_images!r} is not one of bbox, all"
            )
        if self.resize not in ("upscale_only", "shorter_side"):
            raise ValueError(
                f"data.imagenet.resize={self.resize!r} is not one of upscale_only, shorter_side"
            )

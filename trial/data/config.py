"""The data section of a trial's config."""

from __future__ import annotations

import dataclasses

DATASETS = ("cluttered_digits", "cifar10", "imagenette")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Which dataset a trial trains and is attacked on, and how much of it.

    `cluttered_digits` is embedded (rendered from scikit-learn's digits, nothing downloaded);
    `cifar10` and `imagenette` come from tensorflow-datasets and need the data prepared in
    `data_dir` (or network access for tfds to download it).
    """

    name: str = "cluttered_digits"
    image_size: int = 40  # square side the images are resized (tfds) or rendered (digits) to
    train_size: int = 12000  # examples per epoch; 0 = the whole training split
    val_size: int = 1000  # validation examples (val/clean_acc; the first ones feed val/adv_acc)
    test_size: int = 1000  # test examples the final attack sees; 0 = the whole test split
    digit_size: int = 20  # cluttered_digits only: side of a digit on the canvas
    clutter: int = 4  # cluttered_digits only: clutter fragments per image
    seed: int = 0  # rendering / subsampling seed, fixed across trials so they compare
    data_dir: str = ""  # tfds data_dir; empty = tfds' default (~/tensorflow_datasets)

    def __post_init__(self) -> None:
        if self.name not in DATASETS:
            raise ValueError(
                f"data.name={self.name!r} is not a known dataset; choose one of "
                f"{', '.join(DATASETS)}"
            )
        if self.image_size < 8:
            raise ValueError(f"data.image_size={self.image_size} must be >= 8 pixels")
        for field in ("train_size", "val_size", "test_size"):
            if getattr(self, field) < 0:
                raise ValueError(f"data.{field}={getattr(self, field)} must be >= 0")
        if self.val_size == 0:
            raise ValueError("data.val_size=0: per-epoch validation needs at least 1 example")

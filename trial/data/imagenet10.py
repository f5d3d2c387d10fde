"""ImageNet10: the paper's ten ImageNet classes at 320x320, from a local ImageNet tree.

The classes (`original_system.md` §2.1), indexed in sorted synset order: boa constrictor,
Labrador retriever, tabby, tree frog, leatherback turtle, goose, giant panda, great white
shark, king crab, bee. By default it trains as the paper did (`imagenet.train_images: bbox`):
only training images that have a box file, each cropped to its first box (about 5,659 images);
`all` uses all ~13,000. The test split is ILSVRC's validation images of these classes (500).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from trial.data import imagenet
from trial.data.config import CacheFields, DataConfig, ImageNetFields
from trial.data.registry import get, register
from trial.data.splits import Data

SYNSETS = (
    "n01742172",  # boa constrictor
    "n02099712",  # Labrador retriever
    "n02123045",  # tabby
    "n01644373",  # tree frog
    "n01665541",  # leatherback turtle
    "n01855672",  # goose
    "n02510455",  # giant panda
    "n01484850",  # great white shark
    "n01981276",  # king crab
    "n02206856",  # bee
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageNet10Fields(ImageNetFields):
    """`data.imagenet.*` for ImageNet10: the paper's box-cropped training set by default."""

    train_images: Literal["bbox", "all"] = "bbox"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageNet10Config(CacheFields, DataConfig):
    """ImageNet10 from `data.imagenet.root`; 500 training images are held out for validation."""

    name: str = "imagenet10"
    image_size: int = 320
    val_size: int = 500
    imagenet: ImageNet10Fields = dataclasses.field(default_factory=ImageNet10Fields)

    @classmethod
    def tiny(cls) -> ImageNet10Config:
        return cls(image_size=32, train_size=64, val_size=16, test_size=16, cache="memory")


def _check(cfg: ImageNet10Config) -> None:
    imagenet.check(cfg, SYNSETS)


@register(
    "imagenet10",
    ImageNet10Config,
    check=_check,
    where=imagenet.where,
    summary="the paper's 10 ImageNet classes at 320 px, from a local ImageNet tree",
    num_classes=len(SYNSETS),
    channels=3,
    splits="train: train/ (boxes cropped, or all), val: held out of train, test: ILSVRC val",
)
def load(cfg: ImageNet10Config) -> Data:
    return imagenet.load(cfg, get("imagenet10"), SYNSETS)

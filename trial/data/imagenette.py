"""Imagenette through tensorflow-datasets: 10 easy ImageNet classes, shorter side 320 px.

Images are scaled so the shorter side is `image_size` and centre-cropped to a square. The
validation split is held out of the start of tfds' training split; tfds' `validation` split
(3,925 images) is the test split. Decoded images go to a disk cache next to the tfds data by
default (9,469 training images are 2.9 GB as uint8 at 320 px).
"""

from __future__ import annotations

import dataclasses

from trial.data import tfds_source
from trial.data.config import CacheFields, DataConfig, TfdsFields
from trial.data.registry import get, register
from trial.data.splits import Data

TFDS_NAME = "imagenette/320px-v2"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImagenetteConfig(CacheFields, TfdsFields, DataConfig):
    """Imagenette at 320 px."""

    name: str = "imagenette"
    image_size: int = 320
    val_size: int = 500

    @classmethod
    def tiny(cls) -> ImagenetteConfig:
        return cls(image_size=32, train_size=64, val_size=16, test_size=16, cache="memory")


def _check(cfg: ImagenetteConfig) -> None:
    tfds_source.check(cfg, TFDS_NAME, ("train", "validation"))


def _where(cfg: ImagenetteConfig) -> list[tuple[str, str]]:
    return tfds_source.where(cfg, TFDS_NAME)


@register(
    "imagenette",
    ImagenetteConfig,
    check=_check,
    where=_where,
    summary="Imagenette (tensorflow-datasets imagenette/320px-v2), 320 px",
    num_classes=10,
    channels=3,
    splits="train: tfds train after the first val_size, val: its first val_size, "
    "test: tfds validation",
)
def load(cfg: ImagenetteConfig) -> Data:
    return tfds_source.load(cfg, get("imagenette"), TFDS_NAME, "validation")

"""CIFAR-10 through tensorflow-datasets: 32x32 photographs, 10 classes (the original's §2.3).

Validation is the first `val_size` examples of tfds' training split (tfds' CIFAR-10 has no
validation split), so the 10,000 test images are never used for model selection. The decoded
images (150 MB at 32 px) stay in memory by default.
"""

from __future__ import annotations

import dataclasses

from trial.data import tfds_source
from trial.data.config import CacheFields, CacheMode, DataConfig, TfdsFields
from trial.data.registry import get, register
from trial.data.splits import Data

TFDS_NAME = "cifar10"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Cifar10Config(CacheFields, TfdsFields, DataConfig):
    """CIFAR-10; `image_size` other than 32 resizes."""

    name: str = "cifar10"
    image_size: int = 32
    val_size: int = 5000
    cache: CacheMode = "memory"

    @classmethod
    def tiny(cls) -> Cifar10Config:
        return cls(image_size=16, train_size=64, val_size=16, test_size=16)


def _check(cfg: Cifar10Config) -> None:
    tfds_source.check(cfg, TFDS_NAME, ("train", "test"))


def _where(cfg: Cifar10Config) -> list[tuple[str, str]]:
    return tfds_source.where(cfg, TFDS_NAME)


@register(
    "cifar10",
    Cifar10Config,
    check=_check,
    where=_where,
    summary="CIFAR-10 (tensorflow-datasets), 32 px",
    num_classes=10,
    channels=3,
    splits="train: tfds train after the first val_size, val: its first val_size, test: tfds test",
)
def load(cfg: Cifar10Config) -> Data:
    return tfds_source.load(cfg, get("cifar10"), TFDS_NAME, "test")

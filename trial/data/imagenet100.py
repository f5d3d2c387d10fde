"""ImageNet100: 100 ImageNet classes at 320x320, from a local ImageNet tree.

The original's 100 classes (`imagenet100/shortlist.pickle`) were never published, so the
built-in list is the widely used ImageNet-100 of Tian et al., "Contrastive Multiview Coding"
(2019; the list from the CMC repository); `data.imagenet.synsets` points at another list. All
training images of those classes are used (`imagenet.train_images: all`); 5,000 are held out for
validation; the test split is ILSVRC's validation images of these classes (5,000).
"""

from __future__ import annotations

import dataclasses

from trial.data import imagenet
from trial.data.config import CacheFields, DataConfig, ImageNetFields
from trial.data.registry import get, register
from trial.data.splits import Data

_CMC_IMAGENET100 = """
    n02869837 n01749939 n02488291 n02107142 n13037406 n02091831 n04517823 n04589890 n03062245
    n01773797 n01735189 n07831146 n07753275 n03085013 n04485082 n02105505 n01983481 n02788148
    n03530642 n04435653 n02086910 n02859443 n13040303 n03594734 n02085620 n02099849 n01558993
    n04493381 n02109047 n04111531 n02877765 n04429376 n02009229 n01978455 n02106550 n01820546
    n01692333 n07714571 n02974003 n02114855 n03785016 n03764736 n03775546 n02087046 n07836838
    n04099969 n04592741 n03891251 n02701002 n03379051 n02259212 n07715103 n03947888 n04026417
    n02326432 n03637318 n01980166 n02113799 n02086240 n03903868 n02483362 n04127249 n02089973
    n03017168 n02093428 n02804414 n02396427 n04418357 n02172182 n01729322 n02113978 n03787032
    n02089867 n02119022 n03777754 n04238763 n02231487 n03032252 n02138441 n02104029 n03837869
    n03494278 n04136333 n03794056 n03492542 n02018207 n04067472 n03930630 n03584829 n02123045
    n04229816 n02100583 n03642806 n04336792 n03259280 n02116738 n02108089 n03424325 n01855672
    n02090622
"""
SYNSETS = tuple(_CMC_IMAGENET100.split())


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageNet100Config(CacheFields, DataConfig):
    """ImageNet100 from `data.imagenet.root`."""

    name: str = "imagenet100"
    image_size: int = 320
    val_size: int = 5000
    imagenet: ImageNetFields = dataclasses.field(default_factory=ImageNetFields)

    @classmethod
    def tiny(cls) -> ImageNet100Config:
        return cls(image_size=32, train_size=64, val_size=16, test_size=16, cache="memory")


def _check(cfg: ImageNet100Config) -> None:
    imagenet.check(cfg, SYNSETS)


@register(
    "imagenet100",
    ImageNet100Config,
    check=_check,
    where=imagenet.where,
    summary="100 ImageNet classes (CMC's ImageNet-100) at 320 px, from a local ImageNet tree",
    num_classes=len(SYNSETS),
    channels=3,
    splits="train: train/, val: held out of train, test: ILSVRC val",
)
def load(cfg: ImageNet100Config) -> Data:
    return imagenet.load(cfg, get("imagenet100"), SYNSETS)

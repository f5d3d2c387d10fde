"""The `coarse_fixations` family: a square crop around a gaze, then a ResNet.

The crop side is `crop_fraction` of the input side (the original: 224 of 320). Training draws a
random gaze per image inside ±gaze_range, by default the whole slack (S - s) / S, i.e. the 48 px
of the original at 320; evaluation looks at the fixed `eval_gazes`.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import keras

from models import registry
from models.crops import GazeCrop
from models.fixations import (
    FixationFields,
    FoldViews,
    MeanOverViews,
    random_eval_gazes,
)
from models.resnet import classifier_head


@dataclasses.dataclass(frozen=True, kw_only=True)
class CoarseFixationsConfig(FixationFields):
    """A crop around a fixation, classified by a ResNet."""

    kind: Literal["coarse_fixations"] = "coarse_fixations"
    gaze_range: float = -1.0  # random-gaze half-range (half-size units); < 0 = 1 - crop_fraction
    crop_fraction: float = 0.7  # crop side / input side (224 / 320 in the original)

    def __post_init__(self) -> None:
        if not 0.0 < self.crop_fraction <= 1.0:
            raise ValueError(f"model.crop_fraction={self.crop_fraction} must lie in (0, 1]")
        super().__post_init__()

    @property
    def range(self) -> float:
        return 1.0 - self.crop_fraction if self.gaze_range < 0 else self.gaze_range

    @classmethod
    def tiny(cls) -> CoarseFixationsConfig:
        return cls(crop_fraction=0.75, backbone="resnet20", width=8, blocks=1)


@registry.register(
    "coarse_fixations",
    CoarseFixationsConfig,
    summary="crop around a random (train) / fixed (eval) gaze, then ResNet",
    random_at_inference=random_eval_gazes,
)
def build_coarse_fixations(cfg: CoarseFixationsConfig, input_shape, num_classes: int):
    side = min(input_shape[0], input_shape[1])
    crop = max(8, round(side * cfg.crop_fraction))
    images = keras.Input(input_shape, name="image")
    gazes = cfg.gaze_layer()(images)
    views = FoldViews(name="fold")(GazeCrop(crop, "nearest", name="crop")([images, gazes]))
    net = cfg.trunk((crop, crop, input_shape[2]))
    logits = MeanOverViews(name="logits_mean")([classifier_head(net(views), num_classes), gazes])
    return keras.Model(images, {"logits": logits, "gazes": gazes}, name="coarse_fixations")

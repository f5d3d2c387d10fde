"""The `retinal` family: the non-uniform retinal warp around a gaze, then a ResNet.

The warp r' = a·r² + b·r (a, b fitted for the input side) samples densely at the fovea and
sparsely in the periphery, with the output the size of the input. Training draws a random gaze
per image inside ±gaze_range (the original: ±80 px of 160, i.e. 0.5); evaluation looks at the
fixed `eval_gazes`. `sampling` picks nearest (the original) or bilinear (the fork's).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import keras

from models import registry
from models.fixations import (
    FixationFields,
    FoldViews,
    MeanOverViews,
    random_eval_gazes,
    require_square,
)
from models.resnet import classifier_head
from models.retina import RetinalWarp

SAMPLINGS = ("nearest", "bilinear")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RetinalConfig(FixationFields):
    """Retinal sampling around a fixation, classified by a ResNet."""

    kind: Literal["retinal"] = "retinal"
    sampling: str = "nearest"  # nearest (original) | bilinear (differentiable in the gaze)

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"model.sampling={self.sampling!r} is not one of nearest, bilinear")
        super().__post_init__()

    @classmethod
    def tiny(cls) -> RetinalConfig:
        return cls(backbone="resnet20", width=8, blocks=1)


@registry.register(
    "retinal",
    RetinalConfig,
    summary="retinal warp around a random (train) / fixed (eval) gaze, then ResNet",
    random_at_inference=random_eval_gazes,
)
def build_retinal(cfg: RetinalConfig, input_shape, num_classes: int):
    require_square(input_shape, "retinal")
    images = keras.Input(input_shape, name="image")
    gazes = cfg.gaze_layer()(images)
    warped = RetinalWarp(sampling=cfg.sampling, name="retina")([images, gazes])
    logits = classifier_head(cfg.trunk(input_shape)(FoldViews(name="fold")(warped)), num_classes)
    logits = MeanOverViews(name="logits_mean")([logits, gazes])
    return keras.Model(images, {"logits": logits, "gazes": gazes}, name="retinal")

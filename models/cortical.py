"""The `cortical` family (the original ECNN): four scales around one gaze, a ResNet per scale.

Every scale crops 1/8, 1/4, 1/2 or 3/4 of the image around the gaze, low-passes and subsamples it
to a common view size (40x40 at 320), and feeds its own ResNet; the pooled features are fused
(concatenated, averaged or max-pooled) into the logits. `auxiliary` adds one head per scale,
returned as `aux_logits` (B, 4, classes), whose cross-entropies the trainer adds to the loss.
Training draws a random gaze per image inside ±gaze_range (the original: ±40 px of 160).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import keras
from keras import layers

from models import registry
from models.crops import CorticalViews, cortical_scales
from models.fixations import (
    FixationFields,
    MeanOverViews,
    PairViews,
    Stack,
    random_eval_gazes,
    require_square,
)
from models.resnet import classifier_head

POOLINGS = ("concat", "avg", "max")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CorticalConfig(FixationFields):
    """Multi-scale cortical fixations (ECNN)."""

    kind: Literal["cortical"] = "cortical"
    backbone: str = "resnet20"  # the views are small (40x40 at 320): CIFAR-style by default
    gaze_range: float = 0.25  # random-gaze half-range in half-size units (40 / 160 originally)
    pooling: str = "concat"  # concat | avg | max: how the four scales' features are fused
    auxiliary: bool = False  # one extra classifier per scale, trained on the same labels

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"model.pooling={self.pooling!r} is not one of {', '.join(POOLINGS)}")
        super().__post_init__()

    @classmethod
    def tiny(cls) -> CorticalConfig:
        return cls(width=8, blocks=1, auxiliary=True)


@registry.register(
    "cortical",
    CorticalConfig,
    summary="ECNN: 4 blurred, subsampled scales around one gaze, a ResNet per scale",
    random_at_inference=random_eval_gazes,
)
def build_cortical(cfg: CorticalConfig, input_shape, num_classes: int):
    require_square(input_shape, "cortical")
    scales = cortical_scales(int(input_shape[0]))
    images = keras.Input(input_shape, name="image")
    gazes = cfg.gaze_layer()(images)
    views = CorticalViews(scales, name="scales")(PairViews(name="pair")([images, gazes]))
    features, aux = [], []
    for k, ((crop, radius), view) in enumerate(zip(scales, views, strict=True), 1):
        side = crop // radius
        feat = cfg.trunk((side, side, input_shape[2]), name=f"scale{k}")(view)
        features.append(feat)
        if cfg.auxiliary:
            aux.append(classifier_head(feat, num_classes, name=f"scale{k}_aux"))
    if cfg.pooling == "concat":
        fused = layers.Concatenate(name="fuse")(features)
    elif cfg.pooling == "avg":
        fused = layers.Average(name="fuse")(features)
    else:
        fused = layers.Maximum(name="fuse")(features)
    logits = MeanOverViews(name="logits_mean")([classifier_head(fused, num_classes), gazes])
    outputs = {"logits": logits, "gazes": gazes}
    if aux:
        stacked = Stack(name="aux_stack")(aux)
        outputs["aux_logits"] = MeanOverViews(name="aux_mean")([stacked, gazes])
    return keras.Model(images, outputs, name="cortical")

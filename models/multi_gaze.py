"""The `multi_gaze` family: a localiser predicts K gazes; each foveates the image (retinal warp)
for its own ResNet branch.

A localiser (by default sized from the input like the backbones; the handover ran the
ImageNet-style ResNet18 at 320x320) predicts `num_transformers` gazes (x, y) in units of the
image half-size. Branch i applies the bilinear retinal warp centred at gaze i (coefficients a, b
fitted for the input side; differentiable with respect to the gaze, so the gazes learn from the
classification loss) and classifies the warped image with its own ResNet trunk or one shared
trunk; the branch features are concatenated into the logits. `gaze_l2` (0.01 in the handover
run; default 0, as for the other learned families) pulls gazes to the centre. The model returns
`logits` and `gazes` (B, K, 2).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import keras

from models import registry
from models.branches import classify_views
from models.fixations import require_square
from models.gaze import GazeHead
from models.localiser import localiser_features
from models.retina import RetinalWarp
from models.soft_attention import BranchFields


@dataclasses.dataclass(frozen=True, kw_only=True)
class MultiGazeConfig(BranchFields):
    """K learned gazes, each a retinal warp followed by a ResNet branch."""

    kind: Literal["multi_gaze"] = "multi_gaze"

    @classmethod
    def tiny(cls) -> MultiGazeConfig:
        return cls(
            num_transformers=2,
            gaze_l2=0.01,
            localiser="resnet20",
            localiser_width=8,
            localiser_blocks=1,
            backbone="resnet20",
            width=8,
            blocks=1,
        )


@registry.register(
    "multi_gaze",
    MultiGazeConfig,
    summary="localiser -> K learned gazes -> K bilinear retinal warps -> K ResNet branches",
    learned_gazes=True,
)
def build_multi_gaze(
    cfg: MultiGazeConfig, input_shape: tuple[int, int, int], num_classes: int
) -> keras.Model:
    """Builds a multi-gaze model: images -> {"logits", "gazes"}; square inputs only."""
    require_square(input_shape, "multi_gaze")
    images = keras.Input(input_shape, name="image")
    gazes = GazeHead(
        cfg.num_transformers,
        gaze_param=cfg.gaze_param,
        gaze_init=cfg.gaze_init,
        gaze_l2=cfg.gaze_l2,
        seed=cfg.seed,
        name="gazes",
    )(localiser_features(cfg, images, input_shape))
    views = RetinalWarp(sampling="bilinear", name="retina")([images, gazes])
    logits = classify_views(views, cfg, input_shape, cfg.num_transformers, num_classes, cfg.shared)
    return keras.Model(images, {"logits": logits, "gazes": gazes}, name="multi_gaze")

"""The `parallel_transformers` family: K learned spatial transformers, each feeding a ResNet branch.

A localiser (by default sized from the input like the backbones; the handover ran the
CIFAR-style ResNet20) predicts `num_transformers` affine thetas; branch i resamples the image
with theta_i (output the input's size) and classifies it with its own ResNet trunk, or with one
trunk reused by every branch (`shared`); the branch features are concatenated into the logits.
Thetas start at an exact identity with box centres at the `gaze_init` points. The model returns
`logits`, `theta` (B, K, 2, 3), `boxes` (B, K, 4) and `gazes` (B, K, 2), the box centres.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import keras

from models import registry
from models.soft_attention import BranchFields, build_stn_model, check_flag


@dataclasses.dataclass(frozen=True, kw_only=True)
class ParallelTransformersConfig(BranchFields):
    """K learned spatial transformers, each followed by a ResNet branch."""

    kind: Literal["parallel_transformers"] = "parallel_transformers"
    restricted_attention: bool = True  # [[sx, 0, tx], [0, sy, ty]] (handover) or full affine

    def __post_init__(self) -> None:
        super().__post_init__()
        check_flag("restricted_attention", self.restricted_attention)

    @classmethod
    def tiny(cls) -> ParallelTransformersConfig:
        return cls(
            num_transformers=2,
            gaze_init="grid",
            localiser_width=8,
            localiser_blocks=1,
            backbone="resnet20",
            width=8,
            blocks=1,
        )


@registry.register(
    "parallel_transformers",
    ParallelTransformersConfig,
    summary="localiser -> K learned affine STNs -> K ResNet branches (shared or not) -> concat",
    learned_gazes=True,
)
def build_parallel_transformers(
    cfg: ParallelTransformersConfig, input_shape: tuple[int, int, int], num_classes: int
) -> keras.Model:
    """Builds K STN branches: images -> {"logits", "theta", "boxes", "gazes"}."""
    return build_stn_model(
        cfg,
        input_shape,
        num_classes,
        num=cfg.num_transformers,
        shared=cfg.shared,
        name="parallel_transformers",
    )

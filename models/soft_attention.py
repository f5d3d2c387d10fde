"""The `soft_attention` family: a localiser predicts one affine theta, a spatial transformer
resamples the image with it, and a ResNet classifies the result (the original's
`soft_attention_model` used as an STN front-end).

The theta head starts at an exact identity (so the first forward pass classifies the input
itself) and its translation, the box centre, is reported as the gaze. `build_stn_model` builds
this and the K-branch `parallel_transformers` family alike: localiser -> K thetas -> K spatial
transformers -> shared or separate ResNet trunks -> concatenated features -> logits, returning
`logits`, `theta` (B, K, 2, 3), `boxes` (B, K, 4) and `gazes` (B, K, 2), the box centres.
`AttentionFields` holds (and validates) the fields all three learned-attention families share,
`BranchFields` adds the branch count and weight sharing of the two K-branch families."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import keras

from models import registry
from models.branches import classify_views
from models.gaze import (
    GazeInit,
    GazeParam,
    ThetaBoxes,
    ThetaHead,
    check_gaze_fields,
    check_num_transformers,
)
from models.localiser import LocaliserName, check_localiser_fields, localiser_features
from models.resnet import DEFAULT_WIDTHS as RESNET_WIDTHS
from models.resnet import BackboneFields, backbone, resolve_backbone
from models.stn import SpatialTransformer


@dataclasses.dataclass(frozen=True, kw_only=True)
class AttentionFields(BackboneFields):
    """The fields every learned-attention family shares: its localiser and its gaze/θ head."""

    # auto: resnet20 below 64 px, resnet18 from 64 px (like `backbone`) | resnet18 | resnet20
    # | small_cnn. The handover ran a ResNet18 (multi_gaze) and a ResNet20 (parallel_transformers).
    localiser: LocaliserName = "auto"
    localiser_width: int = 0  # 0 = the localiser's own (64 resnet18, 16 resnet20, 20 small_cnn)
    # Basic blocks per localiser ResNet stage: 1 (a ResNet8 / ResNet10: it regresses 2K or 4K
    # numbers, and the handover could not train a full-depth one); 0 = the ResNet's own (3 / 2).
    localiser_blocks: int = 1
    # How a head's linear output z becomes a coordinate in [-1, 1] (models/gaze.py): tanh (the
    # original; tanh' ≈ 0 makes ±1 absorbing) | scaled_tanh (tanh(z / 4): same bounds, saturates
    # later) | clip_ste (clip in the forward pass, straight-through gradient: cannot saturate).
    gaze_param: GazeParam = "tanh"
    # Initial points (gazes or box centres), placed exactly (the bias is atanh of them under tanh):
    # grid (the centre plus a ring at ±0.5: the original's five fixations at K = 5, the centre at
    # K = 1) | centre (all K alike, as the original's STNs) | random.
    gaze_init: GazeInit = "grid"
    gaze_l2: float = 0.0  # weight of the L2 prior on the gazes / box centres (handover: 0.01)
    seed: int = 0  # seed of gaze_init=random

    def __post_init__(self) -> None:
        super().__post_init__()
        check_localiser_fields(self.localiser, self.localiser_width, self.localiser_blocks)
        check_gaze_fields(self.gaze_param, self.gaze_init, self.gaze_l2)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"model.seed={self.seed!r} must be an integer")

    @property
    def num_heads(self) -> int:
        """How many gazes (or θ) the head predicts: one here, K for the branch families."""
        return 1

    def inert(self) -> dict[str, Any]:
        out = super().inert()
        if self.gaze_init != "random":  # the seed only places gaze_init=random
            out["seed"] = 0
        if self.num_heads == 1 and self.gaze_init == "grid":  # grid's first point is the centre
            out["gaze_init"] = "centre"
        return out


@dataclasses.dataclass(frozen=True, kw_only=True)
class BranchFields(AttentionFields):
    """The fields of the K-branch families (parallel_transformers, multi_gaze).

    `width: 0` sizes each branch's trunk from the input and K: the backbone's own width divided
    by √K (rounded up to a multiple of 4), so the K branches together have about the parameters
    and FLOPs of one trunk (as the original's branched ablation matched four f=27 ResNet18s to
    one f=64). With the original's full-width branches, K = 5 cost five trunks.
    """

    num_transformers: int = 5  # K, the number of branches: STNs or gazes (the original flag)
    shared: bool = False  # one trunk reused by every branch (the handover found it worse)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_num_transformers(self.num_transformers)
        check_flag("shared", self.shared)

    @property
    def num_heads(self) -> int:
        return self.num_transformers

    def inert(self) -> dict[str, Any]:
        out = super().inert()
        if self.num_transformers == 1:  # one branch: one trunk whether shared or not
            out["shared"] = False
        return out

    def trunk(self, input_shape: tuple[int, int, int], name: str = "backbone") -> keras.Model:
        """One branch's ResNet trunk (see `branch_width` for `width: 0`)."""
        side = min(input_shape[0], input_shape[1])
        return backbone(
            input_shape,
            kind=self.backbone,
            width=self.width or branch_width(self.backbone, side, self.num_transformers),
            blocks=self.blocks,
            bn_momentum=self.bn_momentum,
            name=name,
        )


def branch_width(backbone_name: str, side: int, branches: int) -> int:
    """The per-branch trunk width `width: 0` gives: the backbone's own width ÷ √K, rounded up to
    a multiple of 4 (K = 5: 16 -> 8 for resnet20, 64 -> 32 for resnet18)."""
    own = RESNET_WIDTHS[resolve_backbone(backbone_name, side)]
    return max(4, 4 * math.ceil(own / math.sqrt(branches) / 4))


def check_flag(name: str, value: object) -> None:
    """A boolean `model.<name>` field."""
    if not isinstance(value, bool):
        raise ValueError(f"model.{name}={value!r} must be true or false")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SoftAttentionConfig(AttentionFields):
    """One learned spatial transformer in front of a ResNet."""

    kind: Literal["soft_attention"] = "soft_attention"
    # scale + translation (4 parameters; as parallel_transformers) or full affine (6)
    restricted_attention: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_flag("restricted_attention", self.restricted_attention)

    @classmethod
    def tiny(cls) -> SoftAttentionConfig:
        return cls(localiser_width=8, localiser_blocks=1, backbone="resnet20", width=8, blocks=1)


def build_stn_model(
    cfg: Any,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    num: int,
    shared: bool,
    name: str,
) -> keras.Model:
    """Localiser -> `num` thetas -> spatial transformers -> ResNet trunks -> logits.

    Args:
        cfg: a config with the localiser, gaze-head, restricted_attention and backbone fields.
        input_shape: (H, W, C); each transformer's output has the input's size.
        num_classes: logits width.
        num: K, the number of transformers (branches).
        shared: one trunk for every branch instead of one per branch.
        name: the model's name.

    Returns:
        A model mapping images to {"logits", "theta", "boxes", "gazes"}.
    """
    images = keras.Input(input_shape, name="image")
    theta = ThetaHead(
        num,
        restricted=cfg.restricted_attention,
        gaze_param=cfg.gaze_param,
        gaze_init=cfg.gaze_init,
        gaze_l2=cfg.gaze_l2,
        seed=cfg.seed,
        name="theta",
    )(localiser_features(cfg, images, input_shape))
    boxes, centres = ThetaBoxes(name="boxes")(theta)
    views = SpatialTransformer(name="stn")([images, theta])
    logits = classify_views(views, cfg, input_shape, num, num_classes, shared)
    outputs = {"logits": logits, "theta": theta, "boxes": boxes, "gazes": centres}
    return keras.Model(images, outputs, name=name)


@registry.register(
    "soft_attention",
    SoftAttentionConfig,
    summary="localiser -> one learned affine STN -> ResNet",
    learned_gazes=True,
)
def build_soft_attention(
    cfg: SoftAttentionConfig, input_shape: tuple[int, int, int], num_classes: int
) -> keras.Model:
    """Builds one STN branch: images -> {"logits", "theta", "boxes", "gazes"} (K = 1)."""
    return build_stn_model(
        cfg, input_shape, num_classes, num=1, shared=False, name="soft_attention"
    )

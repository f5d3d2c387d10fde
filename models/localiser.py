"""The localiser networks of the learned-attention families: image -> pooled feature vector.

The heads in `models.gaze` turn these features into gazes or STN thetas. The three networks are
the original's (`soft_attention_model`): `resnet18`, the ImageNet-style ResNet (`use_full_resnet`,
512-d at width 64); `resnet20`, the CIFAR-style ResNet (`use_resnet`, 64-d at width 16; the
handover's parallel-transformers localiser); and `small_cnn`, conv 5x5 -> max-pool 2 -> conv 5x5 ->
max-pool 2 -> flatten -> dense, all ReLU with 20 units (the handover notes it "produced the same
transformations on each image"). `auto` (the default) picks by input side like the backbones:
`resnet20` below 64 pixels, `resnet18` from there on, so a 40x40 input never gets the 12.5 M
parameter ResNet18 the handover's multi-gaze run used at 320x320. The ResNets come from
`models.resnet.backbone`; every localiser sees the full-resolution input.
"""

from __future__ import annotations

import typing
from typing import Any, Literal

import keras
from keras import layers

from models.resnet import DEFAULT_WIDTHS as RESNET_WIDTHS
from models.resnet import backbone, resolve_backbone

LocaliserName = Literal["auto", "resnet18", "resnet20", "small_cnn"]
LOCALISERS: tuple[str, ...] = typing.get_args(LocaliserName)
DEFAULT_WIDTHS = {**RESNET_WIDTHS, "small_cnn": 20}  # the original's widths
# The training loop's learning-rate group of every localiser (and of the gaze/θ heads):
# `train.localiser_lr_mult` scales its learning rate.
PARAM_GROUP = "localiser"
SMALL_CNN_MIN_SIDE = 16  # two valid 5x5 convs and two 2x2 pools need at least 16 pixels


def check_localiser_fields(localiser: str, width: int, blocks: int) -> None:
    """Validates `model.localiser`, `model.localiser_width` and `model.localiser_blocks`."""
    if localiser not in LOCALISERS:
        raise ValueError(f"model.localiser={localiser!r} is not one of {', '.join(LOCALISERS)}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 0:
        raise ValueError(
            f"model.localiser_width={width!r} must be an integer >= 0 (0 = the localiser's own: "
            f"{', '.join(f'{k} {v}' for k, v in DEFAULT_WIDTHS.items())})"
        )
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
        raise ValueError(
            f"model.localiser_blocks={blocks!r} must be an integer >= 0 (0 = the ResNet's own: "
            "3 per stage for resnet20, 2 for resnet18; small_cnn ignores it)"
        )


def localiser(
    input_shape: tuple[int, int, int],
    *,
    kind: str = "auto",
    width: int = 0,
    blocks: int = 0,
    bn_momentum: float = 0.9,
    name: str = "localiser",
) -> keras.Model:
    """Builds a localiser sub-model mapping an image batch to pooled features (B, F).

    Args:
        input_shape: (H, W, C) of the images it looks at.
        kind: `auto` (by input side, as `models.resnet.resolve_backbone`), `resnet18`,
            `resnet20` or `small_cnn`.
        width: first-stage filters (ResNets) or conv filters and dense units (`small_cnn`);
            0 takes the original's (64, 16, 20).
        blocks: basic blocks per ResNet stage; 0 takes the ResNet's own.
        bn_momentum: BatchNorm momentum of the ResNets.
        name: name of the sub-model and prefix of its layers.

    Returns:
        A Keras model; features are 8·width (resnet18), 4·width (resnet20) or width wide.
    """
    check_localiser_fields(kind, width, blocks)
    kind = resolve_backbone(kind, min(input_shape[0], input_shape[1]))
    width = width or DEFAULT_WIDTHS[kind]
    if kind != "small_cnn":
        net = backbone(
            input_shape, kind=kind, width=width, blocks=blocks, bn_momentum=bn_momentum, name=name
        )
        net.param_group = PARAM_GROUP
        return net
    if min(input_shape[0], input_shape[1]) < SMALL_CNN_MIN_SIDE:
        raise ValueError(
            f"model.localiser=small_cnn needs inputs of at least {SMALL_CNN_MIN_SIDE}x"
            f"{SMALL_CNN_MIN_SIDE} (two valid 5x5 convs and two 2x2 pools); got "
            f"{input_shape[0]}x{input_shape[1]}: use resnet20 or a larger data.image_size"
        )
    inputs = keras.Input(input_shape, name=f"{name}_input")
    x = inputs
    for i in (1, 2):
        x = layers.Conv2D(width, 5, activation="relu", name=f"{name}_conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"{name}_pool{i}")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(width, activation="relu", name=f"{name}_dense")(x)
    net = keras.Model(inputs, x, name=name)
    net.param_group = PARAM_GROUP
    return net


def localiser_features(cfg: Any, images, input_shape: tuple[int, int, int]):
    """Runs a family config's localiser on the full-resolution images.

    Args:
        cfg: a config with localiser, localiser_width, localiser_blocks and bn_momentum.
        images: (B, H, W, C) symbolic input.
        input_shape: (H, W, C).

    Returns:
        (B, F) features.
    """
    net = localiser(
        input_shape,
        kind=cfg.localiser,
        width=cfg.localiser_width,
        blocks=cfg.localiser_blocks,
        bn_momentum=cfg.bn_momentum,
    )
    return net(images)

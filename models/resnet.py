"""ResNet backbones and the plain `resnet` family.

Two backbones, as in the original system: `resnet20` (the CIFAR-style ResNet: a 3x3 stem and three
stages of `blocks` basic blocks with widths w, 2w, 4w) for small inputs, and `resnet18` (the
ImageNet-style ResNet: a 7x7/2 stem, a 3x3/2 max-pool and four stages of two basic blocks with
widths w, 2w, 4w, 8w, every stage opening with a projection shortcut) for large ones. `auto` picks
`resnet20` below 64 pixels and `resnet18` from there on. Width, depth and input size come from the
config and the data; nothing is hard-coded. Other families reuse `backbone()` for their branches.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import keras
from keras import layers

from models import registry

BackboneName = Literal["auto", "resnet20", "resnet18"]
BACKBONES = ("auto", "resnet20", "resnet18")
AUTO_RESNET18_FROM = 64  # input side (pixels) from which `auto` picks the ImageNet-style ResNet18
DEFAULT_WIDTHS = {"resnet18": 64, "resnet20": 16}  # the original's first-stage widths


@dataclasses.dataclass(frozen=True, kw_only=True)
class BackboneFields:
    """The fields of the ResNet trunk(s) a family classifies with; every family config has them.

    Family configs subclass this and narrow `kind` to their own name (a redefined field keeps its
    place, so `kind` stays first).
    """

    kind: str = ""
    backbone: BackboneName = "auto"  # resnet20 (small inputs), resnet18 (large), auto by size
    width: int = 0  # first-stage filters; 0 = the original's (16 for resnet20, 64 for resnet18)
    blocks: int = 0  # basic blocks per stage; 0 = the backbone's own (3 for resnet20, 2 for 18)
    bn_momentum: float = 0.9  # Keras' 0.99 lags for the first epochs of short trials

    def __post_init__(self) -> None:
        check_backbone_fields(self.backbone, self.width, self.blocks, self.bn_momentum)

    def inert(self) -> dict[str, Any]:
        """Fields that change nothing given the others, each with the value that stands for all
        its settings. Families declare theirs (extending their base's) so that a sweep runs
        functionally identical trials once; the base has none."""
        return {}

    def canonical(self) -> BackboneFields:
        """This config with its inert fields at their standing values: two configs that train
        the same model have the same canonical form."""
        cfg = self
        for _ in range(len(dataclasses.fields(self))):  # one inert field may make another inert
            changes = {k: v for k, v in cfg.inert().items() if getattr(cfg, k) != v}
            if not changes:
                break
            cfg = dataclasses.replace(cfg, **changes)
        return cfg

    def trunk(self, input_shape: tuple[int, int, int], name: str = "backbone") -> keras.Model:
        """A ResNet feature extractor with these fields (see `backbone`)."""
        return backbone(
            input_shape,
            kind=self.backbone,
            width=self.width,
            blocks=self.blocks,
            bn_momentum=self.bn_momentum,
            name=name,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResNetConfig(BackboneFields):
    """A plain ResNet classifier (the baseline every attention family is compared with)."""

    kind: Literal["resnet"] = "resnet"

    @classmethod
    def tiny(cls) -> ResNetConfig:
        return cls(backbone="resnet20", width=8, blocks=1)


def check_backbone_fields(backbone: str, width: int, blocks: int, bn_momentum: float) -> None:
    """Validates the backbone fields shared by every family that embeds a ResNet."""
    if backbone not in BACKBONES:
        raise ValueError(f"model.backbone={backbone!r} is not one of {', '.join(BACKBONES)}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 0:
        raise ValueError(
            f"model.width={width!r} must be an integer >= 0 (0 = the original's: 16 for "
            "resnet20, 64 for resnet18)"
        )
    if not isinstance(blocks, int) or blocks < 0:
        raise ValueError(f"model.blocks={blocks!r} must be >= 0 (0 = the backbone's default)")
    if not 0.0 < bn_momentum < 1.0:
        raise ValueError(f"model.bn_momentum={bn_momentum!r} must lie in (0, 1), e.g. 0.9")


def resolve_backbone(backbone: str, image_size: int) -> str:
    """Returns the concrete backbone name for `auto` at a given input side."""
    if backbone != "auto":
        return backbone
    return "resnet18" if image_size >= AUTO_RESNET18_FROM else "resnet20"


def _bn(momentum: float, name: str) -> layers.Layer:
    return layers.BatchNormalization(momentum=momentum, epsilon=1.001e-5, name=name)


@keras.saving.register_keras_serializable(package="models")
class Subsample(layers.Layer):
    """Keeps every `stride`-th row and column, starting at the first: x[:, ::s, ::s].

    The ResNets' projection shortcuts are 1x1 convolutions with stride 2. TensorFlow 2.21's oneDNN
    kernel for their filter gradient (`Conv2DBackpropFilter`, 1x1 kernel, even stride) corrupts
    the heap once it is called with a batch size other than an earlier call's, which aborts the
    process (`malloc(): ...`, `corrupted size vs. prev_size`): every eager input gradient runs
    it (eager tapes compute the filter gradient too), e.g. an attack on the still-robust subset
    of a batch, ART, or a user's script. Subsampling first and convolving with stride 1 gives
    the same values and weights without that kernel.
    """

    def __init__(self, stride: int, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f"Subsample stride={stride!r} must be a positive integer")
        self.stride = stride

    def call(self, x):
        return x[:, :: self.stride, :: self.stride, :]

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        down = lambda v: None if v is None else -(-v // self.stride)  # noqa: E731
        return (n, down(h), down(w), c)

    def get_config(self) -> dict:
        return {**super().get_config(), "stride": self.stride}


def _basic_block(
    x,
    filters: int,
    stride: int,
    project: bool,
    bn: float,
    init: str,
    name: str,
    project_bn: bool = True,
):
    shortcut = x
    if project:
        # A strided 1x1 convolution, computed as subsampling then a stride-1 1x1 convolution
        # (identical values and weights; see `Subsample` for why).
        if stride > 1:
            shortcut = Subsample(stride, name=f"{name}_proj_subsample")(shortcut)
        shortcut = layers.Conv2D(filters, 1, kernel_initializer=init, name=f"{name}_proj")(shortcut)
        if project_bn:  # ResNet18 normalises its projection; the CIFAR ResNet20 does not
            shortcut = _bn(bn, f"{name}_proj_bn")(shortcut)
    y = layers.Conv2D(
        filters, 3, strides=stride, padding="same", kernel_initializer=init, name=f"{name}_conv1"
    )(x)
    y = layers.ReLU(name=f"{name}_relu1")(_bn(bn, f"{name}_bn1")(y))
    y = layers.Conv2D(filters, 3, padding="same", kernel_initializer=init, name=f"{name}_conv2")(y)
    y = _bn(bn, f"{name}_bn2")(y)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))


def _resnet20_features(x, width: int, blocks: int, bn: float, name: str):
    init = "he_normal"
    x = layers.Conv2D(width, 3, padding="same", kernel_initializer=init, name=f"{name}_stem")(x)
    x = layers.ReLU(name=f"{name}_stem_relu")(_bn(bn, f"{name}_stem_bn")(x))
    for stage in range(3):
        for block in range(blocks):
            first = block == 0 and stage > 0
            x = _basic_block(
                x,
                width * 2**stage,
                2 if first else 1,
                first,
                bn,
                init,
                f"{name}_s{stage + 1}b{block + 1}",
                project_bn=False,
            )
    return layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)


def _resnet18_features(x, width: int, blocks: int, bn: float, name: str):
    init = "glorot_uniform"
    x = layers.ZeroPadding2D(3, name=f"{name}_stem_pad")(x)
    x = layers.Conv2D(width, 7, strides=2, kernel_initializer=init, name=f"{name}_stem")(x)
    x = layers.ReLU(name=f"{name}_stem_relu")(_bn(bn, f"{name}_stem_bn")(x))
    x = layers.ZeroPadding2D(1, name=f"{name}_pool_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    for stage in range(4):
        for block in range(blocks):
            first = block == 0
            stride = 2 if first and stage > 0 else 1
            x = _basic_block(
                x, width * 2**stage, stride, first, bn, init, f"{name}_s{stage + 1}b{block + 1}"
            )
    return layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)


def backbone(
    input_shape: tuple[int, int, int],
    *,
    kind: str = "auto",
    width: int = 0,
    blocks: int = 0,
    bn_momentum: float = 0.9,
    name: str = "backbone",
) -> keras.Model:
    """Builds a ResNet feature extractor (image -> pooled features) as a reusable sub-model.

    Calling the returned model on several tensors shares its weights, which is how families
    with `shared=True` branches use it.
    """
    check_backbone_fields(kind, width, blocks, bn_momentum)
    concrete = resolve_backbone(kind, min(input_shape[0], input_shape[1]))
    features = _resnet18_features if concrete == "resnet18" else _resnet20_features
    default_blocks = 2 if concrete == "resnet18" else 3
    inputs = keras.Input(input_shape, name=f"{name}_input")
    width = width or DEFAULT_WIDTHS[concrete]
    outputs = features(inputs, width, blocks or default_blocks, bn_momentum, name)
    return keras.Model(inputs, outputs, name=name)


def classifier_head(features, num_classes: int, name: str = "logits"):
    """The float32 logits layer every family ends with (float32 even under mixed precision)."""
    return layers.Dense(num_classes, dtype="float32", name=name)(features)


@registry.register("resnet", ResNetConfig, summary="plain ResNet20/ResNet18 baseline")
def build_resnet(cfg: ResNetConfig, input_shape, num_classes: int) -> keras.Model:
    inputs = keras.Input(input_shape, name="image")
    logits = classifier_head(cfg.trunk(input_shape)(inputs), num_classes)
    return keras.Model(inputs, {"logits": logits}, name="resnet")

"""Where fixation models look, and how their views become one set of logits.

`FixationGazes` draws the gazes of the fixed-fixation families (coarse crops, retinal warp,
cortical scales): in training one uniformly random gaze per image inside `±gaze_range` (units of
the image half-size); at inference the fixed `eval_gazes`: the centre, the original's
five-fixation ensemble (centre plus the four diagonals at ±gaze_range), or a fresh random gaze
(which makes the model random at inference, so attacks need EOT). Views of shape (B, K, ...) are
folded into the batch for the backbone, and `MeanOverViews` averages the K views' logits.
"""

from __future__ import annotations

import dataclasses

import keras

from models.resnet import BackboneFields

EVAL_GAZES = ("centre", "ensemble5", "random")


def check_fixation_fields(gaze_range: float, eval_gazes: str) -> None:
    if not 0.0 <= gaze_range <= 1.0:
        raise ValueError(
            f"model.gaze_range={gaze_range} must lie in [0, 1] (units of the image half-size; "
            "1 puts a fixation on the image edge)"
        )
    if eval_gazes not in EVAL_GAZES:
        raise ValueError(f"model.eval_gazes={eval_gazes!r} is not one of {', '.join(EVAL_GAZES)}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FixationFields(BackboneFields):
    """The fields every fixed-fixation family shares (besides its trunk's)."""

    gaze_range: float = 0.5  # random-gaze half-range in half-size units (80 / 160 originally)
    eval_gazes: str = "centre"  # centre | ensemble5 (original's 5 fixed gazes) | random
    seed: int = 0  # seeds the training gazes

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fixation_fields(self.range, self.eval_gazes)

    @property
    def range(self) -> float:
        """The random-gaze half-range actually used."""
        return self.gaze_range

    def gaze_layer(self) -> FixationGazes:
        return FixationGazes(self.range, self.eval_gazes, self.seed, name="gazes")


def random_eval_gazes(cfg: FixationFields) -> bool:
    """The registry's `random_at_inference` for fixed-fixation families."""
    return cfg.eval_gazes == "random"


def require_square(input_shape: tuple[int, int, int], kind: str) -> None:
    """Families whose warp or scales are fitted for a square side refuse other shapes."""
    if input_shape[0] != input_shape[1]:
        raise ValueError(
            f"model.kind={kind} fits its front-end for square inputs; got {input_shape[0]}x"
            f"{input_shape[1]}: set data.image_size to a square side"
        )


def fixed_gazes(eval_gazes: str, gaze_range: float) -> list[tuple[float, float]]:
    """The inference-time gazes: the centre, or the centre and four diagonals."""
    if eval_gazes == "ensemble5":
        g = gaze_range
        return [(0.0, 0.0), (-g, g), (g, -g), (-g, -g), (g, g)]
    return [(0.0, 0.0)]


@keras.saving.register_keras_serializable(package="models")
class FixationGazes(keras.layers.Layer):
    """images (B, H, W, C) -> gazes (B, K, 2): random in training, fixed at inference."""

    def __init__(self, gaze_range: float, eval_gazes: str = "centre", seed: int = 0, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        check_fixation_fields(gaze_range, eval_gazes)
        self.gaze_range, self.eval_gazes, self.seed = float(gaze_range), eval_gazes, int(seed)
        self._seeds = keras.random.SeedGenerator(seed)

    def _random(self, batch):
        r = self.gaze_range
        return keras.random.uniform((batch, 1, 2), -r, r, dtype="float32", seed=self._seeds)

    def call(self, images, training=False):
        batch = keras.ops.shape(images)[0]
        if training or self.eval_gazes == "random":
            return self._random(batch)
        fixed = keras.ops.convert_to_tensor(fixed_gazes(self.eval_gazes, self.gaze_range))
        return keras.ops.tile(keras.ops.expand_dims(fixed, 0), (batch, 1, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, 2)

    def get_config(self) -> dict:
        extra = {"gaze_range": self.gaze_range, "eval_gazes": self.eval_gazes, "seed": self.seed}
        return {**super().get_config(), **extra}


@keras.saving.register_keras_serializable(package="models")
class FoldViews(keras.layers.Layer):
    """(B, K, H, W, C) -> (B*K, H, W, C), so one backbone call handles every view."""

    def call(self, views):
        return keras.ops.reshape(views, (-1, *views.shape[2:]))

    def compute_output_shape(self, input_shape):
        return (None, *input_shape[2:])


@keras.saving.register_keras_serializable(package="models")
class MeanOverViews(keras.layers.Layer):
    """(per-view values (B*K, ...), gazes (B, K, 2)) -> mean over the K views (B, ...)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def call(self, inputs):
        values, gazes = inputs
        shape = keras.ops.shape(gazes)
        per_view = keras.ops.reshape(values, (shape[0], shape[1], *values.shape[1:]))
        return keras.ops.mean(per_view, axis=1)

    def compute_output_shape(self, input_shape):
        values, gazes = input_shape
        return (gazes[0], *values[1:])


@keras.saving.register_keras_serializable(package="models")
class Stack(keras.layers.Layer):
    """[(N, ...)] * S -> (N, S, ...): stacks per-scale outputs along a new axis 1."""

    def call(self, values):
        return keras.ops.stack(values, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(input_shape), *input_shape[0][1:])


@keras.saving.register_keras_serializable(package="models")
class PairViews(keras.layers.Layer):
    """(images (B, H, W, C), gazes (B, K, 2)) -> (images (B*K, ...), gazes (B*K, 2)).

    For front-ends that take one gaze per image: each image is repeated once per view.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def call(self, inputs):
        images, gazes = inputs
        views = keras.ops.shape(gazes)[1]
        return keras.ops.repeat(images, views, axis=0), keras.ops.reshape(gazes, (-1, 2))

    def compute_output_shape(self, input_shape):
        images, _ = input_shape
        return (None, *images[1:]), (None, 2)

"""Learned-attention heads: localiser features -> K gazes (B, K, 2) or K affine thetas (B, K, 2, 3).

Every head is a linear map whose kernel starts at zero, so at initialisation its output is the
bias, the same for every image (as in the original). `gaze_param` picks how the linear output z
becomes a bounded coordinate in [-1, 1]: `tanh` (the original; once |z| is large tanh' ≈ 0 and
±1, the image edge, is an absorbing state: the collapse the handover describes), `scaled_tanh`
(tanh(z / SCALED_TANH_SCALE): the same bounds, but z must travel SCALED_TANH_SCALE times farther to
saturate, so it saturates later, not never) and `clip_ste` (z clipped to [-1, 1] in the forward
pass with an identity, straight-through gradient: it cannot saturate, a clipped coordinate still
feels the loss). `gaze_init` places the K initial points: `centre` (all at (0, 0), symmetric:
the original's behaviour for K != 5), `grid` (the centre plus K - 1 points spread evenly along
the square ring max(|x|, |y|) = 0.5, which for K = 5 is the original's centre and four diagonals)
or `random` (seeded, uniform in ±0.5). The bias is the inverse of the parameterisation at those
points (atanh for tanh), so the initial gazes sit exactly where intended, not at tanh(0.5) = 0.46
as in the original. `gaze_l2` adds gaze_l2 · mean over the batch of Σ g² (the handover's
`regularization`) with `add_loss`. Coordinates follow design.md: (x, y), x the column, y the row
pointing down, in units of the image half-size, (0, 0) the centre.
"""

from __future__ import annotations

import math
import typing
from typing import Literal

import keras
import numpy as np
from keras import ops

from models.localiser import PARAM_GROUP
from models.stn import theta_boxes

GazeParam = Literal["tanh", "scaled_tanh", "clip_ste"]
GazeInit = Literal["centre", "grid", "random"]
GAZE_PARAMS: tuple[str, ...] = typing.get_args(GazeParam)
GAZE_INITS: tuple[str, ...] = typing.get_args(GazeInit)
SCALED_TANH_SCALE = 4.0  # `scaled_tanh` is tanh(z / 4): linear range |z| < ~4 instead of ~1
INIT_EXTENT = 0.5  # `grid` and `random` initial points lie within ±0.5 (the original's 80/160)


def check_gaze_fields(gaze_param: str, gaze_init: str, gaze_l2: float) -> None:
    """Validates the gaze-head fields shared by the learned-attention families."""
    if gaze_param not in GAZE_PARAMS:
        raise ValueError(f"model.gaze_param={gaze_param!r} is not one of {', '.join(GAZE_PARAMS)}")
    if gaze_init not in GAZE_INITS:
        raise ValueError(f"model.gaze_init={gaze_init!r} is not one of {', '.join(GAZE_INITS)}")
    if isinstance(gaze_l2, bool) or not (isinstance(gaze_l2, (int, float)) and gaze_l2 >= 0):
        raise ValueError(f"model.gaze_l2={gaze_l2!r} must be a number >= 0 (0.01 worked best)")
    if not math.isfinite(gaze_l2):
        raise ValueError(f"model.gaze_l2={gaze_l2!r} must be finite")


def check_num_transformers(num_transformers: int) -> None:
    """Validates `model.num_transformers` (the number of branches: STNs or gazes)."""
    if isinstance(num_transformers, bool) or not isinstance(num_transformers, int):
        raise ValueError(f"model.num_transformers={num_transformers!r} must be an integer >= 1")
    if num_transformers < 1:
        raise ValueError(f"model.num_transformers={num_transformers} must be >= 1 (branches)")


def squash(z, gaze_param: str):
    """Maps linear head outputs to coordinates in [-1, 1] with the chosen parameterisation."""
    if gaze_param == "tanh":
        return ops.tanh(z)
    if gaze_param == "scaled_tanh":
        return ops.tanh(z / SCALED_TANH_SCALE)
    if gaze_param == "clip_ste":  # forward: clip; backward: identity (straight-through)
        return z + ops.stop_gradient(ops.clip(z, -1.0, 1.0) - z)
    raise ValueError(f"gaze_param={gaze_param!r} is not one of {', '.join(GAZE_PARAMS)}")


def unsquash(points: np.ndarray, gaze_param: str) -> np.ndarray:
    """The linear output that `squash` maps to `points` (which must lie in (-1, 1))."""
    points = np.asarray(points, dtype=np.float64)
    if gaze_param == "clip_ste":
        return points
    scale = SCALED_TANH_SCALE if gaze_param == "scaled_tanh" else 1.0
    return scale * np.arctanh(points)


def initial_points(num: int, gaze_init: str, seed: int = 0) -> np.ndarray:
    """The K initial gazes (or box centres) of a head, (num, 2) as (x, y).

    Args:
        num: K, the number of gazes.
        gaze_init: `centre` (all zeros), `grid` (the centre, then K - 1 points evenly spaced
            along the perimeter of the square of half-side 0.5, starting at its top-left
            corner: K = 5 gives the four diagonals, K = 9 a 3x3 grid) or `random` (uniform in
            ±0.5, seeded).
        seed: seed of `random`.

    Returns:
        (num, 2) float64 points.
    """
    if gaze_init == "centre":
        return np.zeros((num, 2))
    if gaze_init == "random":
        return np.random.default_rng(seed).uniform(-INIT_EXTENT, INIT_EXTENT, (num, 2))
    if gaze_init != "grid":
        raise ValueError(f"gaze_init={gaze_init!r} is not one of {', '.join(GAZE_INITS)}")
    ring = num - 1
    # Walk the perimeter (length 4 in units of the side) clockwise from (-1, -1)·extent.
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], dtype=np.float64)
    points = [np.zeros(2)]
    for i in range(ring):
        s = 4.0 * i / ring
        side, frac = int(s), s - int(s)
        points.append(INIT_EXTENT * (corners[side] + frac * (corners[side + 1] - corners[side])))
    return np.stack(points)


class _LinearHead(keras.layers.Layer):
    """A zero-kernel linear map features (B, F) -> (B, K, P), whose bias gives the init.

    `loss_name` names the prior it adds (the trainer reports it as `train/loss/gaze_l2`);
    `param_group` puts its weights in the localiser's learning-rate group.
    """

    params_per_head = 2
    loss_name = "gaze_l2"
    param_group = PARAM_GROUP

    def __init__(
        self,
        num: int,
        gaze_param: str = "tanh",
        gaze_init: str = "centre",
        gaze_l2: float = 0.0,
        seed: int = 0,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")  # coordinates stay float32 under mixed precision
        super().__init__(**kwargs)
        check_num_transformers(num)
        check_gaze_fields(gaze_param, gaze_init, gaze_l2)
        self.num, self.gaze_param, self.gaze_init = num, gaze_param, gaze_init
        self.gaze_l2, self.seed = float(gaze_l2), int(seed)

    def initial_bias(self) -> np.ndarray:
        """(K, P) pre-activations of the initial outputs."""
        raise NotImplementedError

    def build(self, input_shape):
        units = self.num * self.params_per_head
        self.kernel = self.add_weight(
            shape=(input_shape[-1], units), initializer="zeros", name="kernel"
        )
        self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias")
        self.bias.assign(self.initial_bias().reshape(-1).astype("float32"))

    def linear(self, features):
        z = ops.matmul(ops.cast(features, self.compute_dtype), self.kernel) + self.bias
        return ops.reshape(z, (-1, self.num, self.params_per_head))

    def add_prior(self, points) -> None:
        """Adds gaze_l2 · mean over the batch of Σ points² to the layer's losses."""
        if self.gaze_l2 > 0:
            self.add_loss(self.gaze_l2 * ops.mean(ops.sum(ops.square(points), axis=(1, 2))))

    def get_config(self) -> dict:
        extra = {
            "num": self.num,
            "gaze_param": self.gaze_param,
            "gaze_init": self.gaze_init,
            "gaze_l2": self.gaze_l2,
            "seed": self.seed,
        }
        return {**super().get_config(), **extra}


@keras.saving.register_keras_serializable(package="models")
class GazeHead(_LinearHead):
    """Keras layer: localiser features (B, F) -> K gazes (B, K, 2) in [-1, 1], with the L2 prior.

    Args:
        num: K, the number of gazes.
        gaze_param: `tanh`, `scaled_tanh` or `clip_ste` (see the module docstring).
        gaze_init: `centre`, `grid` or `random` (see `initial_points`).
        gaze_l2: weight of the prior gaze_l2 · mean_batch Σ g².
        seed: seed of the `random` init.
    """

    def initial_bias(self) -> np.ndarray:
        return unsquash(initial_points(self.num, self.gaze_init, self.seed), self.gaze_param)

    def call(self, features):
        gazes = squash(self.linear(features), self.gaze_param)
        self.add_prior(gazes)
        return gazes

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num, 2)


@keras.saving.register_keras_serializable(package="models")
class ThetaHead(_LinearHead):
    """Keras layer: localiser features (B, F) -> K affine sampling matrices theta (B, K, 2, 3).

    Each entry is the identity plus a squashed linear output: restricted (4 parameters per
    transformer) gives [[1 + f(sx), 0, f(tx)], [0, 1 + f(sy), f(ty)]], full (6) gives
    [[1 + f(a), f(b), f(tx)], [f(c), 1 + f(d), f(ty)]], with f the `gaze_param` map. So a scale
    lies in [0, 2] (a box can zoom in to a point or out to twice the image), a translation (the
    box centre) in [-1, 1], and the zero-kernel init is an exact identity (the original used
    tanh(1) = 0.76 as its "identity" scale, a 24% zoom). The translations start at the
    `gaze_init` points and carry the L2 prior.

    Args:
        num: K, the number of transformers.
        restricted: scale and translation only (4 parameters) instead of a full affine (6).
        gaze_param: `tanh`, `scaled_tanh` or `clip_ste`.
        gaze_init: initial box centres: `centre`, `grid` or `random`.
        gaze_l2: weight of the prior gaze_l2 · mean_batch Σ t² on the translations.
        seed: seed of the `random` init.
    """

    def __init__(self, num: int, restricted: bool = True, **kwargs):
        super().__init__(num, **kwargs)
        self.restricted = bool(restricted)
        self.params_per_head = 4 if self.restricted else 6

    def initial_bias(self) -> np.ndarray:
        t = unsquash(initial_points(self.num, self.gaze_init, self.seed), self.gaze_param)
        bias = np.zeros((self.num, self.params_per_head))
        if self.restricted:  # [sx, tx, sy, ty]
            bias[:, 1], bias[:, 3] = t[:, 0], t[:, 1]
        else:  # [a, b, tx, c, d, ty]
            bias[:, 2], bias[:, 5] = t[:, 0], t[:, 1]
        return bias

    def call(self, features):
        f = squash(self.linear(features), self.gaze_param)
        if self.restricted:
            sx, tx, sy, ty = (f[..., i] for i in range(4))
            zero = ops.zeros_like(sx)
            rows = [ops.stack([1 + sx, zero, tx], -1), ops.stack([zero, 1 + sy, ty], -1)]
            theta = ops.stack(rows, axis=-2)
        else:
            identity = ops.convert_to_tensor([[1, 0, 0], [0, 1, 0]], dtype=f.dtype)
            theta = ops.reshape(f, (-1, self.num, 2, 3)) + identity
        self.add_prior(theta[..., 2])
        return theta

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num, 2, 3)

    def get_config(self) -> dict:
        return {**super().get_config(), "restricted": self.restricted}


@keras.saving.register_keras_serializable(package="models")
class ThetaBoxes(keras.layers.Layer):
    """Keras layer: theta (B, K, 2, 3) -> (boxes (B, K, 4), centres (B, K, 2)), see `theta_boxes`.

    Boxes are (x_min, y_min, x_max, y_max) in normalised coordinates; the identity gives
    (-1, -1, 1, 1) and centre (0, 0). The centres are what the STN families report as gazes.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, theta):
        return theta_boxes(ops.cast(theta, "float32"))

    def compute_output_shape(self, input_shape):
        lead = tuple(input_shape[:-2])
        return (*lead, 4), (*lead, 2)

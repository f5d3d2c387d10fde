"""Retinal non-uniform sampling: the foveated warp of the retinal-fixation and multi-gaze models.

An output pixel at distance r (pixels) from the fixation point reads the source at distance
r' = a·r² + b·r along the same direction, so the fovea is oversampled (about 2x for the fitted
coefficients) and the periphery undersampled. `fit_retina_coefficients` reproduces the original
fit of (a, b) for an image side; `retinal_warp` applies the warp with one gaze per image, or K
gazes per image (`gazes` of shape (B, K, 2)), with bilinear (differentiable with respect to the
image and the gaze) or nearest sampling; `RetinalWarp` is the serialisable Keras layer. Gazes use
the project convention: (x, y), x the column, y the row pointing down, in units of the image
half-size, (0, 0) the centre and ±1 the outer pixel edges. Unlike the original, whose fovea sits
1.5 px off the gaze (an uncompensated 2-px pad), the fovea here sits exactly at the gaze: the
output pixel at the gaze point reads the source at the gaze point.
"""

from __future__ import annotations

import functools
import math

import keras
import numpy as np
import tensorflow as tf
from scipy.optimize import brenth, curve_fit

from models.stn import coordinate_dtype, sample_bilinear, sample_nearest

SAMPLINGS = ("bilinear", "nearest")
MAX_RATIO = 10.0  # sample spacing grows by sqrt(MAX_RATIO) from fovea to edge (area: x10)


def _sample_radii(rf: float, size: int, steps: int) -> np.ndarray:
    """Radii r_0 = 0, r_{k+1} = r_k + exp(alpha r_k / 2) / sqrt(pi rf), `steps` steps."""
    alpha = math.log(MAX_RATIO) / (size // 2)
    radii = [0.0]
    step = 1.0 / math.sqrt(math.pi * rf)
    for _ in range(steps):  # the exponent is capped: tiny rf (a bad Brent probe) overflows
        radii.append(radii[-1] + step * math.exp(min(alpha * radii[-1] / 2, 700.0)))
    return np.asarray(radii)


@functools.cache
def fit_retina_coefficients(size: int) -> tuple[float, float]:
    """Fits the radial map r' = a·r² + b·r for a square image side, as the original did.

    The foveal density rf is chosen (Brent's method on [0.01, 5]) so that N/2 - 1 steps of the
    radius recursion end at size/2; the radii of N/2 steps are then fitted by bounded least
    squares (a, b >= 0, starting at (0, 0.4)) over k = 0..N/2-1. Output size N = input size.

    Args:
        size: image side in pixels (320 gives a=0.0030395, b=0.49240; 32 gives 0.034488, 0.52640).

    Returns:
        (a, b).
    """
    if not isinstance(size, (int, np.integer)) or size < 4:
        raise ValueError(f"retina size={size!r} must be an integer >= 4 (the image side, pixels)")
    half = size // 2
    rf = brenth(lambda rf: size / 2 - _sample_radii(rf, size, half - 1)[-1], 0.01, 5.0)
    radii = _sample_radii(rf, size, half)[:half]
    k = np.arange(half, dtype=np.float64)
    (a, b), _ = curve_fit(
        lambda k, a, b: a * k**2 + b * k, k, radii, p0=[0.0, 0.4], bounds=(0.0, np.inf)
    )
    return float(a), float(b)


def retinal_coordinates(
    gazes: tf.Tensor, height: int, width: int, a: float, b: float, dtype=tf.float32
) -> tuple[tf.Tensor, tf.Tensor]:
    """Source pixel coordinates of the retinal warp.

    Args:
        gazes: (..., 2) gazes (x, y) in half-size units.
        height: image height (pixels); the output has the same size.
        width: image width (pixels).
        a: quadratic coefficient of the radial map.
        b: linear coefficient of the radial map.
        dtype: float dtype of the coordinates.

    Returns:
        (x, y) source pixel coordinates, each of shape (..., height, width).
    """
    gazes = tf.cast(gazes, dtype)
    # The gaze point in pixel coordinates (pixel centres at integers).
    gx = ((width - 1) / 2 + gazes[..., 0] * (width / 2))[..., None, None]
    gy = ((height - 1) / 2 + gazes[..., 1] * (height / 2))[..., None, None]
    dx = tf.range(width, dtype=dtype) - gx  # (..., 1, W)
    dy = tf.range(height, dtype=dtype)[:, None] - gy  # (..., H, 1)
    sq = dx * dx + dy * dy
    # r is not differentiable at 0; a·r·d is (with slope 0), so mask the sqrt's gradient there.
    nonzero = sq > 0
    r = tf.where(nonzero, tf.sqrt(tf.where(nonzero, sq, tf.ones_like(sq))), tf.zeros_like(sq))
    scale = a * r + b  # r'/r
    return gx + dx * scale, gy + dy * scale


def _check_sampling(sampling: str) -> None:
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling={sampling!r} is not one of {', '.join(SAMPLINGS)}")


def retinal_warp(
    images: tf.Tensor,
    gazes: tf.Tensor,
    a: float,
    b: float,
    sampling: str = "bilinear",
    jit_compile: bool = True,
) -> tf.Tensor:
    """Foveates each image around its gaze; the output has the input's size.

    Args:
        images: (B, H, W, C) float images in [0, 1].
        gazes: (B, 2) one gaze per image, or (B, K, 2) for K gazes per image.
        a: quadratic coefficient (see `fit_retina_coefficients`).
        b: linear coefficient.
        sampling: "bilinear" (differentiable w.r.t. image and gaze) or "nearest" (w.r.t. the
            image only; the gaze gets no gradient).
        jit_compile: run the sampler under XLA.

    Returns:
        (B, H, W, C), or (B, K, H, W, C) for K gazes per image. Samples that fall outside the
        image are 0 (black).
    """
    _check_sampling(sampling)
    images, gazes = tf.convert_to_tensor(images), tf.convert_to_tensor(gazes)
    if images.shape.rank != 4 or None in images.shape[1:3]:
        raise ValueError(f"images must be NHWC with static H and W; got shape {images.shape}")
    if gazes.shape.rank not in (2, 3) or gazes.shape[-1] != 2:
        raise ValueError(f"gazes must have shape (B, 2) or (B, K, 2); got {gazes.shape}")
    h, w = images.shape[1], images.shape[2]
    x, y = retinal_coordinates(gazes, h, w, a, b, coordinate_dtype(images))
    sample = sample_bilinear if sampling == "bilinear" else sample_nearest
    return sample(images, x, y, jit_compile=jit_compile)


@keras.saving.register_keras_serializable(package="models")
class RetinalWarp(keras.layers.Layer):
    """Keras layer: `(images, gazes) -> retinal_warp(images, gazes, a, b, sampling)`.

    Args:
        a: quadratic coefficient; None fits it for the (square) input side when built.
        b: linear coefficient; None fits it with `a`.
        sampling: "bilinear" or "nearest".
        jit_compile: run the sampler under XLA.
    """

    def __init__(
        self,
        a: float | None = None,
        b: float | None = None,
        sampling: str = "bilinear",
        jit_compile: bool = True,
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)  # gazes/theta stay float32 under mixed precision
        super().__init__(**kwargs)
        _check_sampling(sampling)
        if (a is None) != (b is None):
            raise ValueError(f"give both retina coefficients or neither; got a={a}, b={b}")
        self.a, self.b = a, b
        self.sampling = sampling
        self.jit_compile = jit_compile

    def build(self, input_shape):
        image_shape = input_shape[0]
        h, w = image_shape[1], image_shape[2]
        if self.a is None:
            if h is None or h != w:
                raise ValueError(
                    f"RetinalWarp fits (a, b) for square images; got {h}x{w}. Pass a and b "
                    "explicitly (e.g. from fit_retina_coefficients) for other shapes."
                )
            self.a, self.b = fit_retina_coefficients(int(h))
        super().build(input_shape)

    def call(self, inputs):
        images, gazes = inputs
        images = keras.ops.cast(images, self.compute_dtype)
        return retinal_warp(images, gazes, self.a, self.b, self.sampling, self.jit_compile)

    def compute_output_shape(self, input_shape):
        (n, h, w, c), gaze_shape = input_shape
        return (n, *gaze_shape[1:-1], h, w, c)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "a": self.a,
            "b": self.b,
            "sampling": self.sampling,
            "jit_compile": self.jit_compile,
        }

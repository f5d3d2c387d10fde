"""Coarse fixation crops and the multi-scale cortical (ECNN) views.

`gaze_crop` cuts a square crop of a given side centred at each image's gaze (the coarse-fixation
front-end); `lowpass_subsample` is the ECNN's Gaussian "lowpass" (sigma = R/2, kernel truncated at
4 sigma, per channel, zero borders) followed by subsampling with stride R from R//2, done as two
1-D passes; `cortical_scales` derives the ECNN's (crop, radius) pairs from the input side and
`cortical_views` produces the equally sized views. Gazes use the project convention: (x, y),
x the column, y the row pointing down, in units of the image half-size. `GazeCrop` and
`CorticalViews` are the serialisable Keras layers.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf

from models.stn import coordinate_dtype, sample_bilinear, sample_nearest

SAMPLINGS = ("nearest", "bilinear")
CORTICAL_FRACTIONS = (1, 2, 4, 6)  # crop sides in eighths of the input side (40, 80, 160, 240)
CORTICAL_REFERENCE_SIDE = 320  # the original ECNN input: radii (1, 2, 4, 6), 40x40 views


def gaze_crop(
    images: tf.Tensor,
    gazes: tf.Tensor,
    size: int,
    sampling: str = "nearest",
    jit_compile: bool = True,
) -> tf.Tensor:
    """Square crops of side `size` centred at each image's gaze; zero outside the image.

    Args:
        images: (B, H, W, C) float images.
        gazes: (B, 2) gazes (x, y) in half-size units, or (B, K, 2) for K crops per image.
        size: crop side in pixels.
        sampling: "nearest" snaps the crop to whole pixels (ties go to the top-left, so gaze 0
            gives the central crop at offset (H - size) // 2), exact pixel copies, gradient
            w.r.t. the image only; "bilinear" crops at the exact sub-pixel position and is also
            differentiable w.r.t. the gaze.
        jit_compile: run the sampler under XLA.

    Returns:
        (B, size, size, C), or (B, K, size, size, C).
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling={sampling!r} is not one of {', '.join(SAMPLINGS)}")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"crop size={size!r} must be a positive integer (pixels)")
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or None in images.shape[1:3]:
        raise ValueError(f"images must be NHWC with static H and W; got shape {images.shape}")
    h, w = images.shape[1], images.shape[2]
    gazes = tf.cast(gazes, coordinate_dtype(images))
    # Pixel coordinate of the crop's first row/column.
    left = (w - 1) / 2 + gazes[..., 0] * (w / 2) - (size - 1) / 2
    top = (h - 1) / 2 + gazes[..., 1] * (h / 2) - (size - 1) / 2
    if sampling == "nearest":
        left, top = tf.math.ceil(left - 0.5), tf.math.ceil(top - 0.5)
    steps = tf.range(size, dtype=left.dtype)
    x = left[..., None, None] + steps[None, :]
    y = top[..., None, None] + steps[:, None]
    x, y = x + tf.zeros_like(y), y + tf.zeros_like(x)
    sample = sample_nearest if sampling == "nearest" else sample_bilinear
    return sample(images, x, y, jit_compile=jit_compile)


@functools.cache
def gaussian_kernel_1d(radius: int) -> np.ndarray:
    """The ECNN lowpass kernel for a radius R: sigma = R/2, truncated at 4 sigma (4R+1 taps)."""
    sigma = radius / 2
    half = int(4 * sigma + 0.5)
    taps = np.arange(-half, half + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    return kernel / kernel.sum()


def lowpass_subsample(images: tf.Tensor, radius: int) -> tf.Tensor:
    """Gaussian lowpass (zero borders) then subsampling by `radius`, starting at radius // 2.

    Args:
        images: (B, H, W, C) float images.
        radius: R >= 1; the output side is ceil((H - R//2) / R), i.e. H / R when R divides H.

    Returns:
        (B, ceil((H - R//2)/R), ceil((W - R//2)/R), C).
    """
    if not isinstance(radius, (int, np.integer)) or radius < 1:
        raise ValueError(f"lowpass radius={radius!r} must be a positive integer (pixels)")
    channels = images.shape[-1]
    kernel = tf.constant(gaussian_kernel_1d(int(radius)), images.dtype)
    column = tf.tile(kernel[:, None, None, None], [1, 1, channels, 1])  # (k, 1, C, 1)
    row = tf.reshape(column, [1, -1, channels, 1])  # (1, k, C, 1)
    start = radius // 2
    # Each pass only keeps the rows (then columns) that survive the subsampling.
    out = tf.nn.depthwise_conv2d(images, column, [1, 1, 1, 1], "SAME")[:, start::radius]
    return tf.nn.depthwise_conv2d(out, row, [1, 1, 1, 1], "SAME")[:, :, start::radius]


def cortical_scales(size: int) -> tuple[tuple[int, int], ...]:
    """The ECNN's (crop side, lowpass radius) per scale for a square input side.

    Crops are 1/8, 1/4, 1/2 and 3/4 of the side, radii u·(1, 2, 4, 6), so every scale comes
    out (size / 8u) pixels wide. u grows with the side (u = size // 320, at least 1, reduced until
    it divides size / 8) so that 320 gives crops (40, 80, 160, 240), radii (1, 2, 4, 6) and 40x40
    views, 640 keeps 40x40 views, and small inputs keep radius 1 (32 -> 4x4, 40 -> 5x5 views).

    Args:
        size: input side in pixels; a multiple of 8, at least 16.

    Returns:
        ((crop, radius), ...) for the four scales, finest first.
    """
    if not isinstance(size, (int, np.integer)) or size < 16 or size % 8:
        raise ValueError(
            f"cortical scales need an input side that is a multiple of 8 and at least 16 (crops "
            f"of 1/8, 1/4, 1/2 and 3/4 of it with equal-sized views); got {size!r}. Use e.g. 32, "
            "40 or 320, or resize the input."
        )
    unit = max(1, size // CORTICAL_REFERENCE_SIDE)
    while (size // 8) % unit:
        unit -= 1
    return tuple((size // 8 * m, unit * m) for m in CORTICAL_FRACTIONS)


def cortical_views(
    images: tf.Tensor,
    gazes: tf.Tensor,
    scales: tuple[tuple[int, int], ...],
    jit_compile: bool = True,
) -> list[tf.Tensor]:
    """The ECNN's views: for each (crop, radius), a whole-pixel gaze crop, lowpassed, subsampled.

    Args:
        images: (B, H, W, C) float images.
        gazes: (B, 2) gazes in half-size units, shared by all scales of an image.
        scales: ((crop, radius), ...), e.g. from `cortical_scales`.
        jit_compile: run the crop sampler under XLA.

    Returns:
        One (B, crop // radius, crop // radius, C) tensor per scale.
    """
    return [
        lowpass_subsample(gaze_crop(images, gazes, crop, "nearest", jit_compile), radius)
        for crop, radius in scales
    ]


@keras.saving.register_keras_serializable(package="models")
class GazeCrop(keras.layers.Layer):
    """Keras layer: `(images, gazes) -> gaze_crop(images, gazes, size, sampling)`."""

    def __init__(self, size: int, sampling: str = "nearest", jit_compile: bool = True, **kwargs):
        kwargs.setdefault("autocast", False)  # gazes/theta stay float32 under mixed precision
        super().__init__(**kwargs)
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling={sampling!r} is not one of {', '.join(SAMPLINGS)}")
        self.size, self.sampling, self.jit_compile = int(size), sampling, jit_compile

    def call(self, inputs):
        images, gazes = inputs
        images = keras.ops.cast(images, self.compute_dtype)
        return gaze_crop(images, gazes, self.size, self.sampling, self.jit_compile)

    def compute_output_shape(self, input_shape):
        (n, _, _, c), gaze_shape = input_shape
        return (n, *gaze_shape[1:-1], self.size, self.size, c)

    def get_config(self) -> dict:
        config = {"size": self.size, "sampling": self.sampling, "jit_compile": self.jit_compile}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="models")
class CorticalViews(keras.layers.Layer):
    """Keras layer: `(images, gazes) -> cortical_views(...)`, a list with one view per scale.

    Args:
        scales: ((crop, radius), ...); None derives them from the (square) input side.
        jit_compile: run the crop sampler under XLA.
    """

    def __init__(self, scales=None, jit_compile: bool = True, **kwargs):
        kwargs.setdefault("autocast", False)  # gazes/theta stay float32 under mixed precision
        super().__init__(**kwargs)
        self.scales = None if scales is None else tuple((int(c), int(r)) for c, r in scales)
        self.jit_compile = jit_compile

    def build(self, input_shape):
        h, w = input_shape[0][1], input_shape[0][2]
        if self.scales is None:
            if h is None or h != w:
                raise ValueError(f"CorticalViews derives scales for square inputs; got {h}x{w}")
            self.scales = cortical_scales(int(h))
        super().build(input_shape)

    def call(self, inputs):
        images, gazes = inputs
        images = keras.ops.cast(images, self.compute_dtype)
        return cortical_views(images, gazes, self.scales, self.jit_compile)

    def compute_output_shape(self, input_shape):
        n, c = input_shape[0][0], input_shape[0][3]
        scales = self.scales or cortical_scales(int(input_shape[0][1]))
        return [(n, crop // radius, crop // radius, c) for crop, radius in scales]

    def get_config(self) -> dict:
        scales = None if self.scales is None else [list(s) for s in self.scales]
        return {**super().get_config(), "scales": scales, "jit_compile": self.jit_compile}

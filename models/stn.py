"""Grid sampling and the spatial transformer (STN) front-end.

This module holds the differentiable samplers every attention front-end reads images with
(`sample_bilinear`, `sample_nearest`: per-image source coordinates in pixels, zero outside the
image), and the affine spatial transformer built on them: `affine_grid_sample` warps images with a
standard affine sampling-grid matrix theta (B, 2, 3) in normalised coordinates (x = column, y = row
pointing down, ±1 = outer pixel edges, i.e. `align_corners=False`), `theta_boxes` reports the
region each theta looks at, and `SpatialTransformer` wraps it as a serialisable Keras layer. The
bilinear sampler has a hand-written gradient (a single scatter into 2x2 neighbourhoods for the
image, analytic slopes for the coordinates) and runs under XLA, which on CPU is 2-3x faster than
the generic gather/scatter-add autodiff path.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def coordinate_dtype(images: tf.Tensor) -> tf.DType:
    """Float dtype for sampling coordinates: float64 for float64 images, else float32."""
    return tf.float64 if images.dtype == tf.float64 else tf.float32


def _flat_index(b: tf.Tensor, row: tf.Tensor, col: tf.Tensor, height, width) -> tf.Tensor:
    return (b * height + row) * width + col


def _bilinear(images: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Bilinear sampling core on flat grids: images (B,H,W,C), x and y (B,P) -> (B,P,C)."""
    shape = tf.shape(images)
    n, h, w, c = shape[0], shape[1], shape[2], shape[3]
    dtype = images.dtype
    # Clip to one pixel beyond the border: beyond it every tap is outside, so the value (0) and
    # the coordinate gradient (0) are already exact there.
    xc = tf.clip_by_value(x, -1.0, tf.cast(w, x.dtype))
    yc = tf.clip_by_value(y, -1.0, tf.cast(h, y.dtype))
    x0f, y0f = tf.floor(xc), tf.floor(yc)
    fx = tf.cast(xc - x0f, dtype)[..., None]
    fy = tf.cast(yc - y0f, dtype)[..., None]
    x0, y0 = tf.cast(x0f, tf.int32), tf.cast(y0f, tf.int32)
    b = tf.range(n)[:, None]
    flat = tf.reshape(images, [-1, c])

    def tap(dy: int, dx: int) -> tf.Tensor:
        row, col = y0 + dy, x0 + dx
        inside = (row >= 0) & (row < h) & (col >= 0) & (col < w)
        idx = _flat_index(b, tf.clip_by_value(row, 0, h - 1), tf.clip_by_value(col, 0, w - 1), h, w)
        return tf.gather(flat, idx) * tf.cast(inside, dtype)[..., None]

    @tf.custom_gradient
    def interpolate(images, x, y):
        v00, v01, v10, v11 = tap(0, 0), tap(0, 1), tap(1, 0), tap(1, 1)
        top = v00 + (v01 - v00) * fx
        bottom = v10 + (v11 - v10) * fx
        out = top + (bottom - top) * fy

        def grad(g: tf.Tensor):
            slope_x = (v01 - v00) * (1.0 - fy) + (v11 - v10) * fy
            in_x = tf.cast((x >= -1.0) & (x <= tf.cast(w, x.dtype)), x.dtype)
            in_y = tf.cast((y >= -1.0) & (y <= tf.cast(h, y.dtype)), y.dtype)
            gx = tf.cast(tf.reduce_sum(g * slope_x, -1), x.dtype) * in_x
            gy = tf.cast(tf.reduce_sum(g * (bottom - top), -1), y.dtype) * in_y
            # One scatter of 4C-wide rows into a (H+2, W+2) grid of 2x2 neighbourhoods indexed
            # by their top-left tap (shifted by one so that tap -1 is row/column 0), then fold
            # the four taps back onto the pixels with shifted slices.
            gt, gb = g * (1.0 - fy), g * fy
            rows = tf.concat([gt * (1.0 - fx), gt * fx, gb * (1.0 - fx), gb * fx], -1)
            nb_idx = _flat_index(b, y0 + 1, x0 + 1, h + 2, w + 2)
            nb = tf.math.unsorted_segment_sum(
                tf.reshape(rows, [-1, 4 * c]), tf.reshape(nb_idx, [-1]), n * (h + 2) * (w + 2)
            )
            nb = tf.reshape(nb, [n, h + 2, w + 2, 4 * c])
            g00, g01, g10, g11 = tf.split(nb, 4, axis=-1)
            gimg = (
                g00[:, 1 : h + 1, 1 : w + 1]
                + g01[:, 1 : h + 1, :w]
                + g10[:, :h, 1 : w + 1]
                + g11[:, :h, :w]
            )
            return gimg, gx, gy

        return out, grad

    return interpolate(images, x, y)


def _nearest(images: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Nearest-neighbour core on flat grids; coordinates get no gradient."""
    shape = tf.shape(images)
    n, h, w, c = shape[0], shape[1], shape[2], shape[3]
    col = tf.cast(tf.floor(tf.stop_gradient(x) + 0.5), tf.int32)
    row = tf.cast(tf.floor(tf.stop_gradient(y) + 0.5), tf.int32)
    inside = (row >= 0) & (row < h) & (col >= 0) & (col < w)
    idx = _flat_index(
        tf.range(n)[:, None], tf.clip_by_value(row, 0, h - 1), tf.clip_by_value(col, 0, w - 1), h, w
    )
    return tf.gather(tf.reshape(images, [-1, c]), idx) * tf.cast(inside, images.dtype)[..., None]


def _sample(images: tf.Tensor, x: tf.Tensor, y: tf.Tensor, nearest: bool) -> tf.Tensor:
    grid = tf.shape(x)[1:]
    flat_x = tf.reshape(x, [tf.shape(x)[0], -1])
    flat_y = tf.reshape(y, [tf.shape(y)[0], -1])
    out = (_nearest if nearest else _bilinear)(images, flat_x, flat_y)
    return tf.reshape(out, tf.concat([tf.shape(x)[:1], grid, tf.shape(images)[3:]], 0))


# One XLA program per input shape; shapes are traced generically to avoid Python retracing.
_sample_xla = tf.function(_sample, jit_compile=True, reduce_retracing=True)


def _static_gradient(t: tf.Tensor) -> tf.Tensor:
    """`t`, with its gradient given `t`'s static shape back.

    `_sample_xla` is one trace cache shared by every caller in the process: once it has seen two
    image shapes (say 3 and then 1 channels), `reduce_retracing` relaxes its trace to what they
    have in common, (None, None, None, None). The forward output keeps its static shape (the call
    is shape-inferred with the real inputs), but gradients come out of the relaxed backward
    function, e.g. (None, 16, 16, None) for (None, 16, 16, 1) images: a `tf.while_loop` that
    carries the input (PGD) then refuses the changed shape, or a layer needing its channels
    fails, depending only on what ran before in the process.
    """
    shape = t.shape

    @tf.custom_gradient
    def identity(value):
        return tf.identity(value), lambda g: tf.ensure_shape(tf.convert_to_tensor(g), shape)

    return identity(t)


def _run_sampler(images: tf.Tensor, x: tf.Tensor, y: tf.Tensor, nearest: bool, jit_compile: bool):
    if not jit_compile:
        return _sample(images, x, y, nearest=nearest)
    images, x, y = _static_gradient(images), _static_gradient(x), _static_gradient(y)
    return _sample_xla(images, x, y, nearest=nearest)


def _check_images(images) -> tf.Tensor:
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"images must be NHWC (rank 4); got shape {images.shape}")
    return images


def sample_bilinear(
    images: tf.Tensor, x: tf.Tensor, y: tf.Tensor, jit_compile: bool = True
) -> tf.Tensor:
    """Samples each image at its own pixel coordinates with bilinear interpolation.

    Pixel (i, j) of an image has its centre at x = j, y = i. Samples outside the image read
    zeros (a sample half a pixel outside gets half the border value). Differentiable with respect
    to the images and to both coordinates.

    Args:
        images: (B, H, W, C) float images.
        x: (B, ...) column coordinates in pixels, any grid shape after the batch axis.
        y: row coordinates in pixels, same shape as `x`.
        jit_compile: run under XLA (faster on CPU and GPU); False runs plain TF ops.

    Returns:
        (B, ..., C) samples, the grid shape of `x` followed by the channels.
    """
    images = _check_images(images)
    x, y = tf.cast(x, coordinate_dtype(images)), tf.cast(y, coordinate_dtype(images))
    return _run_sampler(images, x, y, False, jit_compile)


def sample_nearest(
    images: tf.Tensor, x: tf.Tensor, y: tf.Tensor, jit_compile: bool = True
) -> tf.Tensor:
    """Like `sample_bilinear` but reads the nearest pixel (halves round up); no coordinate grad."""
    images = _check_images(images)
    x, y = tf.cast(x, coordinate_dtype(images)), tf.cast(y, coordinate_dtype(images))
    return _run_sampler(images, x, y, True, jit_compile)


def _out_hw(out_size: int | tuple[int, int] | None, height: int, width: int) -> tuple[int, int]:
    if out_size is None:
        return height, width
    hw = (out_size, out_size) if not isinstance(out_size, (tuple, list)) else tuple(out_size)
    if len(hw) != 2 or any(int(v) != v or v < 1 for v in hw):
        raise ValueError(f"out_size={out_size!r} must be a positive int or (height, width)")
    return int(hw[0]), int(hw[1])


def affine_grid(
    theta: tf.Tensor, in_size: tuple[int, int], out_size: tuple[int, int], dtype=tf.float32
) -> tuple[tf.Tensor, tf.Tensor]:
    """Source pixel coordinates of an affine sampling grid (`align_corners=False` semantics).

    Args:
        theta: (B, ..., 2, 3) affine matrices mapping output normalised coordinates (x, y, 1)
            to source normalised coordinates.
        in_size: (H, W) of the source images.
        out_size: (Ho, Wo) of the sampled output.
        dtype: float dtype of the returned coordinates.

    Returns:
        (x, y) pixel coordinates, each of shape (B, ..., Ho, Wo).
    """
    (h, w), (ho, wo) = in_size, out_size
    theta = tf.cast(theta, dtype)
    # Work in pixel offsets from the centres so that the identity maps pixel j to exactly j.
    col = tf.range(wo, dtype=dtype)[None, :] - (wo - 1) / 2
    row = tf.range(ho, dtype=dtype)[:, None] - (ho - 1) / 2

    def source(axis: int, half: float) -> tf.Tensor:
        t = theta[..., axis, :, None, None]  # (..., 3, 1, 1) broadcasts over the grid
        shift = t[..., 0, :, :] * (col * (2 * half / wo)) + t[..., 1, :, :] * (
            row * (2 * half / ho)
        )
        return (half - 0.5) + (shift + t[..., 2, :, :] * half)

    return source(0, w / 2), source(1, h / 2)


def affine_grid_sample(
    images: tf.Tensor,
    theta: tf.Tensor,
    out_size: int | tuple[int, int] | None = None,
    jit_compile: bool = True,
) -> tf.Tensor:
    """Warps images with affine sampling grids, bilinear, zero outside the image.

    Args:
        images: (B, H, W, C) float images.
        theta: (B, 2, 3) matrices, or (B, K, 2, 3) for K transforms of each image. The
            identity [[1, 0, 0], [0, 1, 0]] returns the input exactly; a translation t moves the
            content by -t·W/2 pixels (the output reads from t half-sizes away).
        out_size: output (Ho, Wo) or a side; default the input size.
        jit_compile: run the sampler under XLA.

    Returns:
        (B, Ho, Wo, C), or (B, K, Ho, Wo, C) for K transforms.
    """
    images, theta = _check_images(images), tf.convert_to_tensor(theta)
    if theta.shape.rank not in (3, 4) or tuple(theta.shape[-2:]) != (2, 3):
        raise ValueError(f"theta must have shape (B, 2, 3) or (B, K, 2, 3); got {theta.shape}")
    h, w = images.shape[1], images.shape[2]
    if h is None or w is None:
        raise ValueError(f"images need a static height and width; got shape {images.shape}")
    x, y = affine_grid(theta, (h, w), _out_hw(out_size, h, w), coordinate_dtype(images))
    return sample_bilinear(images, x, y, jit_compile=jit_compile)


def theta_boxes(theta: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The region each theta samples: the image of the unit square [-1, 1]^2 under theta.

    Args:
        theta: (..., 2, 3) affine matrices.

    Returns:
        boxes (..., 4) as (x_min, y_min, x_max, y_max) and centres (..., 2) as (x, y), both in
        normalised image coordinates (identity gives (-1, -1, 1, 1) and (0, 0)).
    """
    theta = tf.convert_to_tensor(theta)
    linear, centre = theta[..., :2], theta[..., 2]
    # The box's half-extent along each output axis is the sum of |linear| along that row.
    half = tf.reduce_sum(tf.abs(linear), axis=-1)
    boxes = tf.concat([centre - half, centre + half], axis=-1)
    return boxes, centre


@keras.saving.register_keras_serializable(package="models")
class SpatialTransformer(keras.layers.Layer):
    """Keras layer: `(images, theta) -> affine_grid_sample(images, theta, out_size)`.

    Args:
        out_size: output side or (height, width); None keeps the input size.
        jit_compile: run the sampler under XLA.
    """

    def __init__(
        self, out_size: int | tuple[int, int] | None = None, jit_compile: bool = True, **kwargs
    ):
        kwargs.setdefault("autocast", False)  # gazes/theta stay float32 under mixed precision
        super().__init__(**kwargs)
        if out_size is not None:
            out_size = _out_hw(out_size, 1, 1)
            out_size = out_size[0] if out_size[0] == out_size[1] else out_size
        self.out_size = out_size
        self.jit_compile = jit_compile

    def call(self, inputs):
        images, theta = inputs
        images = keras.ops.cast(images, self.compute_dtype)
        return affine_grid_sample(images, theta, self.out_size, self.jit_compile)

    def compute_output_shape(self, input_shape):
        (n, h, w, c), theta_shape = input_shape
        ho, wo = _out_hw(self.out_size, h, w) if self.out_size is not None else (h, w)
        return (n, *theta_shape[1:-2], ho, wo, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "out_size": self.out_size, "jit_compile": self.jit_compile}

"""Property tests for gaze crops, the ECNN lowpass and the cortical scales (models/crops.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from models.crops import (
    CorticalViews,
    GazeCrop,
    cortical_scales,
    cortical_views,
    gaussian_kernel_1d,
    gaze_crop,
    lowpass_subsample,
)


def _images(shape, seed=0, dtype=tf.float32):
    return tf.constant(np.random.default_rng(seed).uniform(size=shape), dtype)


@pytest.mark.parametrize("sampling", ["nearest", "bilinear"])
@pytest.mark.parametrize("side, size", [(12, 6), (11, 4)])
def test_centre_gaze_gives_the_central_crop(sampling, side, size):
    images = _images((2, side, side, 3))
    out = gaze_crop(images, tf.zeros((2, 2)), size, sampling)
    start = (side - size) // 2
    central = images[:, start : start + size, start : start + size]
    if sampling == "nearest" or (side - size) % 2 == 0:
        np.testing.assert_array_equal(out, central)
    else:  # the exact centre lies between pixels: the average of two neighbouring crops
        shifted = images[:, start + 1 : start + 1 + size, start + 1 : start + 1 + size]
        mixed = images[:, start : start + size, start + 1 : start + 1 + size]
        mixed2 = images[:, start + 1 : start + 1 + size, start : start + size]
        np.testing.assert_allclose(out, (central + shifted + mixed + mixed2) / 4, atol=1e-6)


def test_gaze_moves_the_crop_by_whole_pixels_and_pads_with_zeros():
    images = _images((1, 12, 12, 1), seed=1)
    gazes = tf.constant([[2 / 6, -1 / 6], [5 / 6, 0.0]])  # (+2, -1) px; (+5, 0) px
    out = gaze_crop(tf.tile(images, [2, 1, 1, 1]), gazes, 6)
    np.testing.assert_array_equal(out[0], images[0, 2:8, 5:11])
    np.testing.assert_array_equal(out[1, :, :4], images[0, 3:9, 8:12])
    np.testing.assert_array_equal(out[1, :, 4:], np.zeros((6, 2, 1)))


def test_crop_gradients():
    images = _images((2, 12, 12, 3), seed=2)
    gazes = tf.constant([[0.1, -0.3], [0.0, 0.25]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([images, gazes])
        near = tf.reduce_sum(gaze_crop(images, gazes, 5) ** 2)
        bil = tf.reduce_sum(gaze_crop(images, gazes, 5, "bilinear") ** 2)
    grad_images = tape.gradient(near, images).numpy()
    assert np.all(np.isfinite(grad_images)) and np.count_nonzero(grad_images) == 2 * 25 * 3
    assert tape.gradient(near, gazes) is None
    assert np.all(np.isfinite(tape.gradient(bil, gazes)))


@pytest.mark.parametrize("radius", [1, 2, 3, 6])
def test_kernel_sums_to_one_with_4r_plus_1_taps(radius):
    kernel = gaussian_kernel_1d(radius)
    assert kernel.shape == (4 * radius + 1,)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(kernel, kernel[::-1])


@pytest.mark.parametrize("radius", [1, 2, 4])
def test_lowpass_matches_scipy_then_subsample(radius):
    images = _images((1, 16, 16, 2), seed=3, dtype=tf.float64)
    out = lowpass_subsample(images, radius).numpy()
    start = radius // 2
    for c in range(2):
        ref = ndimage.gaussian_filter(images[0, ..., c].numpy(), radius / 2, mode="constant")
        np.testing.assert_allclose(out[0, ..., c], ref[start::radius, start::radius], atol=1e-12)
    assert out.shape == (1, 16 // radius, 16 // radius, 2)


def test_lowpass_preserves_a_constant_away_from_borders():
    images = tf.fill((1, 24, 24, 3), 0.7)
    out = lowpass_subsample(images, 2).numpy()  # 9 taps: 4 px border reach -> 2 subsampled rows
    np.testing.assert_allclose(out[0, 2:-2, 2:-2], 0.7, rtol=1e-6)
    assert np.all(out[0, 0, :] < 0.7)  # zero borders darken the edge


@pytest.mark.parametrize(
    "size, expected",
    [
        (320, ((40, 1), (80, 2), (160, 4), (240, 6))),
        (32, ((4, 1), (8, 2), (16, 4), (24, 6))),
        (40, ((5, 1), (10, 2), (20, 4), (30, 6))),
        (640, ((80, 2), (160, 4), (320, 8), (480, 12))),
    ],
)
def test_cortical_scales(size, expected):
    scales = cortical_scales(size)
    assert scales == expected
    assert len({crop // radius for crop, radius in scales}) == 1


@pytest.mark.parametrize("size", [30, 8, 100])
def test_cortical_scales_reject_bad_sides(size):
    with pytest.raises(ValueError, match=f"got {size}"):
        cortical_scales(size)


def test_cortical_views_at_320_are_40x40():
    images = _images((1, 320, 320, 3), seed=4)
    views = cortical_views(images, tf.constant([[0.1, -0.1]]), cortical_scales(320))
    assert [tuple(v.shape) for v in views] == [(1, 40, 40, 3)] * 4


def test_layers_round_trip_through_their_config():
    images, gazes = keras.Input((32, 32, 3)), keras.Input((2,))
    crop = GazeCrop(12, sampling="bilinear", name="crop")
    cortex = CorticalViews(name="cortex")
    model = keras.Model([images, gazes], [crop([images, gazes]), *cortex([images, gazes])])
    assert cortex.scales == cortical_scales(32)
    clone = keras.Model.from_config(model.get_config())
    x = _images((2, 32, 32, 3), seed=5)
    g = tf.constant([[0.2, -0.1], [0.0, 0.5]])
    for got, want in zip(clone([x, g]), model([x, g]), strict=True):
        np.testing.assert_array_equal(got, want)
    for layer in (crop, cortex):
        copy = type(layer).from_config(layer.get_config())
        assert copy.get_config() == layer.get_config()
        for got, want in zip(
            tf.nest.flatten(copy([x, g])), tf.nest.flatten(layer([x, g])), strict=True
        ):
            np.testing.assert_array_equal(got, want)

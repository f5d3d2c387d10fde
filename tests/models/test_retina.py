"""Property tests for the retinal warp (models/retina.py): the fit, the fovea, gradients, layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.retina import RetinalWarp, fit_retina_coefficients, retinal_coordinates, retinal_warp

A9, B9 = fit_retina_coefficients(9)


def _images(shape, seed=0, dtype=tf.float64):
    return tf.constant(np.random.default_rng(seed).uniform(size=shape), dtype)


@pytest.mark.parametrize(
    "size, a, b",
    [(320, 0.0030395, 0.49240), (32, 0.034488, 0.52640), (40, 0.026831, 0.51827)],
)
def test_coefficients_reproduce_the_original_fit(size, a, b):
    fitted_a, fitted_b = fit_retina_coefficients(size)
    assert fitted_a == pytest.approx(a, rel=2e-4)
    assert fitted_b == pytest.approx(b, rel=2e-4)
    assert fit_retina_coefficients(size) is fit_retina_coefficients(size)  # cached


def test_bad_size_and_sampling_are_rejected():
    with pytest.raises(ValueError, match="size=2"):
        fit_retina_coefficients(2)
    with pytest.raises(ValueError, match="bicubic"):
        retinal_warp(_images((1, 8, 8, 1)), tf.zeros((1, 2), tf.float64), A9, B9, "bicubic")


@pytest.mark.parametrize("sampling", ["bilinear", "nearest"])
def test_centre_gaze_keeps_the_fovea_pixel(sampling):
    images = _images((2, 9, 9, 3))  # odd side: the centre is a pixel
    out = retinal_warp(images, tf.zeros((2, 2), tf.float64), A9, B9, sampling)
    np.testing.assert_array_equal(out[:, 4, 4], images[:, 4, 4])


@pytest.mark.parametrize("col, row", [(4, 4), (6, 1), (0, 7), (2, 5)])
def test_nearest_and_bilinear_agree_where_the_gaze_lands_on_a_pixel(col, row):
    # Side 8, half-size 4: gaze (k + 0.5) / 4 - 1 is exactly pixel k. The output pixel at the gaze
    # reads the source pixel at the gaze (r = r' = 0) with weight 1 in both samplers.
    images = _images((1, 8, 8, 2), seed=col + 8 * row)
    gazes = tf.constant([[(col + 0.5) / 4 - 1, (row + 0.5) / 4 - 1]], tf.float64)
    a, b = fit_retina_coefficients(8)
    near = retinal_warp(images, gazes, a, b, "nearest")
    bil = retinal_warp(images, gazes, a, b, "bilinear")
    np.testing.assert_array_equal(near[0, row, col], images[0, row, col])
    np.testing.assert_array_equal(bil[0, row, col], images[0, row, col])


def test_samplers_agree_on_the_lattice_where_sources_are_whole_pixels():
    # With a linear map r' = r/2 (a=0, b=0.5) around a gaze on pixel (3, 5), every output pixel at
    # an even offset from the gaze reads a whole source pixel, so both samplers must agree there.
    images = _images((1, 12, 12, 1), seed=3)
    gazes = tf.constant([[(5 + 0.5) / 6 - 1, (3 + 0.5) / 6 - 1]], tf.float64)
    near = retinal_warp(images, gazes, 0.0, 0.5, "nearest").numpy()
    bil = retinal_warp(images, gazes, 0.0, 0.5, "bilinear").numpy()
    np.testing.assert_allclose(bil[0, 1::2, 1::2], near[0, 1::2, 1::2], atol=1e-12)
    np.testing.assert_allclose(bil[0, 3, 5], images[0, 3, 5])
    np.testing.assert_allclose(bil[0, 5, 7], images[0, 4, 6])


def test_identity_map_returns_the_image_for_any_gaze():
    images = _images((2, 8, 8, 3), seed=1)
    gazes = tf.constant([[0.3, -0.7], [-0.45, 0.2]], tf.float64)
    for sampling in ("bilinear", "nearest"):
        out = retinal_warp(images, gazes, 0.0, 1.0, sampling)
        np.testing.assert_allclose(out, images, atol=1e-12)


def test_far_periphery_is_black():
    images = tf.ones((1, 32, 32, 1), tf.float64)
    out = retinal_warp(images, tf.zeros((1, 2), tf.float64), *fit_retina_coefficients(32))
    assert float(tf.reduce_max(out[0, :2, :2])) == 0.0  # corners map outside the image
    assert float(tf.reduce_min(out[0, 8:24, 8:24])) == 1.0


def _loss_weights(shape, seed=7):
    return tf.constant(np.random.default_rng(seed).normal(size=shape), tf.float64)


@pytest.mark.parametrize("gaze_shape", [(2, 2), (2, 3, 2)])
def test_bilinear_gaze_gradient_matches_finite_differences(gaze_shape):
    images = _images((2, 10, 10, 2), seed=2)
    gazes = tf.constant(np.random.default_rng(5).uniform(-0.6, 0.6, gaze_shape), tf.float64)
    a, b = fit_retina_coefficients(10)
    weights = _loss_weights((*gaze_shape[:-1], 10, 10, 2))

    def loss(g):
        return tf.reduce_sum(retinal_warp(images, g, a, b) * weights)

    with tf.GradientTape() as tape:
        tape.watch(gazes)
        value = loss(gazes)
    grad = tape.gradient(value, gazes).numpy()
    eps, numeric = 1e-6, np.zeros(gaze_shape)
    for index in np.ndindex(*gaze_shape):
        step = np.zeros(gaze_shape)
        step[index] = eps
        numeric[index] = (loss(gazes + step) - loss(gazes - step)).numpy() / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    assert np.all(np.abs(grad) > 0)


@pytest.mark.parametrize("sampling", ["bilinear", "nearest"])
def test_image_gradients_are_finite_and_non_zero(sampling):
    images = _images((2, 9, 9, 3), dtype=tf.float32)
    gazes = tf.constant([[0.0, 0.0], [0.25, -0.5]])  # includes r = 0 at the first fovea
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([images, gazes])
        loss = tf.reduce_sum(retinal_warp(images, gazes, A9, B9, sampling) ** 2)
    grad_images, grad_gazes = tape.gradient(loss, [images, gazes])
    assert np.all(np.isfinite(grad_images)) and np.any(grad_images.numpy() != 0)
    if sampling == "nearest":
        assert grad_gazes is None
    else:
        assert np.all(np.isfinite(grad_gazes)) and np.all(grad_gazes.numpy() != 0)


def test_bilinear_image_gradient_is_the_transpose_of_the_warp():
    images = _images((1, 8, 8, 1), seed=4)
    gazes = tf.constant([[0.2, -0.3]], tf.float64)
    a, b = fit_retina_coefficients(8)
    cotangent = _loss_weights((1, 8, 8, 1), seed=9)
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = retinal_warp(images, gazes, a, b)
    grad = tape.gradient(out, images, output_gradients=cotangent)
    # <W x, c> = <x, W^T c> for the linear warp W; check against an explicit matrix.
    basis = tf.reshape(tf.eye(64, dtype=tf.float64), (64, 8, 8, 1))
    matrix = tf.reshape(retinal_warp(basis, tf.tile(gazes, [64, 1]), a, b), (64, 64))
    expected = tf.linalg.matvec(matrix, tf.reshape(cotangent, [-1]))
    np.testing.assert_allclose(tf.reshape(grad, [-1]), expected, atol=1e-12)


def test_multi_gaze_equals_one_warp_per_gaze_and_plain_tf_equals_xla():
    images = _images((2, 8, 8, 3), seed=6)
    gazes = tf.constant([[[0.1, 0.2], [-0.5, 0.4]], [[0.0, 0.0], [0.6, -0.6]]], tf.float64)
    a, b = fit_retina_coefficients(8)
    multi = retinal_warp(images, gazes, a, b)
    assert multi.shape == (2, 2, 8, 8, 3)
    for k in range(2):
        np.testing.assert_allclose(multi[:, k], retinal_warp(images, gazes[:, k], a, b), atol=1e-12)
    plain = retinal_warp(images, gazes, a, b, jit_compile=False)
    np.testing.assert_allclose(plain, multi, atol=1e-12)


def test_coordinates_put_the_fovea_at_the_gaze():
    # Side 8: gaze x = 0.125 is column 3.5 + 0.5 = 4, gaze y = -0.625 is row 3.5 - 2.5 = 1.
    gazes = tf.constant([[0.125, -0.625]], tf.float64)
    x, y = retinal_coordinates(gazes, 8, 8, A9, B9, tf.float64)
    assert (x[0, 1, 4].numpy(), y[0, 1, 4].numpy()) == (4.0, 1.0)


@pytest.mark.parametrize("sampling", ["bilinear", "nearest"])
def test_layer_round_trips_through_its_config(sampling):
    images = keras.Input((9, 9, 3))
    gazes = keras.Input((2,))
    layer = RetinalWarp(sampling=sampling, name="retina")
    model = keras.Model([images, gazes], layer([images, gazes]))
    assert (layer.a, layer.b) == fit_retina_coefficients(9)
    clone = keras.Model.from_config(model.get_config())
    copy = RetinalWarp.from_config(layer.get_config())
    x = _images((2, 9, 9, 3), dtype=tf.float32)
    g = tf.constant([[0.1, -0.2], [0.3, 0.0]])
    expected = model([x, g])
    np.testing.assert_array_equal(clone([x, g]), expected)
    np.testing.assert_array_equal(copy([x, g]), expected)
    assert copy.get_config() == layer.get_config()

"""Property tests for the samplers and the spatial transformer (models/stn.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.stn import (
    SpatialTransformer,
    affine_grid_sample,
    sample_bilinear,
    sample_nearest,
    theta_boxes,
)

IDENTITY = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def _images(shape, seed=0, dtype=tf.float32):
    return tf.constant(np.random.default_rng(seed).uniform(size=shape), dtype)


def _theta(*rows, batch=1, dtype=tf.float32):
    return tf.constant(np.tile(np.asarray(rows, np.float64)[None], (batch, 1, 1)), dtype)


@pytest.mark.parametrize("shape", [(2, 8, 8, 3), (1, 6, 10, 2)])
def test_identity_theta_returns_the_input_exactly(shape):
    images = _images(shape)
    out = affine_grid_sample(images, _theta(*IDENTITY, batch=shape[0]))
    np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize("shift", [1, 3, -2])
def test_translation_shifts_by_the_expected_pixels(shift):
    images = _images((1, 8, 8, 1), seed=1)
    t = 2 * shift / 8  # half-size units: one pixel is 2/8
    along_x = affine_grid_sample(images, _theta([1, 0, t], [0, 1, 0]))[0, ..., 0].numpy()
    along_y = affine_grid_sample(images, _theta([1, 0, 0], [0, 1, t]))[0, ..., 0].numpy()
    source = images[0, ..., 0].numpy()
    expected_x = np.zeros_like(source)
    expected_y = np.zeros_like(source)
    if shift > 0:
        expected_x[:, :-shift], expected_y[:-shift] = source[:, shift:], source[shift:]
    else:
        expected_x[:, -shift:], expected_y[-shift:] = source[:, :shift], source[:shift]
    np.testing.assert_allclose(along_x, expected_x, atol=1e-6)
    np.testing.assert_allclose(along_y, expected_y, atol=1e-6)


def test_half_scale_with_half_output_is_the_central_crop():
    images = _images((2, 8, 8, 3), seed=2)
    out = affine_grid_sample(images, _theta([0.5, 0, 0], [0, 0.5, 0], batch=2), out_size=4)
    np.testing.assert_allclose(out, images[:, 2:6, 2:6], atol=1e-6)


def test_samples_outside_read_zero_padding():
    images = tf.ones((1, 4, 4, 1))
    x = tf.constant([[-0.5, -1.0, -3.0, 3.5, 1.5]])
    out = sample_bilinear(images, x, tf.ones_like(x))[0, :, 0].numpy()
    np.testing.assert_allclose(out, [0.5, 0.0, 0.0, 0.5, 1.0])


def test_boxes_of_identity_and_of_a_scaled_shift():
    boxes, centres = theta_boxes(_theta(*IDENTITY))
    np.testing.assert_array_equal(boxes, [[-1, -1, 1, 1]])
    np.testing.assert_array_equal(centres, [[0, 0]])
    boxes, centres = theta_boxes(_theta([0.5, 0, 0.25], [0, -0.25, -0.5]))
    np.testing.assert_allclose(boxes, [[-0.25, -0.75, 0.75, -0.25]])
    np.testing.assert_allclose(centres, [[0.25, -0.5]])


def test_theta_gradient_matches_finite_differences():
    images = _images((2, 6, 6, 2), seed=3, dtype=tf.float64)
    theta = tf.constant(
        [[[0.7, 0.1, 0.2], [-0.2, 0.8, -0.1]], [[0.9, 0.0, -0.3], [0.1, 0.6, 0.25]]], tf.float64
    )
    weights = tf.constant(np.random.default_rng(4).normal(size=(2, 5, 7, 2)))

    def loss(t):
        return tf.reduce_sum(affine_grid_sample(images, t, out_size=(5, 7)) * weights)

    with tf.GradientTape(persistent=True) as tape:
        tape.watch([images, theta])
        value = loss(theta)
    grad, grad_images = tape.gradient(value, [theta, images])
    eps, numeric = 1e-6, np.zeros((2, 2, 3))
    for index in np.ndindex(2, 2, 3):
        step = np.zeros((2, 2, 3))
        step[index] = eps
        numeric[index] = (loss(theta + step) - loss(theta - step)).numpy() / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    assert np.all(np.isfinite(grad_images)) and np.any(grad_images.numpy() != 0)


def test_several_thetas_per_image_equal_one_call_each():
    images = _images((2, 8, 8, 3), seed=5)
    theta = tf.constant(np.random.default_rng(6).uniform(-0.8, 0.8, (2, 3, 2, 3)), tf.float32)
    out = affine_grid_sample(images, theta)
    assert out.shape == (2, 3, 8, 8, 3)
    for k in range(3):
        np.testing.assert_allclose(out[:, k], affine_grid_sample(images, theta[:, k]), atol=1e-6)
    np.testing.assert_allclose(out, affine_grid_sample(images, theta, jit_compile=False), atol=1e-6)


@pytest.mark.parametrize("sampler", [sample_bilinear, sample_nearest])
def test_gradients_keep_their_static_shape_whatever_the_sampler_traced_before(sampler):
    # The compiled sampler is one trace cache for the whole process: other callers' image shapes
    # relax its trace, and the gradients must not lose their static shape with it (a PGD loop
    # carrying the images refused (None, 8, 8, None) for (None, 8, 8, 1) images).
    for shape in [(2, 8, 8, 3), (3, 10, 6, 1), (1, 8, 8, 2)]:
        grid = tf.zeros((shape[0], 4, 5))
        sampler(_images(shape), grid, grid)
    spec = [tf.TensorSpec((None, 8, 8, 1)), tf.TensorSpec((None, 4, 5))]

    def grads(images, x, jit_compile=True):
        with tf.GradientTape() as tape:
            tape.watch([images, x])
            out = sampler(images, x, 7.0 - x, jit_compile=jit_compile)
            loss = tf.reduce_sum(out**2)
        zero = tf.UnconnectedGradients.ZERO
        return out, *tape.gradient(loss, [images, x], unconnected_gradients=zero)

    graph = tf.function(grads, input_signature=spec)
    out, grad_images, grad_x = graph.get_concrete_function().structured_outputs
    assert out.shape.as_list() == [None, 4, 5, 1]
    assert grad_images.shape.as_list() == [None, 8, 8, 1]
    assert grad_x.shape.as_list() == [None, 4, 5]
    images = _images((2, 8, 8, 1), seed=8)
    x = tf.constant(np.random.default_rng(9).uniform(-1.0, 8.0, (2, 4, 5)), tf.float32)
    for got, expected in zip(graph(images, x), grads(images, x, jit_compile=False), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_bad_theta_and_out_size_are_rejected():
    with pytest.raises(ValueError, match="theta must have shape"):
        affine_grid_sample(_images((1, 4, 4, 1)), tf.zeros((1, 6)))
    with pytest.raises(ValueError, match="out_size=0"):
        SpatialTransformer(out_size=0)


def test_layer_round_trips_through_its_config():
    images, theta = keras.Input((8, 8, 3)), keras.Input((2, 2, 3))
    layer = SpatialTransformer(out_size=[4, 6], name="stn")
    model = keras.Model([images, theta], layer([images, theta]))
    assert model.output.shape == (None, 2, 4, 6, 3)
    clone = keras.Model.from_config(model.get_config())
    copy = SpatialTransformer.from_config(layer.get_config())
    x = _images((2, 8, 8, 3))
    t = tf.constant(np.random.default_rng(7).uniform(-0.8, 0.8, (2, 2, 2, 3)), tf.float32)
    expected = model([x, t])
    np.testing.assert_array_equal(clone([x, t]), expected)
    np.testing.assert_array_equal(copy([x, t]), expected)
    assert copy.get_config() == layer.get_config()

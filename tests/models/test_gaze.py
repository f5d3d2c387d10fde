"""Gaze and theta heads: initial points, parameterisations, the L2 prior, and the localisers."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.gaze import (
    GAZE_PARAMS,
    GazeHead,
    ThetaBoxes,
    ThetaHead,
    initial_points,
    squash,
)
from models.localiser import localiser
from models.multi_gaze import MultiGazeConfig
from models.parallel_transformers import ParallelTransformersConfig
from models.soft_attention import SoftAttentionConfig

FEATURES = tf.random.stateless_normal((3, 7), seed=(1, 2))
IDENTITY = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32)


def test_centre_init_is_all_zeros_and_grid_spreads_k_distinct_points():
    np.testing.assert_array_equal(initial_points(4, "centre"), np.zeros((4, 2)))
    for k in range(1, 10):
        grid = initial_points(k, "grid")
        assert grid.shape == (k, 2)
        assert len({tuple(p) for p in grid.round(6)}) == k
        assert np.abs(grid).max() <= 0.5
        np.testing.assert_array_equal(grid[0], [0, 0])
    diagonals = {(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)}
    assert {tuple(p) for p in initial_points(5, "grid")[1:]} == diagonals  # the original's 5
    xs = np.unique(initial_points(9, "grid").round(6))
    np.testing.assert_array_equal(xs, [-0.5, 0, 0.5])  # K = 9 is a 3x3 grid


def test_random_init_is_seeded_and_inside_half_the_image():
    a, b = initial_points(6, "random", seed=3), initial_points(6, "random", seed=3)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= 0.5
    assert not np.allclose(a, initial_points(6, "random", seed=4))


@pytest.mark.parametrize("param", GAZE_PARAMS)
@pytest.mark.parametrize("init", ["centre", "grid", "random"])
def test_initial_gazes_sit_exactly_at_the_init_points_for_every_parameterisation(param, init):
    head = GazeHead(5, gaze_param=param, gaze_init=init, seed=1)
    gazes = head(FEATURES).numpy()
    assert gazes.shape == (3, 5, 2)
    assert gazes.dtype == np.float32
    for g in gazes:  # the kernel starts at zero: the same gazes for every image
        np.testing.assert_allclose(g, initial_points(5, init, seed=1), atol=1e-6)


def test_clip_ste_keeps_a_gradient_where_tanh_saturates():
    z = tf.constant([-8.0, -3.0, 3.0, 8.0])
    grads = {}
    for param in GAZE_PARAMS:
        with tf.GradientTape() as tape:
            tape.watch(z)
            out = squash(z, param)
        grads[param] = tape.gradient(out, z).numpy()
        assert np.abs(out.numpy()).max() <= 1.0
    np.testing.assert_array_equal(squash(z, "clip_ste"), [-1, -1, 1, 1])
    np.testing.assert_array_equal(grads["clip_ste"], np.ones(4))  # straight through
    assert np.abs(grads["tanh"]).max() < 1e-2  # tanh'(3) = 0.0099: ±1 is absorbing
    assert (grads["scaled_tanh"] > 10 * grads["tanh"]).all()  # saturates later


@pytest.mark.parametrize("restricted", [True, False])
def test_theta_head_starts_at_an_exact_identity_with_unit_boxes(restricted):
    theta = ThetaHead(3, restricted=restricted)(FEATURES).numpy()
    assert theta.shape == (3, 3, 2, 3)
    np.testing.assert_array_equal(theta, np.broadcast_to(IDENTITY, theta.shape))
    boxes, centres = ThetaBoxes()(theta)
    np.testing.assert_array_equal(boxes, np.broadcast_to([-1, -1, 1, 1], (3, 3, 4)))
    np.testing.assert_array_equal(centres, np.zeros((3, 3, 2)))


@pytest.mark.parametrize("param", GAZE_PARAMS)
def test_theta_grid_init_translates_unit_boxes_to_the_grid(param):
    theta = ThetaHead(5, restricted=True, gaze_param=param, gaze_init="grid")(FEATURES).numpy()
    points = initial_points(5, "grid")
    np.testing.assert_allclose(theta[0, :, :, 2], points, atol=1e-6)
    np.testing.assert_allclose(theta[0, :, :, :2], np.broadcast_to(np.eye(2), (5, 2, 2)))
    assert theta[0, :, 0, 1].tolist() == [0] * 5  # restricted: no shear or rotation


def test_gaze_l2_adds_exactly_its_weight_times_the_batch_mean_squared_norm():
    head = GazeHead(4, gaze_init="random", gaze_l2=0.01, seed=2)
    gazes = head(FEATURES)
    (loss,) = head.losses
    expected = 0.01 * np.mean(np.sum(gazes.numpy() ** 2, axis=(1, 2)))
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6)
    assert float(loss) > 0
    no_prior = GazeHead(4, gaze_init="random")
    no_prior(FEATURES)
    assert no_prior.losses == []
    theta_head = ThetaHead(2, gaze_init="grid", gaze_l2=0.5)
    theta = theta_head(FEATURES).numpy()
    expected = 0.5 * np.mean(np.sum(theta[..., 2] ** 2, axis=(1, 2)))  # box centres only
    np.testing.assert_allclose(theta_head.losses[0].numpy(), expected, rtol=1e-6)


def test_heads_round_trip_through_their_config():
    for head in (GazeHead(3, gaze_param="clip_ste", gaze_l2=0.1), ThetaHead(2, restricted=False)):
        clone = type(head).from_config(head.get_config())
        assert clone.get_config() == head.get_config()


@pytest.mark.parametrize(
    ("cfg_cls", "field", "value", "match"),
    [
        (MultiGazeConfig, "gaze_param", "sigmoid", "model.gaze_param='sigmoid'"),
        (MultiGazeConfig, "gaze_init", "corners", "model.gaze_init='corners'"),
        (MultiGazeConfig, "gaze_l2", -0.1, "model.gaze_l2=-0.1"),
        (MultiGazeConfig, "num_transformers", 0, "model.num_transformers=0"),
        (ParallelTransformersConfig, "localiser", "vgg", "model.localiser='vgg'"),
        (ParallelTransformersConfig, "localiser_width", -1, "model.localiser_width=-1"),
        (ParallelTransformersConfig, "shared", "yes", "model.shared='yes'"),
        (SoftAttentionConfig, "width", -1, "model.width=-1"),
    ],
)
def test_bad_config_values_name_the_field(cfg_cls, field, value, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(")):
        cfg_cls(**{field: value})


@pytest.mark.parametrize(("kind", "features"), [("small_cnn", 20), ("resnet20", 32)])
def test_localisers_return_pooled_features(kind, features):
    net = localiser((32, 32, 3), kind=kind, width=0 if kind == "small_cnn" else 8, blocks=1)
    assert net(tf.zeros((2, 32, 32, 3))).shape == (2, features)


def test_small_cnn_rejects_inputs_its_valid_convs_cannot_fit():
    with pytest.raises(ValueError, match="at least 16x16"):
        localiser((12, 12, 3), kind="small_cnn")

"""Learned-attention families: what they look at initially, that the gazes learn through the
samplers, the gaze prior, shared branches, and one training step."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models.gaze import initial_points
from models.multi_gaze import MultiGazeConfig
from models.parallel_transformers import ParallelTransformersConfig
from models.soft_attention import SoftAttentionConfig
from trial.config import TrialConfig

SHAPE = (32, 32, 3)
X = tf.random.stateless_uniform((2, *SHAPE), seed=(3, 4))


def _logit_weights(num_classes: int = 10) -> tf.Tensor:
    return tf.random.stateless_normal((num_classes,), seed=(5, 6))


def test_soft_attention_starts_as_the_identity_so_it_classifies_the_input_itself():
    model = models.build(SoftAttentionConfig.tiny(), SHAPE, 10)
    out = model(X)
    assert out["theta"].shape == (2, 1, 2, 3)
    assert out["boxes"].shape == (2, 1, 4)
    assert out["gazes"].shape == (2, 1, 2)
    assert all(out[k].dtype == tf.float32 for k in ("theta", "boxes", "gazes", "logits"))
    identity = np.broadcast_to([[1, 0, 0], [0, 1, 0]], (2, 1, 2, 3))
    np.testing.assert_array_equal(out["theta"], identity)
    np.testing.assert_array_equal(out["boxes"], np.broadcast_to([-1, -1, 1, 1], (2, 1, 4)))
    np.testing.assert_array_equal(out["gazes"], np.zeros((2, 1, 2)))
    np.testing.assert_array_equal(model.get_layer("stn")([X, out["theta"]])[:, 0], X)
    direct = model.get_layer("logits")(model.get_layer("backbone_0")(X))
    np.testing.assert_allclose(out["logits"], direct, rtol=1e-5, atol=1e-5)


def test_parallel_transformers_expose_k_thetas_boxes_and_their_centres():
    model = models.build(ParallelTransformersConfig.tiny(), SHAPE, 10)  # K = 2, grid init
    out = model(X)
    assert (out["theta"].shape, out["boxes"].shape, out["gazes"].shape) == (
        (2, 2, 2, 3),
        (2, 2, 4),
        (2, 2, 2),
    )
    points = initial_points(2, "grid")  # the centre and (-0.5, -0.5)
    np.testing.assert_allclose(out["gazes"][0], points, atol=1e-6)
    np.testing.assert_allclose(out["boxes"][1], np.concatenate([points - 1, points + 1], -1))
    assert not models.is_random_at_inference(ParallelTransformersConfig())
    np.testing.assert_array_equal(model(X)["logits"], out["logits"])


@pytest.mark.parametrize(
    ("cfg", "head"),
    [(MultiGazeConfig.tiny(), "gazes"), (ParallelTransformersConfig.tiny(), "theta")],
)
def test_the_classification_loss_reaches_the_gaze_through_the_sampler(cfg, head):
    model = models.build(cfg, SHAPE, 10)
    bias = model.get_layer(head).bias
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(X, training=True)["logits"] * _logit_weights())
    grad = tape.gradient(loss, bias).numpy()
    assert np.isfinite(grad).all()
    # Per branch: the gaze (x, y), or the restricted theta's translations [sx, tx, sy, ty][1::2].
    per_gaze = grad.reshape(2, 2) if head == "gazes" else grad.reshape(2, 4)[:, 1::2]
    assert (np.abs(per_gaze).sum(axis=1) > 0).all(), "a gaze gets no gradient"


def test_multi_gaze_init_and_the_exact_l2_prior_in_model_losses():
    cfg = MultiGazeConfig.tiny()  # grid init, gaze_l2 = 0.01
    model = models.build(cfg, SHAPE, 10)
    out = model(X)
    assert out["gazes"].shape == (2, 2, 2) and out["gazes"].dtype == tf.float32
    np.testing.assert_allclose(out["gazes"][1], initial_points(2, "grid"), atol=1e-6)
    (prior,) = model.losses
    expected = 0.01 * np.mean(np.sum(out["gazes"].numpy() ** 2, axis=(1, 2)))
    np.testing.assert_allclose(prior.numpy(), expected, rtol=1e-6)
    assert not models.is_random_at_inference(cfg)
    centre = models.build(dataclasses.replace(cfg, gaze_init="centre"), SHAPE, 10)
    np.testing.assert_array_equal(centre(X)["gazes"], np.zeros((2, 2, 2)))


def test_clip_ste_gaze_at_the_image_corner_still_learns():
    model = models.build(
        dataclasses.replace(MultiGazeConfig.tiny(), gaze_param="clip_ste"), SHAPE, 10
    )
    bias = model.get_layer("gazes").bias
    bias.assign([5.0, 5.0, -4.0, 6.0])  # far outside [-1, 1]: gazes at corners (1, 1), (-1, 1)
    with tf.GradientTape() as tape:
        out = model(X, training=True)
        loss = tf.reduce_sum(out["logits"] * _logit_weights())  # no prior: the warp's gradient
    np.testing.assert_array_equal(out["gazes"][0], [[1, 1], [-1, 1]])
    grad = tape.gradient(loss, bias).numpy()
    assert (np.abs(grad) > 0).all(), "a clipped gaze lost its gradient"


def test_shared_branches_reuse_one_trunk_and_have_fewer_parameters():
    cfg = MultiGazeConfig.tiny()
    separate = models.build(cfg, SHAPE, 10)
    shared = models.build(dataclasses.replace(cfg, shared=True), SHAPE, 10)
    trunk = shared.get_layer("backbone")
    assert shared.count_params() < separate.count_params()
    assert shared.count_params() == separate.count_params() - trunk.count_params()
    out = shared(X)
    views = shared.get_layer("retina")([X, out["gazes"]])
    features = tf.concat([trunk(views[:, i]) for i in range(2)], axis=-1)
    expected = shared.get_layer("logits")(features)
    np.testing.assert_allclose(out["logits"], expected, rtol=1e-5, atol=1e-5)


def test_a_few_training_steps_have_finite_gradients_and_lower_the_loss():
    model = models.build(dataclasses.replace(MultiGazeConfig.tiny(), shared=True), SHAPE, 10)
    labels = tf.constant([1, 7])
    optimizer = keras.optimizers.Adam(1e-2)
    losses = []
    for _ in range(4):
        with tf.GradientTape() as tape:
            logits = model(X, training=True)["logits"]
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            ) + tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        bad = [v.path for v, g in zip(model.trainable_variables, grads, strict=True) if g is None]
        assert not bad, f"no gradient for {bad}"
        assert all(np.isfinite(g.numpy()).all() for g in grads)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def test_trial_config_accepts_the_attention_fields_by_their_dotted_names():
    cfg = TrialConfig.from_dict(
        {
            "model.kind": "parallel_transformers",
            "model.num_transformers": 3,
            "model.shared": "1",
            "model.gaze_param": "clip_ste",
            "model.gaze_l2": "0.01",
            "model.restricted_attention": False,
        }
    ).model
    assert (cfg.num_transformers, cfg.shared, cfg.gaze_param) == (3, True, "clip_ste")
    with pytest.raises(ValueError, match="model.gaze_init"):
        TrialConfig.from_dict({"model.kind": "multi_gaze", "model.gaze_init": "edges"})

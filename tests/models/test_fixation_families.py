"""Fixed-fixation families: random gazes in training, fixed ones at inference, and the views
they classify are exactly the crops/warps the front-ends produce."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import models
from models.coarse_fixations import CoarseFixationsConfig
from models.cortical import CorticalConfig
from models.fixations import FixationGazes, MeanOverViews
from models.retina import fit_retina_coefficients, retinal_warp
from models.retinal import RetinalConfig

SHAPE = (32, 32, 3)


def test_training_gazes_are_random_per_image_and_bounded():
    layer = FixationGazes(0.3, seed=1)
    gazes = layer(tf.zeros((64, *SHAPE)), training=True).numpy()
    assert gazes.shape == (64, 1, 2)
    assert np.abs(gazes).max() <= 0.3
    assert len(np.unique(gazes[:, 0, 0])) == 64  # one draw per image, not one per batch
    assert gazes.std() > 0.1


def test_inference_gazes_are_the_centre_or_the_original_ensemble():
    images = tf.zeros((2, *SHAPE))
    np.testing.assert_array_equal(FixationGazes(0.5)(images), np.zeros((2, 1, 2)))
    ensemble = FixationGazes(0.5, "ensemble5")(images).numpy()
    assert ensemble.shape == (2, 5, 2)
    assert {tuple(g) for g in ensemble[0]} == {
        (0, 0),
        (-0.5, 0.5),
        (0.5, -0.5),
        (-0.5, -0.5),
        (0.5, 0.5),
    }


def test_mean_over_views_averages_each_images_views():
    values = tf.constant(np.arange(12, dtype=np.float32).reshape(6, 2))  # B=2, K=3
    mean = MeanOverViews()([values, tf.zeros((2, 3, 2))]).numpy()
    np.testing.assert_allclose(mean, [[2, 3], [8, 9]])


@pytest.mark.parametrize(
    ("cfg", "random"),
    [
        (RetinalConfig(), False),
        (RetinalConfig(eval_gazes="random"), True),
        (CoarseFixationsConfig(eval_gazes="ensemble5"), False),
        (CorticalConfig(), False),
    ],
)
def test_random_at_inference_follows_eval_gazes(cfg, random):
    assert models.is_random_at_inference(cfg) is random


def test_deterministic_at_inference_random_in_training():
    model = models.build(RetinalConfig.tiny(), SHAPE, 10)
    x = tf.random.uniform((4, *SHAPE))
    np.testing.assert_array_equal(model(x)["logits"], model(x)["logits"])
    a, b = model(x, training=True)["gazes"], model(x, training=True)["gazes"]
    assert not np.allclose(a, b)


def test_coarse_model_classifies_the_central_crop():
    model = models.build(CoarseFixationsConfig.tiny(), SHAPE, 10)
    x = tf.random.uniform((2, *SHAPE))
    crop = 24  # 0.75 of 32
    start = (32 - crop) // 2
    central = x[:, start : start + crop, start : start + crop]
    expected = model.get_layer("logits")(model.get_layer("backbone")(central))
    np.testing.assert_allclose(model(x)["logits"], expected, rtol=1e-5, atol=1e-5)


def test_retinal_model_classifies_the_warped_image():
    cfg = RetinalConfig(backbone="resnet20", width=8, blocks=1, sampling="bilinear")
    model = models.build(cfg, SHAPE, 10)
    x = tf.random.uniform((2, *SHAPE))
    a, b = fit_retina_coefficients(32)
    warped = retinal_warp(x, tf.zeros((2, 2)), a, b, "bilinear")
    expected = model.get_layer("logits")(model.get_layer("backbone")(warped))
    np.testing.assert_allclose(model(x)["logits"], expected, rtol=1e-5, atol=1e-5)


def test_ensemble_logits_are_the_mean_of_the_single_gaze_logits():
    x = tf.random.uniform((2, *SHAPE))
    ens = models.build(
        CoarseFixationsConfig(
            eval_gazes="ensemble5", crop_fraction=0.75, backbone="resnet20", width=8, blocks=1
        ),
        SHAPE,
        10,
    )
    crop, slack = 24, 8
    singles = []
    for gx, gy in [(0, 0), (-0.25, 0.25), (0.25, -0.25), (-0.25, -0.25), (0.25, 0.25)]:
        left = round(slack / 2 + gx * 16)
        top = round(slack / 2 + gy * 16)
        view = x[:, top : top + crop, left : left + crop]
        singles.append(ens.get_layer("logits")(ens.get_layer("backbone")(view)))
    np.testing.assert_allclose(ens(x)["logits"], np.mean(singles, axis=0), rtol=1e-5, atol=1e-5)


def test_cortical_auxiliary_heads_and_pooling():
    model = models.build(CorticalConfig(width=8, blocks=1, auxiliary=True), (40, 40, 1), 7)
    out = model(tf.random.uniform((3, 40, 40, 1)))
    assert out["logits"].shape == (3, 7) and out["aux_logits"].shape == (3, 4, 7)
    for pooling in ("avg", "max"):
        cfg = CorticalConfig(width=8, blocks=1, pooling=pooling)
        assert models.build(cfg, (40, 40, 1), 7)(tf.zeros((1, 40, 40, 1)))["logits"].shape == (1, 7)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: RetinalConfig(sampling="cubic"), "model.sampling='cubic'"),
        (lambda: RetinalConfig(gaze_range=2.0), "model.gaze_range=2.0"),
        (lambda: CoarseFixationsConfig(crop_fraction=0.0), "model.crop_fraction=0.0"),
        (lambda: CorticalConfig(eval_gazes="all"), "model.eval_gazes='all'"),
        (lambda: CorticalConfig(pooling="sum"), "model.pooling='sum'"),
    ],
)
def test_bad_fields_are_named(make, needle):
    with pytest.raises(ValueError, match=needle):
        make()


def test_non_square_retinal_input_is_a_clear_error():
    with pytest.raises(ValueError, match="square"):
        models.build(RetinalConfig.tiny(), (32, 40, 3), 10)

"""Every registered attack stays in its threat model; the losses, projections and schedules have
the properties the attacks rely on; bad settings are refused with a message."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import attacks
from attacks import AttackConfig, Target, ThreatModel, losses
from attacks.apgd import checkpoint_lengths
from attacks.square import square_fraction
from tests.attacks.conftest import mlp_logits

SHAPE = (6, 5, 5, 1)
NORM_OF = {"square": ("linf",)}


def _build(name: str, target: Target, threat: ThreatModel):
    extra = {"surrogate": Target(mlp_logits(seed=9))} if name == "transfer" else {}
    effort = {"steps": 4} if name not in ("fgsm", "square", "original") else {}
    if name == "square":
        effort = {"queries": 30}
    if name == "apgd-t-dlr":
        effort["targets"] = 2
    return attacks.build(name, target, threat, seed=3, **effort, **extra)


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("name", attacks.names())
def test_every_attack_stays_in_its_ball_and_the_pixel_range(name, norm):
    if norm not in NORM_OF.get(name, ("linf", "l2")):
        with pytest.raises(ValueError, match="linf only"):
            _build(name, Target(mlp_logits()), ThreatModel(norm, 0.3))
        return
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, SHAPE).astype(np.float32)
    x[0] = 0.0  # corners of the pixel range
    x[1] = 1.0
    y = rng.integers(0, 4, len(x)).astype(np.int32)
    eps = 0.2 if norm == "linf" else 1.0
    threat = ThreatModel(norm, eps)
    attack = _build(name, Target(mlp_logits()), threat)
    assert isinstance(attack, attacks.Attack)
    assert attack.name == name and attack.threat == threat
    adv = np.asarray(attack(x, y))
    assert adv.shape == x.shape and adv.dtype == np.float32
    assert threat.distance(adv, x).max() <= eps + 1e-5
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    assert np.abs(adv - x).max() > 0, f"{name} did not move at all"


@settings(max_examples=20, deadline=None)
@given(
    scale=st.floats(0.01, 100.0),
    shift_ratio=st.floats(-100.0, 100.0),
    seed=st.integers(0, 1000),
)
def test_dlr_is_invariant_to_shifting_and_scaling_logits(scale, shift_ratio, seed):
    # The shift is bounded relative to the scale: float32 keeps about 7 digits, so a shift of
    # 16 on logits scaled by 0.01 already rounds their differences by 1e-4 (seen failing).
    shift = shift_ratio * scale
    rng = np.random.default_rng(seed)
    z = tf.constant(rng.normal(size=(5, 6)), tf.float32)
    y = tf.constant(rng.integers(0, 6, 5), tf.int32)
    t = tf.constant((y.numpy() + 1) % 6, tf.int32)
    for loss in (losses.dlr, losses.dlr_targeted):
        np.testing.assert_allclose(
            loss(z * scale + shift, y, t), loss(z, y, t), rtol=2e-3, atol=2e-4
        )


def test_margin_is_positive_exactly_on_errors():
    z = tf.constant([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    y = tf.constant([0, 0])
    np.testing.assert_allclose(losses.margin(z, y), [-1.0, 3.0])
    assert losses.dlr(z, y).numpy()[1] > 0 > losses.dlr(z, y).numpy()[0]


@settings(max_examples=15, deadline=None)
@given(norm=st.sampled_from(["linf", "l2"]), eps=st.floats(0.0, 2.0), seed=st.integers(0, 99))
def test_projection_lands_in_the_set_and_keeps_points_already_there(norm, eps, seed):
    eps = min(eps, 1.0) if norm == "linf" else eps
    threat = ThreatModel(norm, eps)
    rng = np.random.default_rng(seed)
    x0 = tf.constant(rng.uniform(0, 1, (3, 4, 4, 1)), tf.float32)
    far = x0 + tf.constant(rng.normal(0, 2, (3, 4, 4, 1)), tf.float32)
    inside = threat.project(far, x0)
    assert threat.distance(inside.numpy(), x0.numpy()).max() <= eps + 1e-5
    assert inside.numpy().min() >= 0 and inside.numpy().max() <= 1
    np.testing.assert_allclose(threat.project(inside, x0), inside, atol=1e-6)


def test_apgd_checkpoints_follow_autoattack():
    # 100 iterations: first checkpoint after 22, gaps shrink by 3 down to 6.
    assert checkpoint_lengths(100) == (22, 3, 6)
    assert checkpoint_lengths(10) == (2, 1, 1)


def test_square_shrinks_its_squares_on_autoattacks_schedule():
    fractions = [float(square_fraction(i, 10_000)) for i in (0, 10, 11, 51, 201, 8001)]
    assert fractions == pytest.approx([0.8, 0.8, 0.4, 0.2, 0.1, 0.8 / 512])
    assert float(square_fraction(50, 500)) == pytest.approx(0.8 / 16)  # rescaled to the budget


def test_pgd_reaches_the_linear_optimum():
    # Logit gap g(x) = v.x + 8 with every point classified correctly: the best L∞ move raises
    # g by exactly eps * ||v||_1, and the attack must climb all the way.
    rng = np.random.default_rng(1)
    v = rng.normal(size=(25,)).astype(np.float32)
    w = tf.constant(np.stack([np.zeros(25), v], 1), tf.float32)

    def fn(x):
        return tf.matmul(tf.reshape(x, [-1, 25]), w) + tf.constant([8.0, 0.0])

    x = rng.uniform(0.4, 0.6, (8, 5, 5, 1)).astype(np.float32)
    y = np.zeros(8, np.int32)
    for name in ("pgd", "pgd-margin", "apgd-ce"):
        adv = attacks.build(name, Target(fn), ThreatModel("linf", 0.05), steps=10)(x, y)
        gap = lambda z: (fn(z)[:, 1] - fn(z)[:, 0]).numpy()  # noqa: E731
        np.testing.assert_allclose(gap(adv), gap(x) + 0.05 * np.abs(v).sum(), rtol=1e-4)


def test_zero_budget_returns_the_input():
    x = np.full((2, 5, 5, 1), 0.5, np.float32)
    for name in ("pgd", "apgd-ce", "square", "fgsm"):
        adv = attacks.build(name, Target(mlp_logits()), ThreatModel("linf", 0.0))(x, [0, 1])
        np.testing.assert_array_equal(adv, x)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"eps": 8.0}, "attack.eps=8.0 must lie in \\[0, 1\\]"),
        ({"eps": -0.1, "norm": "l2"}, "attack.eps=-0.1 must be >= 0"),
        ({"norm": "l1"}, "attack.norm='l1' is not one of linf, l2"),
        ({"attacks": ("pgd", "fab")}, "'fab' is not a known attack; known: apgd-ce"),
        ({"attacks": ("original",)}, "reported on its own"),
        ({"steps": -2}, "attack.steps=-2 must be an integer >= 1"),
        ({"eot_samples": 0}, "attack.eot_samples=0 must be an integer >= 1"),
        ({"budget": "huge"}, "attack.budget='huge' is not one of smoke, demo, standard"),
        ({"eps_curve": (0.1, 2.0)}, "attack.eps_curve\\[1\\]=2.0 must lie in \\[0, 1\\]"),
        ({"norm": "l2", "eps": 0.5, "attacks": ("square",)}, "L-inf only"),
    ],
)
def test_bad_attack_configs_name_the_value_and_the_allowed_range(overrides, message):
    with pytest.raises(ValueError, match=message):
        AttackConfig(**overrides)


def test_budgets_and_overrides_shape_the_suite():
    assert AttackConfig(budget="standard").suite_names() == ["apgd-ce", "apgd-t-dlr", "square"]
    rand = AttackConfig(budget="standard")  # AutoAttack's "rand" version for random models
    assert rand.suite_names(random=True) == ["apgd-ce", "apgd-dlr", "square"]
    assert rand.settings("apgd-dlr", random=True) == {"steps": 100}
    assert "square" not in AttackConfig(norm="l2", eps=0.5).suite_names()
    cfg = AttackConfig(budget="demo", steps=7, transfer_from="runs/x")
    assert cfg.suite_names()[-1] == "transfer" and cfg.settings("apgd-ce")["steps"] == 7
    assert AttackConfig(attacks=("fgsm", "pgd")).suite_names() == ["fgsm", "pgd"]
    with pytest.raises(ValueError, match="steps=0 must be an integer >= 1"):
        attacks.build("pgd", Target(mlp_logits()), ThreatModel("linf", 0.1), steps=0)

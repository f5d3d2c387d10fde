"""PGD stays inside the threat model, finds the known optimum on linear models, and is at
least as strong as the Adversarial Robustness Toolbox's PGD on the same model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from attacks import Evaluation, LinfPGD, evaluate, per_example_loss


def linear_logits(weights: np.ndarray, bias: np.ndarray):
    w = tf.constant(weights, tf.float32)
    b = tf.constant(bias, tf.float32)

    def fn(x):
        return tf.matmul(tf.reshape(x, [tf.shape(x)[0], -1]), w) + b

    return fn


@settings(max_examples=8, deadline=None)
@given(eps=st.floats(0.0, 0.3), seed=st.integers(0, 100))
def test_adversarial_points_stay_in_the_ball_and_the_pixel_range(eps, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (4, 6, 6, 1)).astype(np.float32)
    y = rng.integers(0, 3, 4).astype(np.int32)
    fn = linear_logits(rng.normal(size=(36, 3)), np.zeros(3))
    x_adv = LinfPGD(fn, eps=eps, steps=3, restarts=2, seed=seed)(x, y).numpy()
    assert np.abs(x_adv - x).max() <= eps + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_zero_budget_returns_the_input():
    x = np.full((2, 4, 4, 1), 0.5, np.float32)
    fn = linear_logits(np.ones((16, 2)), np.zeros(2))
    np.testing.assert_array_equal(LinfPGD(fn, eps=0.0, steps=2)(x, np.zeros(2, np.int32)), x)


@pytest.mark.parametrize("loss", ["ce", "margin"])
def test_reaches_the_linear_optimum(loss):
    # Two classes, logit gap g(x) = (w1 - w0).x + b1 - b0; the best L-inf move raises it by
    # exactly eps * ||w1 - w0||_1 (no clipping: pixels sit mid-range). The bias keeps every
    # point correctly classified, so the attack must climb all the way instead of stopping at
    # its first success.
    rng = np.random.default_rng(1)
    w = rng.normal(size=(16, 2)).astype(np.float32)
    x = rng.uniform(0.4, 0.6, (8, 4, 4, 1)).astype(np.float32)
    y = np.zeros(8, np.int32)
    eps = 0.05
    fn = linear_logits(w, np.array([8.0, 0.0]))
    x_adv = LinfPGD(fn, eps=eps, steps=5, loss=loss, random_start=True, seed=3)(x, y)
    gap = lambda z: (fn(z)[:, 1] - fn(z)[:, 0]).numpy()  # noqa: E731
    expected = gap(x) + eps * np.abs(w[:, 1] - w[:, 0]).sum()
    np.testing.assert_allclose(gap(x_adv), expected, rtol=1e-4, atol=1e-4)


def test_more_restarts_never_weaken_the_attack():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (16, 5, 5, 1)).astype(np.float32)
    y = rng.integers(0, 4, 16).astype(np.int32)
    hidden = rng.normal(size=(25, 16)).astype(np.float32)
    out = rng.normal(size=(16, 4)).astype(np.float32)

    def fn(z):
        h = tf.tanh(tf.matmul(tf.reshape(z, [-1, 25]), hidden))
        return tf.matmul(h, out)

    one = LinfPGD(fn, eps=0.1, steps=3, restarts=1, seed=7)(x, y)
    three = LinfPGD(fn, eps=0.1, steps=3, restarts=3, seed=7)(x, y)
    loss = lambda z: per_example_loss(fn(z), tf.constant(y), "ce").numpy()  # noqa: E731
    wrong = lambda z: np.argmax(fn(z), -1) != y  # noqa: E731
    assert np.all(wrong(three) | ~wrong(one))
    keep = ~wrong(one)
    assert np.all(loss(three)[keep] >= loss(one)[keep] - 1e-5)


def test_bad_arguments_are_named():
    fn = linear_logits(np.ones((4, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="eps=8"):
        LinfPGD(fn, eps=8, steps=1)
    with pytest.raises(ValueError, match="loss='dlr'"):
        LinfPGD(fn, eps=0.1, steps=1, loss="dlr")


def test_evaluate_refuses_points_outside_the_ball():
    fn = linear_logits(np.ones((4, 2)), np.zeros(2))

    class Cheat:
        eps = 0.01

        def __call__(self, x, y):
            return tf.clip_by_value(tf.constant(x) + 0.5, 0.0, 1.0)

    x = np.zeros((2, 2, 2, 1), np.float32)
    with pytest.raises(RuntimeError, match="left the threat model"):
        evaluate(fn, Cheat(), x, np.zeros(2, np.int32), batch_size=2)


def test_robust_accuracy_counts_clean_mistakes_as_failures():
    result = Evaluation(np.array([True, True, False]), np.array([True, False, True]))
    assert result.clean_acc == pytest.approx(2 / 3)
    assert result.adv_acc == pytest.approx(1 / 3)


@pytest.fixture(scope="module")
def digits_model():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, "relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:1500], y[:1500], epochs=30, batch_size=64, verbose=0)
    return model, x[1500:1756], y[1500:1756]


def test_at_least_as_strong_as_art_pgd(digits_model):
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import TensorFlowV2Classifier

    model, x, y = digits_model
    eps, steps = 0.1, 10
    classifier = TensorFlowV2Classifier(
        model,
        nb_classes=10,
        input_shape=(8, 8, 1),
        clip_values=(0.0, 1.0),
        loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    art = ProjectedGradientDescent(
        classifier,
        norm=np.inf,
        eps=eps,
        eps_step=2.5 * eps / steps,
        max_iter=steps,
        num_random_init=1,
        verbose=False,
    )
    art_adv = art.generate(x, y=keras.ops.one_hot(y, 10).numpy())
    art_acc = float(np.mean(np.argmax(model(art_adv), -1) == y))
    clean_acc = float(np.mean(np.argmax(model(x), -1) == y))
    ours = evaluate(lambda z: model(z), LinfPGD(model, eps=eps, steps=steps, seed=0), x, y, 64)
    assert clean_acc > 0.8, "the oracle model did not train"
    assert ours.clean_acc == pytest.approx(clean_acc)
    assert art_acc < clean_acc - 0.2, "ART's attack did nothing: the comparison is void"
    assert ours.adv_acc <= art_acc + 0.02

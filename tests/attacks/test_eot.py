"""EOT attacks on a model random at inference, against a plain EOT-PGD written here.

The reference is the recipe anyone would write from Athalye et al. (2018): random start, sign
steps, cross-entropy, the gradient of the mean loss over draws taken by tiling the batch, every
example attacked for every step, and accuracy as the mean over fresh draws. It shares nothing
with `attacks/` but the model, and both are scored by the same fresh draws (`_fresh`).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from attacks import PGD, Target, ThreatModel
from attacks.config import AttackConfig
from attacks.suite import build, cascade
from tests.attacks.conftest import PixelDropout, digit_images, fit_digits_mlp

EPS, STEPS, DRAWS = 0.08, 10, 10
SCORE_DRAWS = 50  # fresh draws behind every accuracy here: the noise is about 0.003


@pytest.fixture(scope="module")
def random_model():
    """An MLP trained on digits behind a random pixel mask, and masked at inference too."""
    x, y = digit_images()
    rng = np.random.default_rng(0)
    train = np.concatenate([x[:1500]] * 4)
    train = train * (rng.uniform(size=train.shape) < 0.5) * 2.0
    labels = np.concatenate([y[:1500]] * 4)
    model = fit_digits_mlp(train, labels, hidden=64, epochs=15, batch_size=128)
    return PixelDropout(model, seed=5), x[1285:], y[1285:]


def _fresh(fn, x, y) -> float:
    """Mean correctness over SCORE_DRAWS fresh draws (not `Target.correctness`: independent)."""
    hits = [np.argmax(fn(tf.constant(x)).numpy(), -1) == y for _ in range(SCORE_DRAWS)]
    return float(np.mean(hits))


def _reference_eot_pgd(fn, x, y, *, eps: float, steps: int, seed: int = 0) -> np.ndarray:
    """Plain EOT-PGD: sign steps of 5 ε / steps, DRAWS draws per gradient by tiling the batch."""
    rng = np.random.default_rng(seed)
    adv = np.clip(x + rng.uniform(-eps, eps, x.shape), 0.0, 1.0).astype(np.float32)
    labels = tf.constant(np.tile(y, DRAWS))
    for _ in range(steps):
        tiled = tf.constant(np.tile(adv, (DRAWS, 1, 1, 1)))
        with tf.GradientTape() as tape:
            tape.watch(tiled)
            loss = tf.reduce_sum(
                tf.keras.losses.sparse_categorical_crossentropy(labels, fn(tiled), from_logits=True)
            )
        grad = tape.gradient(loss, tiled).numpy().reshape((DRAWS, *x.shape)).sum(0)
        adv = np.clip(adv + 5.0 * eps / steps * np.sign(grad), x - eps, x + eps)
        adv = np.clip(adv, 0.0, 1.0).astype(np.float32)
    return adv


def test_our_eot_pgd_and_suite_are_no_weaker_than_a_plain_eot_pgd(random_model):
    fn, x, y = random_model
    reference = _fresh(fn, _reference_eot_pgd(fn, x, y, eps=EPS, steps=STEPS), y)
    assert 0.2 <= reference <= 0.8, f"the reference's robust accuracy {reference} voids the test"
    target = Target(fn, random=True, eot_samples=DRAWS)
    ours = _fresh(fn, PGD(target, ThreatModel("linf", EPS), steps=STEPS, seed=0)(x, y).numpy(), y)
    assert ours <= reference + 0.01, (ours, reference)

    long = _fresh(fn, _reference_eot_pgd(fn, x, y, eps=EPS, steps=5 * STEPS), y)
    outcome = cascade(target, build(AttackConfig(eps=EPS, budget="demo"), target), x, y)
    suite = float(outcome.robust.mean())
    assert suite <= long + 0.01, (suite, long, outcome.accuracies())


def test_eot_gradients_are_stronger_than_single_draw_gradients(random_model):
    fn, x, y = random_model
    threat = ThreatModel("linf", EPS)
    careless = Target(fn)  # what a careless evaluation does: one draw per gradient
    eot = Target(fn, random=True, eot_samples=DRAWS)
    careless_acc = _fresh(fn, PGD(careless, threat, steps=STEPS, seed=0)(x, y).numpy(), y)
    eot_acc = _fresh(fn, PGD(eot, threat, steps=STEPS, seed=0)(x, y).numpy(), y)
    assert eot_acc < careless_acc - 0.02, (eot_acc, careless_acc)

"""Each sanity check fires on a model built to fail it and stays quiet on a normal one."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from attacks import PGD, Target, ThreatModel
from attacks import checks as C
from attacks.square import Square
from attacks.suite import cascade
from tests.attacks.conftest import PixelDropout, digit_images, fit_digits_mlp

EPS = 0.06


def _all_checks(target: Target, x, y, steps: int = 5) -> dict[str, C.Check]:
    found = [
        C.logits_check(target, x),
        C.randomness_check(target, x),
        C.gradient_check(target, x, y),
        C.unconstrained_check(target, x, y, norm="linf", steps=steps),
        C.incomplete_optimisation_check(target, ThreatModel("linf", EPS), x, y, steps=steps),
        C.silent_success_check(target, ThreatModel("linf", EPS), x, y, steps=steps),
    ]
    return {c.name: c for c in found}


def test_a_normal_model_passes_every_check(digits):
    model, x, y = digits
    target = Target(model)
    found = _all_checks(target, x[:64], y[:64])
    threat = ThreatModel("linf", EPS)
    attacks = [PGD(target, threat, steps=10, seed=0), Square(target, threat, queries=200)]
    outcome = cascade(target, attacks, x, y)
    found.update({c.name: c for c in C.black_box_checks(outcome, {"square": True})})
    failed = {n: c.numbers for n, c in found.items() if not c.passed}
    assert not failed
    assert set(found) == {
        "logits",
        "randomness",
        "gradients",
        "unconstrained",
        "incomplete_optimisation",
        "silent_success",
        "square_vs_white_box",
    }


def test_a_normal_random_model_passes_the_attack_failure_indicators(digits):
    model, x, y = digits
    found = _all_checks(Target(PixelDropout(model, seed=3), random=True), x[:64], y[:64])
    indicators = ("gradients", "unconstrained", "incomplete_optimisation", "silent_success")
    failed = {n: found[n].numbers for n in indicators if not found[n].passed}
    assert not failed


def test_probabilities_fail_the_logits_check(digits):
    model, x, _ = digits
    check = C.logits_check(Target(lambda z: tf.nn.softmax(model(z))), x[:32])
    assert not check.passed and check.numbers["sum_dev"] < 1e-4


def test_a_random_model_without_eot_fails_the_randomness_check(digits):
    model, x, _ = digits
    random = PixelDropout(model)
    assert not C.randomness_check(Target(random), x[:32]).passed
    assert C.randomness_check(Target(random, random=True), x[:32]).passed


class Binarised:
    """A non-differentiable front-end: pixels thresholded at 0.4 with no gradient, then a
    network trained on binarised digits. Gradients are zero, the model is not robust."""

    def __init__(self, model):
        self.model = model

    def __call__(self, x):
        return self.model(tf.stop_gradient(tf.cast(x > 0.4, tf.float32)))


@pytest.fixture(scope="module")
def binarised(digits):
    x, y = digit_images()
    binary = (x[:1500] > 0.4).astype(np.float32)
    model = fit_digits_mlp(binary, y[:1500], hidden=0, epochs=40, batch_size=64, seed=1)
    return Target(Binarised(model))


def test_a_non_differentiable_front_end_fails_the_gradient_checks(binarised, digits):
    _, x, y = digits
    found = _all_checks(binarised, x[:64], y[:64])
    assert binarised.correctness(x, y).mean() > 0.7, "the binarised model did not train"
    assert not found["gradients"].passed and found["gradients"].numbers["zero_frac"] == 1.0
    assert not found["unconstrained"].passed, found["unconstrained"].numbers
    assert found["logits"].passed and found["randomness"].passed
    threat = ThreatModel("linf", 0.5)
    attacks = [PGD(binarised, threat, steps=5, seed=0), Square(binarised, threat, queries=100)]
    outcome = cascade(binarised, attacks, x, y)
    [square] = C.black_box_checks(outcome, {"square": True})
    assert not square.passed and square.numbers["drop"] > 0.1


class WakesUp:
    """A stateful defence whose input gradient is zero for its first `calls` forward passes:
    a short attack gets nowhere, one with twice the steps gets going."""

    def __init__(self, model, calls: int):
        self.model, self.calls = model, calls
        self.count = tf.Variable(0)

    def __call__(self, x):
        live = tf.cast(self.count.assign_add(1) > self.calls, tf.float32)
        return self.model(live * x + (1.0 - live) * tf.stop_gradient(x))


def test_an_attack_that_has_not_converged_fails_the_incomplete_optimisation_check(digits):
    model, x, y = digits
    # One clean pass, PGD-5 (5 gradient passes, one final), one scoring pass, one loss pass:
    # PGD-10 then has about 6 live steps.
    target = Target(WakesUp(model, calls=9))
    check = C.incomplete_optimisation_check(
        target, ThreatModel("linf", EPS), x[:64], y[:64], steps=5
    )
    assert not check.passed and check.numbers["drop"] > 0.1, check.numbers
    assert check.numbers["loss_2x"] > check.numbers["loss"]


class Reversed:
    """Gradients that point the wrong way (a defence that lies about its slope): every gradient
    attack walks away from the decision boundary, however large its budget."""

    def __init__(self, model):
        self.model = model

    def __call__(self, x):
        @tf.custom_gradient
        def flip(z):
            return tf.identity(z), lambda up: -up

        return self.model(flip(x))


def test_lying_gradients_fail_the_unconstrained_check_but_not_the_gradient_check(digits):
    model, x, y = digits
    target = Target(Reversed(model))
    found = _all_checks(target, x[:64], y[:64])
    assert found["gradients"].passed
    assert not found["unconstrained"].passed and found["unconstrained"].numbers["acc"] > 0.2


class BatchDependent:
    """A model whose output depends on its batch: on a smaller batch than `full` (an attack
    that only re-runs its unfooled examples) the logits are negated, so the attack believes it
    has fooled examples that the full-batch evaluation classifies correctly."""

    def __init__(self, model, full: int):
        self.model, self.full = model, full

    def __call__(self, x):
        logits = self.model(x)
        return tf.where(tf.shape(x)[0] < self.full, -logits, logits)


def test_a_batch_dependent_model_fails_the_silent_success_check(digits):
    model, x, y = digits
    target = Target(BatchDependent(model, full=64))
    check = C.silent_success_check(target, ThreatModel("linf", EPS), x[:64], y[:64], steps=5)
    assert not check.passed and check.numbers["share"] > 0.2, check.numbers

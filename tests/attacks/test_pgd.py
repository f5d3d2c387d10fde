"""Attack strength against an oracle (the Adversarial Robustness Toolbox) on a model trained in
the test, EOT on a model that is random at inference, and the evaluator's own guards."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from attacks import APGD, PGD, Evaluation, LinfPGD, Target, ThreatModel, evaluate, losses
from attacks.suite import cascade
from tests.attacks.conftest import PixelDropout, mlp_logits

EPS, STEPS = 0.06, 10


def _robust(target: Target, adv, x, y) -> float:
    return float(np.mean(np.minimum(target.correctness(x, y), target.correctness(adv, y))))


def test_no_weaker_than_art_and_apgd_no_weaker_than_pgd(digits):
    from bench.attack import art_classifier, art_pgd

    model, x, y = digits
    target = Target(model)
    art = art_pgd(art_classifier(model, (8, 8, 1)), EPS, STEPS, random_starts=1, batch=len(y))
    art_acc = _robust(target, art.generate(x, y=np.eye(10)[y]).astype(np.float32), x, y)
    assert 0.2 <= art_acc <= 0.8, f"ART's robust accuracy {art_acc} makes the comparison void"
    threat = ThreatModel("linf", EPS)
    ours = _robust(target, PGD(target, threat, steps=STEPS, seed=0)(x, y).numpy(), x, y)
    assert ours <= art_acc + 0.01
    apgd = _robust(target, APGD(target, threat, steps=STEPS, seed=0)(x, y).numpy(), x, y)
    assert apgd <= ours


def test_a_random_target_is_never_attacked_without_eot():
    with pytest.raises(ValueError, match="eot_samples=1 would take every gradient from a single"):
        Target(PixelDropout(mlp_logits()), random=True, eot_samples=1)


def test_random_targets_are_scored_as_the_mean_over_draws(digits):
    model, x, y = digits
    scores = Target(PixelDropout(model, seed=2), random=True).correctness(x, y)
    assert set(np.unique(scores * 10).round(6)) <= set(range(11))
    assert np.mean((scores > 0) & (scores < 1)) > 0, "no example was ever uncertain"


def test_more_restarts_never_weaken_pgd():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (16, 5, 5, 1)).astype(np.float32)
    y = rng.integers(0, 4, 16).astype(np.int32)
    fn = mlp_logits(seed=4)
    one = LinfPGD(fn, eps=0.1, steps=3, restarts=1, seed=7)(x, y)
    three = LinfPGD(fn, eps=0.1, steps=3, restarts=3, seed=7)(x, y)
    loss = lambda z: losses.per_example_loss(fn(z), tf.constant(y), "ce").numpy()  # noqa: E731
    wrong = lambda z: np.argmax(fn(z), -1) != y  # noqa: E731
    assert np.all(wrong(three) | ~wrong(one))
    keep = ~wrong(one)
    assert np.all(loss(three)[keep] >= loss(one)[keep] - 1e-5)


def test_the_cascade_is_a_per_example_worst_case(digits):
    model, x, y = digits
    target = Target(model)
    threat = ThreatModel("linf", EPS)
    first = PGD(target, threat, steps=2, seed=0)
    second = APGD(target, threat, steps=STEPS, seed=1, name="apgd-ce")
    outcome = cascade(target, [first, second], x, y)
    right = target.correctness(x, y) > 0  # the first attack sees every correct example
    alone = PGD(target, threat, steps=2, seed=0)(x[right], y[right]).numpy()
    expected = target.correctness(alone, y[right]).sum() / len(y)
    assert outcome.accuracies()["pgd"] == pytest.approx(expected)
    assert np.all(outcome.after["apgd-ce"] <= outcome.after["pgd"])
    assert np.all(outcome.after["pgd"] <= outcome.clean)
    assert outcome.robust.mean() <= min(outcome.accuracies().values())


def test_evaluate_refuses_points_outside_the_ball():
    class Cheat:
        eps = 0.01

        def __call__(self, x, y):
            return tf.clip_by_value(tf.constant(x) + 0.5, 0.0, 1.0)

    x = np.zeros((2, 5, 5, 1), np.float32)
    with pytest.raises(RuntimeError, match="left the threat model"):
        evaluate(mlp_logits(), Cheat(), x, np.zeros(2, np.int32), batch_size=2)


def test_robust_accuracy_counts_clean_mistakes_as_failures():
    result = Evaluation(np.array([True, True, False]), np.array([True, False, True]))
    assert result.clean_acc == pytest.approx(2 / 3)
    assert result.adv_acc == pytest.approx(1 / 3)
    fractional = Evaluation(np.array([1.0, 0.5]), np.array([0.2, 0.9]))
    assert fractional.adv_acc == pytest.approx(0.35)

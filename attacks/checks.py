"""Sanity checks of an evaluation, as data (`robustness_protocol.md` §2.5; AutoAttack's flags).

Each check returns a verdict plus the numbers it rests on; the trial reports them beside the
accuracies they qualify, so a number from a broken evaluation is never ranked silently:

- `logits`: the model returns logits, not probabilities (rows in [0, 1] summing to 1 make
  cross-entropy gradients vanish and DLR meaningless).
- `randomness`: two identical forward passes agree, or the model is attacked with EOT.
- `gradients`: no example has an all-zero or non-finite input gradient (DLR loss, or margin with
  fewer than 3 classes) at its clean point: a zero gradient stops every gradient attack.
- `large_eps`: PGD at a budget that lets any image become uniform grey (L∞ 0.5, L2 0.5·√D)
  leaves accuracy at chance (1 / classes) or below; otherwise the attack is broken or masked.
- `more_steps`: PGD with twice the steps does not raise robust accuracy (the attack converged).
- `square_vs_white_box`, `transfer_vs_white_box`: run after the gradient attacks, neither lowers
  robust accuracy by more than 0.2 points (AutoAttack's threshold); if a gradient-free or
  borrowed-gradient attack finds what the gradients missed, the gradients are masked.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from attacks import losses
from attacks.pgd import PGD
from attacks.suite import Outcome
from attacks.target import Target
from attacks.threat import ThreatModel

PROBABILITY_TOLERANCE = 1e-4
RANDOMNESS_TOLERANCE = 1e-4  # relative logit change of two identical calls (AutoAttack's)
BLACK_BOX_THRESHOLD = 0.002  # AutoAttack: more than 0.2 points lower is a gradient-masking flag
LARGE_EPS_LINF = 0.5


@dataclasses.dataclass(frozen=True)
class Check:
    """One verdict and the numbers it rests on."""

    name: str
    passed: bool
    numbers: dict[str, float]

    def __post_init__(self) -> None:  # plain Python types: verdicts are stored as JSON
        object.__setattr__(self, "passed", bool(self.passed))
        object.__setattr__(self, "numbers", {k: float(v) for k, v in self.numbers.items()})

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"


def logits_check(target: Target, images: np.ndarray) -> Check:
    """Fails when every output row lies in [0, 1] and sums to 1 (probabilities)."""
    out = target.predict_logits(images)
    sums = np.abs(out.sum(axis=-1) - 1.0)
    in_unit = bool(out.min() >= -PROBABILITY_TOLERANCE and out.max() <= 1 + PROBABILITY_TOLERANCE)
    probabilities = in_unit and bool(sums.max() <= PROBABILITY_TOLERANCE)
    numbers = {"min": float(out.min()), "max": float(out.max()), "sum_dev": float(sums.max())}
    return Check("logits", not probabilities, numbers)


def randomness_check(target: Target, images: np.ndarray) -> Check:
    """Fails when two identical calls differ and the target is not attacked with EOT."""
    first, second = target.predict_logits(images), target.predict_logits(images)
    change = float(np.abs(first - second).max() / (np.abs(first).max() + 1e-12))
    random = change > RANDOMNESS_TOLERANCE
    numbers = {"logit_change": change, "eot": float(target.random)}
    return Check("randomness", (not random) or target.random, numbers)


def gradient_check(target: Target, images: np.ndarray, labels: np.ndarray) -> Check:
    """Fails when any correctly classified example's input gradient is all zero or not finite.

    Misclassified examples are left out, as the attacks leave them alone: their DLR loss can be
    flat by construction (true class third: the ratio is exactly 1).
    """
    images, labels = np.asarray(images, np.float32), np.asarray(labels, np.int32)
    keep = target.correctness(images, labels) > 0
    images, labels = images[keep], labels[keep]
    if len(images) == 0:
        return Check("gradients", True, {"zero_frac": 0.0, "nonfinite_frac": 0.0, "n": 0.0})
    classes = target.predict_logits(images[:1]).shape[-1]
    loss = losses.dlr if classes >= losses.MIN_CLASSES["dlr"] else losses.margin
    _, _, grad = target.loss_and_grad(tf.constant(images), tf.constant(labels), loss)
    flat = grad.numpy().reshape(len(images), -1)
    finite = np.isfinite(flat).all(axis=1)
    zero = finite & (np.abs(flat).max(axis=1) == 0)
    numbers = {
        "zero_frac": float(zero.mean()),
        "nonfinite_frac": float((~finite).mean()),
        "n": float(len(images)),
    }
    return Check("gradients", not zero.any() and finite.all(), numbers)


def large_eps_check(
    target: Target,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    norm: str,
    num_classes: int,
    steps: int,
    seed: int = 0,
) -> Check:
    """Fails when PGD at a grey-image budget leaves accuracy above chance (+ one example)."""
    dims = int(np.prod(np.shape(images)[1:]))
    eps = LARGE_EPS_LINF if norm == "linf" else 0.5 * math.sqrt(dims)
    attack = PGD(target, ThreatModel(norm, eps), steps=steps, seed=seed)
    adv = attack(images, labels).numpy()
    clean = target.correctness(images, labels)
    acc = float(np.mean(np.minimum(clean, target.correctness(adv, labels))))
    chance = 1.0 / num_classes
    numbers = {"eps": eps, "acc": acc, "chance": chance}
    return Check("large_eps", acc <= chance + 1.0 / len(labels), numbers)


def more_steps_check(
    target: Target,
    threat: ThreatModel,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    steps: int,
    seed: int = 0,
) -> Check:
    """Fails when PGD-2n leaves a higher robust accuracy than PGD-n (beyond one example, and
    for a random target beyond two standard errors of the draws)."""
    scores = {}
    clean = target.correctness(images, labels)
    for n in (steps, 2 * steps):
        attack = PGD(target, threat, steps=n, seed=seed)
        scores[n] = np.minimum(clean, target.correctness(attack(images, labels).numpy(), labels))
    short, long = scores[steps], scores[2 * steps]
    tolerance = 1.0 / len(labels)
    if target.random:
        tolerance += 2.0 * float(np.std(long - short)) / math.sqrt(len(labels))
    numbers = {"steps": float(steps), "acc": float(short.mean()), "acc_2x": float(long.mean())}
    return Check("more_steps", long.mean() <= short.mean() + tolerance, numbers)


def black_box_checks(outcome: Outcome, black_box: dict[str, bool], draws: int = 1) -> list[Check]:
    """One check per score-based or transfer attack of a cascade that ran after gradient ones.

    Args:
        outcome: the whole test subset's cascade.
        black_box: attack name -> whether it is gradient-free/transfer, in cascade order.
        draws: draws behind each score (> 1 for a random model: the noise of re-scoring an
            example is then allowed for, two standard errors).
    """
    checks = []
    names = list(outcome.after)
    for i, name in enumerate(names):
        if not black_box.get(name) or not any(not black_box.get(n) for n in names[:i]):
            continue
        before = outcome.after[names[i - 1]]
        drop = float(before.mean() - outcome.after[name].mean())
        threshold = BLACK_BOX_THRESHOLD
        if draws > 1:
            spread = float(np.mean(before * (1.0 - before)))
            threshold += 2.0 * math.sqrt(spread / draws / max(len(before), 1))
        numbers = {"drop": drop, "threshold": threshold}
        checks.append(Check(f"{name}_vs_white_box", drop <= threshold, numbers))
    return checks

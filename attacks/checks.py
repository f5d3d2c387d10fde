"""Sanity checks of an evaluation, as data (`robustness_protocol.md` §2.5; AutoAttack's flags;
the indicators of attack failure of Pintor et al., NeurIPS 2022).

Each check returns a verdict plus the numbers it rests on; the trial reports them beside the
accuracies they qualify, so a number from a broken evaluation is never ranked silently:

- `logits`: the model returns logits, not probabilities (rows in [0, 1] summing to 1 make
  cross-entropy gradients vanish and DLR meaningless).
- `randomness`: two identical forward passes agree, or the model is attacked with EOT.
- `gradients`: no example has an all-zero or non-finite input gradient (DLR loss, or margin with
  fewer than 3 classes) at its clean point: a zero gradient stops every gradient attack.
- `unconstrained`: PGD with a budget that reaches every image (L∞ 1, L2 √D) brings robust
  accuracy to 0 (one example and the draws' noise allowed); otherwise the attack or its
  gradients are broken, whatever ε the evaluation uses.
- `incomplete_optimisation`: PGD with twice the steps lowers robust accuracy by at most 0.01
  (plus that allowance); more means the budget had not converged.
- `silent_success`: no example PGD saw misclassified on its path comes back scored correct;
  otherwise the attack returns the wrong point, or the model's output depends on its batch.
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
UNCONSTRAINED_LINF = 1.0  # pixels lie in [0, 1]: every image is within reach
CONVERGENCE_DROP = 0.01  # doubling the steps may lower robust accuracy by this much
SILENT_RANDOM = 0.1  # see silent_success_check


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


def _draw_noise(scores: np.ndarray, draws: int) -> float:
    """Two standard errors of a mean of per-example scores, each a mean over `draws` draws."""
    spread = float(np.mean(scores * (1.0 - scores))) if len(scores) else 0.0
    return 2.0 * math.sqrt(spread / draws / max(len(scores), 1))


def _slack(target: Target, scores: np.ndarray) -> float:
    """How far a robust accuracy over these examples may move by chance: one example, plus the
    noise of the fresh draws behind each score when the target is random."""
    slack = 1.0 / len(scores)
    if target.random:
        slack += _draw_noise(scores, target.score_draws)
    return slack


def _robust(target: Target, points: np.ndarray, labels, clean: np.ndarray) -> np.ndarray:
    """Per-example robust correctness: correct on the clean image and at the attack's point."""
    return np.minimum(clean, target.correctness(points, labels))


def unconstrained_check(
    target: Target, images: np.ndarray, labels: np.ndarray, *, norm: str, steps: int, seed: int = 0
) -> Check:
    """Fails when PGD with a budget that reaches every image (L∞ 1, L2 √D) leaves any example
    correct (beyond one, and the draws' noise): the attack or its gradients are broken."""
    images = np.asarray(images, np.float32)
    dims = int(np.prod(images.shape[1:]))
    eps = UNCONSTRAINED_LINF if norm == "linf" else math.sqrt(dims)
    step = eps / steps  # the default 2.5-5 ε / steps overshoots: sign steps of ≥ 0.5 per pixel
    attack = PGD(target, ThreatModel(norm, eps), steps=steps, step_size=step, seed=seed)
    clean = target.correctness(images, labels)
    robust = _robust(target, attack(images, labels).numpy(), labels, clean)
    acc, threshold = float(robust.mean()), _slack(target, robust)
    return Check(
        "unconstrained", acc <= threshold, {"eps": eps, "acc": acc, "threshold": threshold}
    )


def incomplete_optimisation_check(
    target: Target,
    threat: ThreatModel,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    steps: int,
    seed: int = 0,
) -> Check:
    """Fails when PGD with twice the steps lowers robust accuracy by more than 0.01 (beyond
    one example and the draws' noise): the attack had not converged at `steps`.

    The numbers also give each run's mean margin loss at its points (higher is stronger), so a
    loss still rising with the steps shows even when the accuracy does not move.
    """
    images, labels = np.asarray(images, np.float32), np.asarray(labels, np.int32)
    acc, loss = {}, {}
    clean = target.correctness(images, labels)  # one clean score for both runs
    for n in (steps, 2 * steps):
        points = PGD(target, threat, steps=n, seed=seed)(images, labels)
        acc[n] = _robust(target, points.numpy(), labels, clean)
        loss[n] = float(tf.reduce_mean(target.loss_and_hits(points, labels, losses.margin)[0]))
    drop = float(acc[steps].mean() - acc[2 * steps].mean())
    threshold = CONVERGENCE_DROP + _slack(target, acc[2 * steps])
    numbers = {
        "steps": float(steps),
        "acc": float(acc[steps].mean()),
        "acc_2x": float(acc[2 * steps].mean()),
        "drop": drop,
        "threshold": threshold,
        "loss": loss[steps],
        "loss_2x": loss[2 * steps],
    }
    return Check("incomplete_optimisation", drop <= threshold, numbers)


def silent_success_check(
    target: Target,
    threat: ThreatModel,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    steps: int,
    seed: int = 0,
) -> Check:
    """Fails when PGD saw an example misclassified on its path (by its own forward passes) yet
    returns a point that scoring finds correct: the attack's bookkeeping disagrees with the
    evaluation (a wrong point kept, or a model whose output depends on the rest of its batch).

    Deterministic targets: fails beyond one example. Random targets: "seen" is the EOT-mean
    logits of one step's draws, "correct" is most fresh draws right, and noise alone makes
    both true for borderline examples (0.05 to 0.06 of them on the demo's coarse-crop model at
    32 and 256 examples), so it fails beyond SILENT_RANDOM plus two standard errors.
    """
    images, labels = np.asarray(images, np.float32), np.asarray(labels, np.int32)
    points, seen = PGD(target, threat, steps=steps, seed=seed).run(images, labels)
    robust = _robust(target, points.numpy(), labels, target.correctness(images, labels))
    silent = seen.numpy() & (robust >= (0.5 if target.random else 1.0))
    share = float(silent.mean())
    threshold = 1.0 / len(labels)
    if target.random:
        threshold = SILENT_RANDOM + 2.0 * math.sqrt(SILENT_RANDOM / len(labels)) + threshold
    numbers = {"share": share, "seen": float(seen.numpy().mean()), "threshold": threshold}
    return Check("silent_success", share <= threshold, numbers)


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
            threshold += _draw_noise(before, draws)
        numbers = {"drop": drop, "threshold": threshold}
        checks.append(Check(f"{name}_vs_white_box", drop <= threshold, numbers))
    return checks

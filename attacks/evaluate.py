"""Clean and adversarial accuracy of a deterministic logits function under one attack.

The small evaluator behind the per-epoch `val/adv_acc` (the final evaluation runs the whole
suite: `attacks.suite`). Batches are not padded: the compiled attacks trace for a generic batch
size. Every adversarial batch is checked against the threat model (inside the ε-ball, inside
[0, 1]) and re-scored in float32, so what counts as a success is what the model does on the
returned point.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from attacks.target import LogitsFn
from attacks.threat import ThreatModel


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Per-example outcomes: `clean` and `adv` are correctness arrays, boolean, or in [0, 1]
    (the mean over draws of a random model)."""

    clean: np.ndarray
    adv: np.ndarray

    @property
    def clean_acc(self) -> float:
        return float(np.mean(self.clean))

    @property
    def adv_acc(self) -> float:
        """Robust accuracy: correct on the clean point and on the attacked one."""
        return float(np.mean(np.minimum(self.clean, self.adv)))


def predict(logits_fn: LogitsFn, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predicted classes for an array of images."""
    out = [
        np.argmax(logits_fn(tf.constant(images[i : i + batch_size])).numpy(), -1)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out).astype(np.int32) if out else np.zeros(0, np.int32)


def evaluate(
    logits_fn: LogitsFn, attack, images: np.ndarray, labels: np.ndarray, batch_size: int
) -> Evaluation:
    """Runs `attack` (anything with `eps` or a `threat`, called as attack(x, y)) on every
    example and scores clean and adversarial predictions. An attack with a `target` (an
    `attacks.Target`) is scored by it: over fresh draws when the target is random."""
    threat = getattr(attack, "threat", None) or ThreatModel("linf", float(attack.eps))
    target = getattr(attack, "target", None)
    clean, adv = [], []
    for start in range(0, len(labels), batch_size):
        x = np.asarray(images[start : start + batch_size], np.float32)
        y = np.asarray(labels[start : start + batch_size])
        x_adv = np.asarray(attack(x, y))
        threat.check(x_adv, x, getattr(attack, "name", type(attack).__name__))
        if target is not None:
            clean.append(target.correctness(x, y, batch_size))
            adv.append(target.correctness(x_adv, y, batch_size))
        else:
            clean.append(predict(logits_fn, x, batch_size) == y)
            adv.append(predict(logits_fn, x_adv, batch_size) == y)
    if not clean:
        return Evaluation(np.zeros(0, bool), np.zeros(0, bool))
    return Evaluation(np.concatenate(clean), np.concatenate(adv))

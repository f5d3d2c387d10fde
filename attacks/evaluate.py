"""Clean and adversarial accuracy of a model on an in-memory test set, batch by batch.

Batches are padded to a fixed size so the compiled attack never retraces. Every adversarial
batch is checked against the threat model (inside the eps-ball, inside [0, 1]) and re-scored in
float32, so what counts as a success is what the model does on the returned point.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from attacks.pgd import LinfPGD, LogitsFn

BALL_TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Per-example outcomes: `clean` and `adv` are boolean arrays (correct or not)."""

    clean: np.ndarray
    adv: np.ndarray

    @property
    def clean_acc(self) -> float:
        return float(self.clean.mean())

    @property
    def adv_acc(self) -> float:
        """Robust accuracy: correct on the clean point and on the attacked one."""
        return float((self.clean & self.adv).mean())


def _padded_batches(images: np.ndarray, labels: np.ndarray, batch_size: int):
    for start in range(0, len(labels), batch_size):
        x, y = images[start : start + batch_size], labels[start : start + batch_size]
        n = len(y)
        if n < batch_size:
            pad = batch_size - n
            x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
            y = np.concatenate([y, np.repeat(y[-1:], pad, axis=0)])
        yield x, y, n


def predict(logits_fn: LogitsFn, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predicted classes for an array of images."""
    labels = np.zeros(len(images), np.int32)
    out = []
    for x, _, n in _padded_batches(images, labels, batch_size):
        out.append(np.argmax(logits_fn(tf.constant(x)).numpy(), -1)[:n])
    return np.concatenate(out) if out else labels


def evaluate(
    logits_fn: LogitsFn, attack: LinfPGD, images: np.ndarray, labels: np.ndarray, batch_size: int
) -> Evaluation:
    """Runs `attack` on every example and scores clean and adversarial predictions."""
    clean, adv = [], []
    for x, y, n in _padded_batches(images, labels, batch_size):
        x_adv = attack(x, y).numpy()
        gap = float(np.max(np.abs(x_adv - x)))
        if gap > attack.eps + BALL_TOLERANCE or x_adv.min() < 0.0 or x_adv.max() > 1.0:
            raise RuntimeError(
                f"attack left the threat model: max |delta| = {gap} > eps = {attack.eps} or "
                f"pixels outside [0, 1] (range {x_adv.min()}..{x_adv.max()}); this is a bug"
            )
        clean.append((np.argmax(logits_fn(tf.constant(x)).numpy(), -1) == y)[:n])
        adv.append((np.argmax(logits_fn(tf.constant(x_adv)).numpy(), -1) == y)[:n])
    return Evaluation(np.concatenate(clean), np.concatenate(adv))

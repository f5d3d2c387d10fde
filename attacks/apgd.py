"""Auto-PGD (Croce & Hein, ICML 2020): the step-size-free PGD of AutoAttack, compiled.

Per example: start at a random point of the threat set with step η = 2ε; each iteration takes a
projected step along the ascent direction and mixes it with the previous move (momentum 0.75,
none on the first step). At checkpoints p_j·N_iter (the first after 0.22·N_iter iterations, the
gaps then shrinking by 0.03·N_iter down to 0.06·N_iter) the step is halved, and the iterate
restarts from the best point seen, if either (1) the loss increased on at most ρ = 0.75 of the
steps since the last checkpoint, or (2) the step was not halved at the last checkpoint and the
best loss has not improved since. The attack returns the first misclassified iterate, else the
highest-loss one. Losses: `ce` or `dlr` (untargeted), and `dlr-targeted` against each of the
`targets` most likely wrong classes of the clean image (APGD-T), in turn, on the examples that
are still correctly classified. One forward+backward per iteration (EOT-averaged for random
targets); the bookkeeping uses that pass's own logits.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from attacks import losses
from attacks import threat as balls
from attacks.base import as_batch, check_steps, register
from attacks.target import Target
from attacks.threat import ThreatModel

RHO = 0.75  # the share of increasing steps below which the step is halved
MOMENTUM = 0.75


def checkpoint_lengths(n_iter: int) -> tuple[int, int, int]:
    """(first checkpoint interval, its decrement, its minimum), as in AutoAttack."""
    return max(int(0.22 * n_iter), 1), max(int(0.03 * n_iter), 1), max(int(0.06 * n_iter), 1)


APGD_LOSSES = ("ce", "dlr", "dlr-targeted")
SCALAR_SPECS = (
    tf.TensorSpec((), tf.float32),  # eps
    tf.TensorSpec((), tf.int32),  # iterations
    tf.TensorSpec((3,), tf.int32),  # checkpoint interval: first, decrement, minimum
    tf.TensorSpec((2,), tf.int64),  # seed of the random start
)


def apgd_graph(target: Target, norm: str, loss: str):
    """One APGD run on a batch for a target, norm and loss: returns (best points, their scores:
    0 where misclassified, else 1; for a random target the share of correct EOT draws). ε,
    iterations, checkpoints and seed are tensors, so APGDs of several budgets on one target
    share the graph.

    On a model random at inference no example counts as done (one draw's error says little
    about the next): every example takes every iteration. Nor does APGD jump back to its best
    iterate when it halves the step, or return it: the iterate of highest EOT-mean loss is the
    one with the luckiest draws, so both restart from, and report, a point that is weaker on
    fresh draws. It keeps its adaptive step and returns its final iterate (robust accuracy
    0.417-0.421 against 0.424-0.426 with the jumps, APGD-CE-20 on the EOT oracle test's model).
    """
    loss_fn = losses.get(loss)
    random = target.random

    def run(x0, labels, targets, eps, n_iter, lengths, seed):
        first, decrement, minimum = lengths[0], lengths[1], lengths[2]
        shape = tf.shape(x0)
        per_example = tf.concat([shape[:1], tf.ones_like(shape[1:])], 0)

        x = balls.random_start(norm, x0, seed, eps)
        logits, loss, grad = target.loss_and_grad(x, labels, loss_fn, targets)
        fooled = tf.not_equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
        if random:  # never done
            fooled = tf.zeros_like(fooled)
        x_adv = x  # first misclassified iterate (else the start)
        x_best, loss_best, grad_best = x, loss, grad
        step = tf.fill(per_example, 2.0 * eps)
        x_prev = x
        prev_loss = loss
        increases = tf.zeros_like(loss)
        loss_best_last = loss_best
        halved_last = tf.ones_like(fooled)  # AutoAttack skips condition 2 at the first checkpoint
        since, interval = tf.constant(0), first
        for i in tf.range(n_iter):
            if tf.reduce_all(fooled):  # a fooled example keeps its first misclassified point
                break
            momentum = x - x_prev
            x_prev = x
            a = tf.where(i > 0, MOMENTUM, 1.0)
            z = balls.project(norm, x + step * balls.direction(norm, grad), x0, eps)
            x = balls.project(norm, x + a * (z - x) + (1.0 - a) * momentum, x0, eps)

            if random:
                logits, loss, grad = target.loss_and_grad(x, labels, loss_fn, targets)
            else:
                logits, loss, grad = target.active_loss_and_grad(
                    x, labels, loss_fn, ~fooled, targets
                )
                wrong = tf.not_equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
                x_adv = tf.where(tf.reshape(wrong & ~fooled, per_example), x, x_adv)
                fooled = fooled | wrong
            better = loss > loss_best
            if not random:  # a random target never goes back to its best point (docstring)
                mask = tf.reshape(better, per_example)
                x_best = tf.where(mask, x, x_best)
                grad_best = tf.where(mask, grad, grad_best)
            loss_best = tf.where(better, loss, loss_best)
            increases += tf.cast(loss > prev_loss, tf.float32)
            prev_loss = loss

            # A checkpoint, written with selects rather than a branch (a lighter graph).
            since += 1
            at = tf.equal(since, interval)
            oscillating = increases <= tf.cast(interval, tf.float32) * RHO
            stalled = ~halved_last & (loss_best_last >= loss_best)
            halve = at & (oscillating | stalled)
            halved_last = tf.where(at, halve, halved_last)
            loss_best_last = tf.where(at, loss_best, loss_best_last)
            mask = tf.reshape(halve, per_example)
            step = tf.where(mask, step / 2.0, step)
            if not random:
                x = tf.where(mask, x_best, x)
                grad = tf.where(mask, grad_best, grad)
            increases = tf.where(at, tf.zeros_like(increases), increases)
            since = tf.where(at, 0, since)
            interval = tf.where(at, tf.maximum(interval - decrement, minimum), interval)
        if random:
            return x, target.loss_and_hits(x, labels, loss_fn, targets)[1]
        return (
            tf.where(tf.reshape(fooled, per_example), x_adv, x_best),
            1.0 - tf.cast(fooled, tf.float32),
        )

    return run


class APGD:
    """APGD with the CE, DLR or targeted-DLR loss.

    Args:
        target: the model (EOT gradients when random).
        threat: norm and ε.
        steps: N_iter, iterations per run.
        loss: `ce`, `dlr` or `dlr-targeted`.
        restarts: runs per example (per target class for `dlr-targeted`); later runs only
            attack the examples still correctly classified.
        targets: for `dlr-targeted`, how many of the most likely wrong classes to try (9 in
            AutoAttack; capped at classes - 1).
        seed: seeds the random starts.
        name: the registry name it reports under.
    """

    white_box = True

    def __init__(
        self,
        target: Target,
        threat: ThreatModel,
        *,
        steps: int = 100,
        loss: str = "ce",
        restarts: int = 1,
        targets: int = 9,
        seed: int = 0,
        name: str = "apgd-ce",
    ) -> None:
        check_steps(steps=steps, restarts=restarts, targets=targets)
        if loss not in APGD_LOSSES:
            raise ValueError(f"APGD loss={loss!r} is not one of ce, dlr, dlr-targeted")
        self.target, self.threat, self.name, self.loss = target, threat, name, loss
        self.steps, self.restarts, self.targets = int(steps), int(restarts), int(targets)
        self.budget = {"steps": self.steps, "restarts": self.restarts, "loss": loss}
        if loss == "dlr-targeted":
            self.budget["targets"] = self.targets
        self._rng = tf.random.Generator.from_seed(seed)
        build = lambda: apgd_graph(target, threat.norm, loss)  # noqa: E731
        self._run = target.compiled(("apgd", threat.norm, loss), build, *SCALAR_SPECS)

    @property
    def eps(self) -> float:
        return self.threat.eps

    def __call__(self, images, labels) -> tf.Tensor:
        images, labels = as_batch(images, labels)
        x0, y = images.numpy(), labels.numpy()
        adv = x0.copy()
        score = np.full(len(y), np.inf)  # each example's best score so far (lower is better)
        classes = None
        rounds = [None]
        if self.loss == "dlr-targeted":
            order = np.argsort(-self.target.mean_logits(images).numpy(), axis=-1)
            classes = order.shape[-1]
            if classes < losses.MIN_CLASSES["dlr-targeted"]:
                raise ValueError(f"{self.name} needs at least 4 classes; the model has {classes}")
            rounds = list(range(1, min(self.targets, classes - 1) + 1))
        for rank in rounds:
            for _ in range(self.restarts):
                idx = np.flatnonzero(score > 0)
                if idx.size == 0:
                    return tf.constant(adv)
                targets = y[idx]  # unused by the untargeted losses
                if rank is not None:  # the rank-th most likely class other than the top one
                    targets = order[idx, rank].astype(np.int32)
                    targets = np.where(targets == y[idx], order[idx, 0], targets)
                x, found = self._run(
                    tf.constant(x0[idx]),
                    tf.constant(y[idx]),
                    tf.constant(targets, tf.int32),
                    tf.constant(self.threat.eps, tf.float32),
                    tf.constant(self.steps, tf.int32),
                    tf.constant(checkpoint_lengths(self.steps), tf.int32),
                    self._rng.make_seeds(1)[:, 0],
                )
                x, found = x.numpy(), found.numpy()
                if self.target.random:  # keep each example's best run
                    better = found < score[idx]
                    adv[idx[better]], score[idx[better]] = x[better], found[better]
                else:  # later runs only see the examples the earlier ones left robust
                    adv[idx], score[idx] = x, found
        return tf.constant(adv)


def _apgd(name: str, loss: str):
    def build(
        target: Target,
        threat: ThreatModel,
        *,
        seed: int = 0,
        steps: int = 100,
        restarts: int = 1,
        targets: int = 9,
    ) -> APGD:
        return APGD(
            target,
            threat,
            steps=steps,
            loss=loss,
            restarts=restarts,
            targets=targets,
            seed=seed,
            name=name,
        )

    build.__doc__ = f"APGD on the {loss} loss ({name})."
    return build


register("apgd-ce")(_apgd("apgd-ce", "ce"))
register("apgd-dlr")(_apgd("apgd-dlr", "dlr"))
register("apgd-t-dlr")(_apgd("apgd-t-dlr", "dlr-targeted"))

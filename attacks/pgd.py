"""Projected gradient descent (L∞ or L2) and FGSM, each compiled as one `tf.function`.

The whole attack (restarts and steps) is one graph: `tf.range` loops become `tf.while_loop`s, so
nothing returns to Python between steps. Each step takes one forward and backward pass (averaged
over EOT draws for a random target), and tracks the per-example best iterate with the logits of
that same forward pass: no extra forward per step. The loss is float32 on logits (`ce` or the
non-saturating `margin`). Every returned point lies in the threat set.
"""

from __future__ import annotations

import tensorflow as tf

from attacks import losses
from attacks import threat as balls
from attacks.base import as_batch, batch_function, check_steps, keep_best, keep_lowest, register
from attacks.target import LogitsFn, Target
from attacks.threat import ThreatModel

PGD_LOSSES = ("ce", "margin")


SCALAR_SPECS = (
    tf.TensorSpec((), tf.float32),  # eps
    tf.TensorSpec((), tf.float32),  # step size
    tf.TensorSpec((), tf.int32),  # steps
    tf.TensorSpec((), tf.int32),  # restarts
    tf.TensorSpec((), tf.bool),  # random start
    tf.TensorSpec((2,), tf.int64),  # seed of the random starts
)


STEP_FACTOR = 2.5  # default step = factor × ε / steps
RANDOM_STEP_FACTOR = 5.0


def pgd_graph(target: Target, norm: str, loss: str, early_exit: bool):
    """The PGD body for one target, norm and loss; budgets (ε, step, steps, restarts, random
    start, seed) are tensors, so every PGD on a target with these settings shares one graph."""
    if target.random:
        return _random_pgd_graph(target, norm, loss)
    loss_fn = losses.get(loss)

    def run(images, labels, eps, step_size, steps, restarts, random_start, seed):
        best = images
        best_loss = tf.fill(tf.shape(labels), -float("inf"))
        found = tf.zeros(tf.shape(labels), tf.bool)
        for r in tf.range(restarts):
            if early_exit and tf.reduce_all(found):
                break
            x = images
            if random_start:
                start_seed = tf.random.experimental.stateless_fold_in(seed, r)
                x = balls.random_start(norm, images, start_seed, eps)
            for _ in tf.range(steps):
                if early_exit and tf.reduce_all(found):
                    break
                if early_exit:
                    logits, loss, grad = target.active_loss_and_grad(x, labels, loss_fn, ~found)
                else:
                    logits, loss, grad = target.loss_and_grad(x, labels, loss_fn)
                best, best_loss, found = keep_best(x, logits, loss, labels, best, best_loss, found)
                x = balls.project(norm, x + step_size * balls.direction(norm, grad), images, eps)
            logits = target.active_mean_logits(x, ~found) if early_exit else target.mean_logits(x)
            loss = loss_fn(logits, labels, None)
            best, best_loss, found = keep_best(x, logits, loss, labels, best, best_loss, found)
        return best, found

    return run


def _random_pgd_graph(target: Target, norm: str, loss: str):
    """PGD on a model random at inference (EOT gradients), as a plain EOT-PGD does it.

    One draw's error says little about the next draw's, so no example counts as done (every
    example takes every step), and no iterate is picked by its own noisy score: picking the
    lowest of a path's scores favours lucky draws (it lost 0.01 of robust accuracy against the
    final iterate on the demo's coarse-crop model). Each restart ends on its final iterate; of
    several restarts, each example keeps the one fewer EOT draws classify correctly. Also
    returns whether any iterate's EOT-mean logits misclassified the example (for the
    silent-success check).
    """
    loss_fn = losses.get(loss)

    def run(images, labels, eps, step_size, steps, restarts, random_start, seed):
        best = images
        best_hits = tf.fill(tf.shape(labels), 2.0)  # above any share: the first iterate wins
        best_loss = tf.fill(tf.shape(labels), -float("inf"))
        seen = tf.zeros(tf.shape(labels), tf.bool)
        for r in tf.range(restarts):
            x = images
            if random_start:
                start_seed = tf.random.experimental.stateless_fold_in(seed, r)
                x = balls.random_start(norm, images, start_seed, eps)
            for _ in tf.range(steps):
                logits, _, grad = target.loss_and_grad(x, labels, loss_fn)
                seen |= tf.not_equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
                x = balls.project(norm, x + step_size * balls.direction(norm, grad), images, eps)
            loss, hits = target.loss_and_hits(x, labels, loss_fn)
            best, best_hits, best_loss = keep_lowest(x, hits, loss, best, best_hits, best_loss)
        return best, seen

    return run


class PGD:
    """PGD with optional random start and restarts; keeps each example's best iterate.

    Args:
        target: the model (EOT gradients when it is random).
        threat: norm and ε.
        steps: gradient steps per restart.
        restarts: independent starts; the per-example best over all of them is kept.
        step_size: the step length (L∞: per pixel; L2: Euclidean); default 2.5 ε / steps
            (Madry et al.), so the iterates can cross the ball; 5 ε / steps on a random target,
            whose EOT gradient is noisier (robust accuracy 0.705 against 0.712 at 2.5 on the
            demo's coarse-crop model, PGD-10).
        random_start: start at a random point of the threat set (else at the clean image).
        loss: `ce` or `margin`.
        seed: seeds the random starts (each call draws new ones).
        name: the registry name it reports under.
        early_exit: stop computing for examples already misclassified (their point is kept
            either way). Off for adversarial training, whose forward pass must see the whole
            batch (batch-norm statistics, one random draw per image).
    """

    white_box = True

    def __init__(
        self,
        target: Target,
        threat: ThreatModel,
        *,
        steps: int,
        restarts: int = 1,
        step_size: float | None = None,
        random_start: bool = True,
        loss: str = "ce",
        seed: int = 0,
        name: str = "pgd",
        early_exit: bool = True,
    ) -> None:
        check_steps(steps=steps, restarts=restarts)
        if loss not in PGD_LOSSES:
            raise ValueError(f"loss={loss!r} is not one of {', '.join(PGD_LOSSES)}")
        if step_size is not None and not step_size >= 0:
            raise ValueError(f"step_size={step_size!r} must be >= 0")
        self.target, self.threat, self.name = target, threat, name
        self.steps, self.restarts = int(steps), int(restarts)
        factor = RANDOM_STEP_FACTOR if target.random else STEP_FACTOR
        self.step_size = float(factor * threat.eps / steps if step_size is None else step_size)
        self.random_start, self.loss = bool(random_start), loss
        self.early_exit = bool(early_exit)
        self.budget = {"steps": self.steps, "restarts": self.restarts, "loss": loss}
        self._rng = tf.random.Generator.from_seed(seed)
        self._key = ("pgd", threat.norm, loss, self.early_exit)

    @property
    def eps(self) -> float:
        return self.threat.eps

    def _args(self, seed: tf.Tensor) -> tuple:
        return (
            tf.constant(self.threat.eps, tf.float32),
            tf.constant(self.step_size, tf.float32),
            tf.constant(self.steps, tf.int32),
            tf.constant(self.restarts, tf.int32),
            tf.constant(self.random_start),
            seed,
        )

    def __call__(self, images, labels) -> tf.Tensor:
        return self.run(images, labels)[0]

    def run(self, images, labels) -> tuple[tf.Tensor, tf.Tensor]:
        """(points, seen): the attack's points, and per example whether any point on its path
        was misclassified by the attack's own forward passes (EOT-mean logits when random)."""
        build = lambda: pgd_graph(self.target, *self._key[1:])  # noqa: E731
        run = self.target.compiled(self._key, build, *SCALAR_SPECS)
        return run(*as_batch(images, labels), *self._args(self._rng.make_seeds(1)[:, 0]))

    def perturb(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        """The attack traced inline, inside a caller's own tf.function (adversarial training)."""
        run = pgd_graph(self.target, *self._key[1:])
        return run(images, labels, *self._args(self._rng.make_seeds(1)[:, 0]))[0]


class LinfPGD(PGD):
    """L∞ PGD on a plain, deterministic logits function (the per-epoch validation attack and
    the adversarial-training adversary)."""

    def __init__(self, logits_fn: LogitsFn, *, eps: float, steps: int, **kwargs) -> None:
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"eps={eps} must lie in [0, 1] (pixel units; 8/255 = {8 / 255:.4f})")
        super().__init__(Target(logits_fn), ThreatModel("linf", float(eps)), steps=steps, **kwargs)


class FGSM:
    """One step of length ε along the sign (L∞) or the normalised gradient (L2, i.e. FGM) of
    the cross-entropy, from the clean image. The single-step baseline iterative attacks must beat.
    """

    white_box = True

    def __init__(self, target: Target, threat: ThreatModel, *, seed: int = 0) -> None:
        del seed
        self.target, self.threat, self.name = target, threat, "fgsm"
        self.budget = {"steps": 1}
        self._run = batch_function(self.perturb)

    def __call__(self, images, labels) -> tf.Tensor:
        return self._run(*as_batch(images, labels))

    def perturb(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        _, _, grad = self.target.loss_and_grad(images, labels, losses.ce)
        step = self.threat.eps * self.threat.direction(grad)
        return self.threat.project(images + step, images)


@register("fgsm")
def build_fgsm(target: Target, threat: ThreatModel, *, seed: int = 0) -> FGSM:
    return FGSM(target, threat, seed=seed)


@register("pgd")
def build_pgd(
    target: Target, threat: ThreatModel, *, seed: int = 0, steps: int = 10, restarts: int = 1
) -> PGD:
    """PGD on the cross-entropy, random start."""
    return PGD(target, threat, steps=steps, restarts=restarts, seed=seed, name="pgd")


@register("pgd-margin")
def build_pgd_margin(
    target: Target, threat: ThreatModel, *, seed: int = 0, steps: int = 10, restarts: int = 1
) -> PGD:
    """PGD on the margin loss (does not saturate on confident models), random start."""
    return PGD(
        target, threat, steps=steps, restarts=restarts, loss="margin", seed=seed, name="pgd-margin"
    )

"""Projected gradient descent under an L-infinity budget, compiled as one `tf.function`.

The whole attack (restarts and steps) is a single graph: `tf.range` loops become `tf.while_loop`s,
so nothing returns to Python between steps. The loss is computed in float32 on logits. Per
example the attack keeps the best point it has seen (the first misclassified iterate, else the
one with the highest loss), never merely the last one, so a success on the way is not lost.
Every returned point lies inside the eps-ball around its input and inside [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

LogitsFn = Callable[[tf.Tensor], tf.Tensor]
LOSSES = ("ce", "margin")


def per_example_loss(logits: tf.Tensor, labels: tf.Tensor, loss: str) -> tf.Tensor:
    """The attack objective per example (higher = closer to misclassification), in float32.

    `ce` is the cross-entropy of the true class; `margin` is max_{i != y} z_i - z_y, which does
    not saturate on confident models.
    """
    logits = tf.cast(logits, tf.float32)
    if loss == "ce":
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    true = tf.gather(logits, labels, batch_dims=1)
    others = tf.where(tf.one_hot(labels, tf.shape(logits)[-1]) > 0, -1e9, logits)
    return tf.reduce_max(others, axis=-1) - true


class LinfPGD:
    """L-infinity PGD with random start and restarts.

    Args:
        logits_fn: maps an image batch in [0, 1] to logits; called in inference mode.
        eps: the budget, in [0, 1] pixel units.
        steps: gradient steps per restart.
        step_size: the signed-gradient step; default 2.5 * eps / steps (Madry et al.).
        restarts: independent random starts; the per-example best over all of them is kept.
        random_start: start uniformly inside the ball (else at the clean input).
        loss: `ce` or `margin`.
        seed: seeds the random starts.
    """

    def __init__(
        self,
        logits_fn: LogitsFn,
        *,
        eps: float,
        steps: int,
        step_size: float | None = None,
        restarts: int = 1,
        random_start: bool = True,
        loss: str = "ce",
        seed: int = 0,
    ) -> None:
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"eps={eps} must lie in [0, 1] (pixel units; 8/255 = {8 / 255:.4f})")
        if steps < 1 or restarts < 1:
            raise ValueError(f"steps={steps} and restarts={restarts} must both be >= 1")
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r} is not one of {', '.join(LOSSES)}")
        self.logits_fn = logits_fn
        self.eps = float(eps)
        self.steps = int(steps)
        self.step_size = float(step_size if step_size is not None else 2.5 * eps / steps)
        self.restarts = int(restarts)
        self.random_start = bool(random_start)
        self.loss = loss
        self._rng = tf.random.Generator.from_seed(seed)
        self._attack = tf.function(self.perturb, reduce_retracing=True)

    def __call__(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        """Returns adversarial images for a batch (float32, same shape as `images`)."""
        images = tf.convert_to_tensor(images, tf.float32)
        labels = tf.convert_to_tensor(labels, tf.int32)
        return self._attack(images, labels)

    def _loss_and_grad(self, x: tf.Tensor, labels: tf.Tensor):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            logits = tf.cast(self.logits_fn(x), tf.float32)
            loss = per_example_loss(logits, labels, self.loss)
            total = tf.reduce_sum(loss)  # a sum, so the step does not depend on batch size
        grad = tape.gradient(total, x)
        return logits, loss, grad

    def perturb(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        """The attack body; traced inside `__call__`, or inside a caller's own tf.function."""
        eps = tf.constant(self.eps, tf.float32)
        lower = tf.maximum(images - eps, 0.0)
        upper = tf.minimum(images + eps, 1.0)
        batch = tf.shape(images)[0]
        best = images
        best_loss = tf.fill([batch], -float("inf"))
        found = tf.zeros([batch], tf.bool)

        def keep_best(x, logits, loss, best, best_loss, found):
            wrong = tf.not_equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
            take = tf.logical_and(tf.logical_not(found), tf.logical_or(wrong, loss > best_loss))
            mask = tf.reshape(take, [-1, 1, 1, 1])
            best = tf.where(mask, x, best)
            best_loss = tf.where(take, loss, best_loss)
            return best, best_loss, tf.logical_or(found, wrong)

        for _ in tf.range(self.restarts):
            x = images
            if self.random_start:
                x = x + self._rng.uniform(tf.shape(images), -eps, eps)
            x = tf.clip_by_value(x, lower, upper)
            for _ in tf.range(self.steps):
                logits, loss, grad = self._loss_and_grad(x, labels)
                best, best_loss, found = keep_best(x, logits, loss, best, best_loss, found)
                x = tf.clip_by_value(x + self.step_size * tf.sign(grad), lower, upper)
            logits = tf.cast(self.logits_fn(x), tf.float32)
            loss = per_example_loss(logits, labels, self.loss)
            best, best_loss, found = keep_best(x, logits, loss, best, best_loss, found)
        return best

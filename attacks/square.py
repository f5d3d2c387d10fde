"""The L∞ Square attack (Andriushchenko et al., ECCV 2020): score-based, no gradients.

It starts from vertical stripes of ±ε, then for `queries` iterations proposes, per image, a
random square window whose pixels jump to the opposite side of the ε-box (a ±2ε change per
channel, projected back), and keeps a proposal when it lowers the margin z_y - max_{i≠y} z_i. The
square's share p of the image follows AutoAttack's schedule: p_init = 0.8, halved at 10, 50,
200, 500, 1000, 2000, 4000, 6000 and 8000 of 10,000 iterations, rescaled to the query budget.
One forward pass per query, compiled as one loop that stops once every image is misclassified.
It sees only outputs, so when it beats the gradient attacks the gradients are masked.
"""

from __future__ import annotations

import tensorflow as tf

from attacks.base import as_batch, batch_function, check_steps, register
from attacks.losses import margin
from attacks.target import Target
from attacks.threat import ThreatModel

P_INIT = 0.8
SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)  # of 10,000 iterations


def square_fraction(i: tf.Tensor, queries: int, p_init: float = P_INIT) -> tf.Tensor:
    """The share of pixels the i-th proposal's square covers."""
    it = tf.cast(tf.cast(i, tf.float32) / queries * 10_000.0, tf.int32)
    halvings = tf.reduce_sum(tf.cast(it > tf.constant(SCHEDULE), tf.float32))
    return p_init / tf.pow(2.0, halvings)


class Square:
    """Score-based L∞ attack with `queries` forward passes per image."""

    white_box = False

    def __init__(
        self,
        target: Target,
        threat: ThreatModel,
        *,
        queries: int = 5000,
        p_init: float = P_INIT,
        seed: int = 0,
    ) -> None:
        if threat.norm != "linf":
            raise ValueError(f"square supports norm linf only; got {threat.norm!r}")
        check_steps(queries=queries)
        if not 0.0 < p_init <= 1.0:
            raise ValueError(f"p_init={p_init} must lie in (0, 1]")
        self.target, self.threat, self.name = target, threat, "square"
        self.queries, self.p_init = int(queries), float(p_init)
        self.budget = {"queries": self.queries, "p_init": self.p_init}
        self._rng = tf.random.Generator.from_seed(seed)
        self._run = batch_function(self.perturb)

    def __call__(self, images, labels) -> tf.Tensor:
        return self._run(*as_batch(images, labels))

    def _margin(self, x, labels):
        return -margin(self.target.logits(x), labels)  # z_y - max other: < 0 = misclassified

    def perturb(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        eps = tf.constant(self.threat.eps, tf.float32)
        shape = tf.shape(images)
        n, h, w, c = shape[0], shape[1], shape[2], shape[3]
        stripes = tf.sign(self._rng.uniform([n, 1, w, c], -1.0, 1.0))
        best = self.threat.project(images + eps * stripes, images)
        best.set_shape(images.shape)
        best_margin = self._margin(best, labels)
        side = tf.cast(tf.minimum(h, w), tf.float32)
        features = tf.cast(h * w, tf.float32)
        rows = tf.range(h)[None, :, None, None]
        cols = tf.range(w)[None, None, :, None]

        def propose(i, best, best_margin):
            p = square_fraction(i, self.queries, self.p_init)
            s = tf.cast(tf.clip_by_value(tf.round(tf.sqrt(p * features)), 1.0, side), tf.int32)
            top = self._rng.uniform([n, 1, 1, 1], 0, h - s + 1, dtype=tf.int32)
            left = self._rng.uniform([n, 1, 1, 1], 0, w - s + 1, dtype=tf.int32)
            inside = (rows >= top) & (rows < top + s) & (cols >= left) & (cols < left + s)
            signs = tf.sign(self._rng.uniform([n, 1, 1, c], -1.0, 1.0))
            candidate = tf.where(inside, images + eps * signs, best)
            candidate = self.threat.project(candidate, images)
            candidate.set_shape(images.shape)
            value = self._margin(candidate, labels)
            take = (value < best_margin) & (best_margin > 0)
            best = tf.where(tf.reshape(take, [-1, 1, 1, 1]), candidate, best)
            return i + 1, best, tf.where(take, value, best_margin)

        def going(i, best, best_margin):
            return (i < self.queries) & tf.reduce_any(best_margin > 0)

        _, best, _ = tf.while_loop(going, propose, (tf.constant(0), best, best_margin))
        return best


@register("square")
def build_square(
    target: Target, threat: ThreatModel, *, seed: int = 0, queries: int = 5000
) -> Square:
    return Square(target, threat, queries=queries, seed=seed)

"""The threat model: a norm and a budget ε, in [0, 1] pixel units.

Every attack moves inside the same set: the ε-ball around the clean image (L∞: each pixel within
ε; L2: the whole perturbation's Euclidean norm within ε) intersected with the pixel range [0, 1].
`project` maps any point onto that set (clipping to [0, 1] after the L2 rescaling never leaves the
ball: it only shrinks each coordinate of the perturbation), `direction` is the steepest-ascent
step of unit norm, and `contains` is the check the suite runs on every returned batch.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

NORMS = ("linf", "l2")
BALL_TOLERANCE = 1e-5  # float32 slack when checking returned points


def check_eps(eps: float, norm: str, key: str = "attack.eps") -> None:
    """Raises naming `key` when ε is not a budget of `norm` (L∞: [0, 1]; L2: >= 0, finite)."""
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not math.isfinite(eps):
        raise ValueError(f"{key}={eps!r} must be a finite number (pixel units, e.g. 8/255)")
    if norm == "linf" and not 0.0 <= eps <= 1.0:
        raise ValueError(
            f"{key}={eps} must lie in [0, 1] for norm linf (pixel units: write 8/255, not 8)"
        )
    if eps < 0:
        raise ValueError(f"{key}={eps} must be >= 0 (an L2 radius in [0, 1] pixel units)")


@dataclasses.dataclass(frozen=True)
class ThreatModel:
    """Where an adversary may move an image: its norm (`linf` or `l2`) and budget `eps`."""

    norm: str
    eps: float

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm={self.norm!r} is not one of {', '.join(NORMS)}")
        check_eps(self.eps, self.norm, "eps")

    def _per_example_norm(self, t: tf.Tensor) -> tf.Tensor:
        axes = tf.range(1, tf.rank(t))
        if self.norm == "linf":
            return tf.reduce_max(tf.abs(t), axis=axes, keepdims=True)
        return tf.sqrt(tf.reduce_sum(tf.square(t), axis=axes, keepdims=True))

    def project(self, x: tf.Tensor, x0: tf.Tensor) -> tf.Tensor:
        """The point of the threat set around `x0` nearest to `x` (per example)."""
        eps = tf.constant(self.eps, x.dtype)
        if self.norm == "linf":
            return tf.clip_by_value(x, tf.maximum(x0 - eps, 0.0), tf.minimum(x0 + eps, 1.0))
        delta = x - x0
        scale = tf.minimum(1.0, eps / (self._per_example_norm(delta) + 1e-12))
        return tf.clip_by_value(x0 + delta * scale, 0.0, 1.0)

    def direction(self, grad: tf.Tensor) -> tf.Tensor:
        """The unit-norm ascent step for a gradient: its sign (L∞) or the normalised gradient."""
        if self.norm == "linf":
            return tf.sign(grad)
        return grad / (self._per_example_norm(grad) + 1e-12)

    def random_start(self, x0: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
        """A random point of the threat set: uniform in the L∞ box, or a uniformly random
        direction at a uniformly random radius for L2."""
        eps = tf.constant(self.eps, x0.dtype)
        if self.norm == "linf":
            return self.project(x0 + rng.uniform(tf.shape(x0), -eps, eps), x0)
        noise = rng.normal(tf.shape(x0))
        radius = rng.uniform(tf.concat([tf.shape(x0)[:1], tf.ones_like(tf.shape(x0)[1:])], 0))
        return self.project(x0 + eps * radius * self.direction(noise), x0)

    def distance(self, x: np.ndarray, x0: np.ndarray) -> np.ndarray:
        """Per-example norm of x - x0 (numpy)."""
        delta = (np.asarray(x, np.float64) - np.asarray(x0, np.float64)).reshape(len(x), -1)
        if self.norm == "linf":
            return np.abs(delta).max(axis=1) if delta.size else np.zeros(len(x))
        return np.sqrt((delta**2).sum(axis=1))

    def check(self, x_adv: np.ndarray, x0: np.ndarray, attack: str) -> None:
        """Raises if any returned point leaves the threat set: that is a bug in `attack`."""
        if len(x_adv) == 0:
            return
        gap = float(self.distance(x_adv, x0).max())
        low, high = float(np.min(x_adv)), float(np.max(x_adv))
        if gap > self.eps + BALL_TOLERANCE or low < 0.0 or high > 1.0 or not np.isfinite(gap):
            raise RuntimeError(
                f"attack {attack} left the threat model: max {self.norm} distance {gap} > eps "
                f"{self.eps}, or pixels outside [0, 1] (range {low}..{high}); this is a bug"
            )

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

    def project(self, x: tf.Tensor, x0: tf.Tensor, eps=None) -> tf.Tensor:
        """The point of the threat set around `x0` nearest to `x` (per example); `eps` may
        override the budget (a tensor, inside a graph shared by several budgets)."""
        return project(self.norm, x, x0, self.eps if eps is None else eps)

    def direction(self, grad: tf.Tensor) -> tf.Tensor:
        """The unit-norm ascent step for a gradient: its sign (L∞) or the normalised gradient."""
        return direction(self.norm, grad)

    def random_start(self, x0: tf.Tensor, seed: tf.Tensor, eps=None) -> tf.Tensor:
        """A random point of the threat set (stateless: `seed` is a shape-[2] int tensor)."""
        return random_start(self.norm, x0, seed, self.eps if eps is None else eps)

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


def _per_example_norm(norm: str, t: tf.Tensor) -> tf.Tensor:
    axes = tf.range(1, tf.rank(t))
    if norm == "linf":
        return tf.reduce_max(tf.abs(t), axis=axes, keepdims=True)
    return tf.sqrt(tf.reduce_sum(tf.square(t), axis=axes, keepdims=True))


def project(norm: str, x: tf.Tensor, x0: tf.Tensor, eps) -> tf.Tensor:
    """Projects `x` onto the `norm` ball of radius `eps` around `x0`, within [0, 1]."""
    eps = tf.cast(eps, x.dtype)
    if norm == "linf":
        return tf.clip_by_value(x, tf.maximum(x0 - eps, 0.0), tf.minimum(x0 + eps, 1.0))
    delta = x - x0
    scale = tf.minimum(1.0, eps / (_per_example_norm(norm, delta) + 1e-12))
    return tf.clip_by_value(x0 + delta * scale, 0.0, 1.0)


def direction(norm: str, grad: tf.Tensor) -> tf.Tensor:
    """sign(grad) for L∞, grad / ||grad|| for L2 (zero stays zero)."""
    if norm == "linf":
        return tf.sign(grad)
    return grad / (_per_example_norm(norm, grad) + 1e-12)


def random_start(norm: str, x0: tf.Tensor, seed: tf.Tensor, eps) -> tf.Tensor:
    """Uniform in the L∞ box, or a uniformly random direction at a uniformly random radius for
    L2; then projected. Stateless: the same seed gives the same start."""
    eps = tf.cast(eps, x0.dtype)
    shape = tf.shape(x0)
    if norm == "linf":
        noise = tf.random.stateless_uniform(shape, seed, -1.0, 1.0)
        return project(norm, x0 + eps * noise, x0, eps)
    gauss = tf.random.stateless_normal(shape, seed)
    per_example = tf.concat([shape[:1], tf.ones_like(shape[1:])], 0)
    radius = tf.random.stateless_uniform(per_example, seed[::-1])
    return project(norm, x0 + eps * radius * direction(norm, gauss), x0, eps)

"""Attack objectives per example, computed in float32 on logits (higher = closer to an error).

- `ce`: the cross-entropy of the true class; saturates on confident models (the gradient of a
  near-one softmax underflows), so it is never the only loss of a suite.
- `margin`: max_{i != y} z_i - z_y; positive exactly when the example is misclassified.
- `dlr`: Croce & Hein's difference of logits ratio, -(z_y - max_{i != y} z_i) / (z_π1 - z_π3),
  invariant to shifting and scaling the logits (so logit-scale masking does not hide errors).
- `dlr-targeted`: -(z_y - z_t) / (z_π1 - (z_π3 + z_π4) / 2) towards a target class t.
π sorts the logits in decreasing order; DLR needs at least 3 classes, its targeted form 4.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

LossFn = Callable[[tf.Tensor, tf.Tensor, tf.Tensor | None], tf.Tensor]
DLR_EPS = 1e-12


def _true_and_best_other(logits: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    true = tf.gather(logits, labels, batch_dims=1)
    others = tf.where(tf.one_hot(labels, tf.shape(logits)[-1]) > 0, -float("inf"), logits)
    return true, tf.reduce_max(others, axis=-1)


def ce(logits: tf.Tensor, labels: tf.Tensor, targets: tf.Tensor | None = None) -> tf.Tensor:
    del targets
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def margin(logits: tf.Tensor, labels: tf.Tensor, targets: tf.Tensor | None = None) -> tf.Tensor:
    del targets
    true, other = _true_and_best_other(logits, labels)
    return other - true


def dlr(logits: tf.Tensor, labels: tf.Tensor, targets: tf.Tensor | None = None) -> tf.Tensor:
    del targets
    true, other = _true_and_best_other(logits, labels)
    top = tf.math.top_k(logits, k=3).values
    return -(true - other) / (top[:, 0] - top[:, 2] + DLR_EPS)


def dlr_targeted(logits: tf.Tensor, labels: tf.Tensor, targets: tf.Tensor | None) -> tf.Tensor:
    if targets is None:
        raise ValueError("the dlr-targeted loss needs target classes")
    true = tf.gather(logits, labels, batch_dims=1)
    target = tf.gather(logits, targets, batch_dims=1)
    top = tf.math.top_k(logits, k=4).values
    return -(true - target) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + DLR_EPS)


LOSSES: dict[str, LossFn] = {"ce": ce, "margin": margin, "dlr": dlr, "dlr-targeted": dlr_targeted}
MIN_CLASSES = {"ce": 2, "margin": 2, "dlr": 3, "dlr-targeted": 4}


def get(name: str) -> LossFn:
    """The loss called `name`, or a ValueError naming the known ones."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"loss={name!r} is not one of {', '.join(LOSSES)}") from None


def per_example_loss(logits: tf.Tensor, labels: tf.Tensor, loss: str) -> tf.Tensor:
    """`loss` of each example, in float32."""
    return get(loss)(tf.cast(logits, tf.float32), labels, None)

"""The model under attack, and Expectation over Transformation (EOT) for models that are random.

A model that draws randomness when evaluated (random gazes or crops at inference) has no single
loss surface: a gradient from one draw points somewhere the next draw does not care about, and a
single forward pass is a coin flip, not an accuracy. So a `Target` that is `random` averages every
gradient over `eot_samples` draws (Athalye et al. 2018) and scores an image by its mean
correctness over `draws` fresh draws; a deterministic target uses one of each. A random target
with fewer than 2 EOT samples is refused: it would be attacked with plain, single-draw gradients.
All logits are float32 and every loss is computed on them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from attacks.losses import LossFn

LogitsFn = Callable[[tf.Tensor], tf.Tensor]
DEFAULT_EOT_SAMPLES = 10
DEFAULT_DRAWS = 10  # fresh draws behind every accuracy of a random model
# Attacks pass on only the still-robust examples, padded up to a multiple of 1/BUCKETS of the
# batch: a model with an XLA-compiled sampler compiles once per size (~0.3 s, 2-3 passes), and
# each padded example costs a pass (1/8: ~16 wasted examples per pass at batch 256; 1/32: ~4).
BUCKETS = 32


def batch_function(fn: Callable[..., Any], *extra: tf.TensorSpec) -> Callable[..., Any]:
    """Compiles `fn(images, labels, *int_vectors, *extra)` once per image shape, for any batch.

    The suite attacks the still-robust subset of each batch, so batch sizes vary; a signature
    with an unknown batch dimension traces the graph once instead of once per size. `extra`
    are the specs of trailing arguments (scalars such as ε or a step count), so one graph can
    serve several budgets.
    """
    compiled: dict[tuple, Any] = {}

    def call(images: tf.Tensor, labels: tf.Tensor, *rest: tf.Tensor):
        vectors = len(rest) - len(extra)
        key = (tuple(images.shape[1:]), vectors)
        if key not in compiled:
            spec = [tf.TensorSpec((None, *key[0]), tf.float32), tf.TensorSpec((None,), tf.int32)]
            spec += [tf.TensorSpec((None,), tf.int32)] * vectors
            compiled[key] = tf.function(fn, input_signature=[*spec, *extra])
        return compiled[key](images, labels, *rest)

    return call


class Target:
    """A logits function plus how to attack and score it.

    Args:
        logits_fn: images in [0, 1] (B, H, W, C) -> logits (B, classes); called in inference
            mode, and each call of a random model draws fresh randomness.
        random: the model is random at inference (the registry says so): gradients are EOT
            averages and accuracies are means over draws.
        eot_samples: draws averaged per gradient when random (>= 2).
        draws: fresh draws per accuracy when random.
        name: shown in messages.
        loss_scale: multiplies the loss before the backward pass (and divides the gradient
            back): with a float16 model, small input gradients would otherwise underflow to 0.
    """

    def __init__(
        self,
        logits_fn: LogitsFn,
        *,
        random: bool = False,
        eot_samples: int = DEFAULT_EOT_SAMPLES,
        draws: int = DEFAULT_DRAWS,
        name: str = "model",
        loss_scale: float = 1.0,
    ) -> None:
        if isinstance(eot_samples, bool) or not isinstance(eot_samples, int) or eot_samples < 1:
            raise ValueError(f"attack.eot_samples={eot_samples!r} must be an integer >= 1")
        if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
            raise ValueError(f"draws={draws!r} must be an integer >= 1")
        if random and eot_samples < 2:
            raise ValueError(
                f"{name} is random at inference, so it is attacked with EOT; "
                f"attack.eot_samples={eot_samples} would take every gradient from a single draw. "
                "Use at least 2 (default 10)."
            )
        self.logits_fn = logits_fn
        self.random = bool(random)
        self.eot_samples = int(eot_samples)
        self.draws = int(draws)
        self.name = name
        self.loss_scale = float(loss_scale)
        self._correct = batch_function(self._correct_graph)
        self._graphs: dict[Any, Callable[..., Any]] = {}

    def compiled(self, key: Any, build: Callable[[], Callable[..., Any]], *extra: tf.TensorSpec):
        """The attack graph `key` on this target, traced once and shared by every attack
        instance that asks for it (`build()` makes the graph function the first time)."""
        if key not in self._graphs:
            self._graphs[key] = batch_function(build(), *extra)
        return self._graphs[key]

    @property
    def grad_samples(self) -> int:
        """Draws averaged per gradient: `eot_samples` when random, else 1."""
        return self.eot_samples if self.random else 1

    @property
    def score_draws(self) -> int:
        """Draws averaged per accuracy: `draws` when random, else 1."""
        return self.draws if self.random else 1

    def logits(self, x: tf.Tensor) -> tf.Tensor:
        """One draw of float32 logits."""
        return tf.cast(self.logits_fn(x), tf.float32)

    def mean_logits(self, x: tf.Tensor) -> tf.Tensor:
        """Logits averaged over `grad_samples` draws (graph-safe)."""
        n = self.grad_samples
        if n == 1:
            return self.logits(x)
        total = self.logits(x)
        for _ in tf.range(n - 1):
            total += self.logits(x)
        return total / n

    def _one(self, x, labels, loss_fn: LossFn, targets):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            logits = self.logits(x)
            loss = loss_fn(logits, labels, targets)
            total = tf.reduce_sum(loss)  # a sum: the step does not depend on the batch size
            if self.loss_scale != 1.0:
                total *= self.loss_scale
        # A front-end that cuts the gradient (stop_gradient, argmax, ...) yields zeros, not None:
        # the attacks then stall visibly and the gradient check reports it.
        grad = tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        if self.loss_scale != 1.0:
            grad /= self.loss_scale
        return logits, loss, grad

    def loss_and_grad(
        self, x: tf.Tensor, labels: tf.Tensor, loss_fn: LossFn, targets: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(logits, per-example loss, input gradient), each averaged over `grad_samples` draws.

        The logits are those of the gradient's own forward passes, so attacks track their best
        iterate without an extra forward pass. Graph-safe (call it inside a tf.function).
        """
        n = self.grad_samples
        logits, loss, grad = self._one(x, labels, loss_fn, targets)
        if n == 1:
            return logits, loss, grad
        for _ in tf.range(n - 1):
            more = self._one(x, labels, loss_fn, targets)
            logits, loss, grad = logits + more[0], loss + more[1], grad + more[2]
        return logits / n, loss / n, grad / n

    def loss_and_hits(
        self, x: tf.Tensor, labels: tf.Tensor, loss_fn: LossFn, targets: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Forward passes only: the per-example loss and the share of draws that classify each
        example correctly, each over `grad_samples` draws (graph-safe)."""

        def one():
            logits = self.logits(x)
            right = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
            return loss_fn(logits, labels, targets), tf.cast(right, tf.float32)

        loss, hits = one()
        for _ in tf.range(self.grad_samples - 1):
            more = one()
            loss, hits = loss + more[0], hits + more[1]
        return loss / self.grad_samples, hits / self.grad_samples

    def active_loss_and_grad(
        self,
        x: tf.Tensor,
        labels: tf.Tensor,
        loss_fn: LossFn,
        active: tf.Tensor,
        targets: tf.Tensor | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """`loss_and_grad` on the `active` examples only; the others get zeros.

        Attacks stop spending passes on examples they have already fooled. The subset is padded
        (with copies of an active example) up to a multiple of 1/BUCKETS of the batch, so a
        compiled sampler inside the model sees a bounded number of batch sizes, not one per step.
        """
        idx = _bucketed(active)
        sub_targets = None if targets is None else tf.gather(targets, idx)
        logits, loss, grad = self.loss_and_grad(
            tf.gather(x, idx), tf.gather(labels, idx), loss_fn, sub_targets
        )
        n = tf.shape(x)[0]
        return _scatter(idx, logits, n), _scatter(idx, loss, n), _scatter(idx, grad, n)

    def active_mean_logits(self, x: tf.Tensor, active: tf.Tensor) -> tf.Tensor:
        """`mean_logits` on the `active` examples only; the others get zeros."""
        idx = _bucketed(active)
        return _scatter(idx, self.mean_logits(tf.gather(x, idx)), tf.shape(x)[0])

    def _correct_graph(self, x: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        def hit():
            pred = tf.argmax(self.logits(x), -1, output_type=tf.int32)
            return tf.cast(tf.equal(pred, labels), tf.float32)

        n = self.score_draws
        total = hit()
        for _ in tf.range(n - 1):
            total += hit()
        return total / n

    def correctness(self, images: np.ndarray, labels: np.ndarray, batch_size: int = 256):
        """Per-example correctness in [0, 1] (numpy float32): the mean over `score_draws` fresh
        draws for a random model, 0 or 1 for a deterministic one."""
        images = np.asarray(images, np.float32)
        labels = np.asarray(labels, np.int32)
        out = [
            self._correct(
                tf.constant(images[i : i + batch_size]), tf.constant(labels[i : i + batch_size])
            ).numpy()
            for i in range(0, len(labels), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def predict_logits(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """One draw of logits for an array of images (numpy)."""
        out = [
            self.logits(tf.constant(np.asarray(images[i : i + batch_size], np.float32))).numpy()
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _bucketed(active: tf.Tensor) -> tf.Tensor:
    """Indices of the active examples, padded by repeating the first one to a multiple of
    ceil(batch / BUCKETS) (capped at the batch; at least one index, as models may not take an empty
    batch: the values of an inactive example are then computed and ignored)."""
    n = tf.size(active)
    idx = tf.cast(tf.where(active)[:, 0], tf.int32)
    k = tf.size(idx)
    bucket = tf.maximum(1, (n + BUCKETS - 1) // BUCKETS)
    size = tf.maximum(1, tf.minimum(n, (k + bucket - 1) // bucket * bucket))  # never empty
    first = tf.concat([idx[:1], tf.zeros([1], tf.int32)], 0)[:1]
    return tf.concat([idx, tf.repeat(first, size - k)], 0)


def _scatter(idx: tf.Tensor, values: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """Values of the gathered examples written back into zeros of a batch of `n`."""
    shape = tf.concat([[n], tf.shape(values)[1:]], 0)
    return tf.tensor_scatter_nd_update(tf.zeros(shape, values.dtype), idx[:, None], values)

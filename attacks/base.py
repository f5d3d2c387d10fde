"""The one attack protocol, and the registry every attack joins with one line.

An attack is built for a `Target` (the model, with EOT when it is random) and a `ThreatModel`
(norm and ε) plus its own effort settings (its `budget`: steps, restarts, queries, ...). It maps
clean images and labels to adversarial images inside the threat set; the suite re-scores what it
returns, so an attack never reports its own success. Adding an attack is one module that defines a
builder and decorates it with `@register("name")`, plus its import in `attacks/__init__.py`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import tensorflow as tf

from attacks.target import Target, batch_function  # noqa: F401  (re-exported)
from attacks.threat import ThreatModel


@runtime_checkable
class Attack(Protocol):
    """What the suite, `evaluate` and the trial rely on.

    Attributes:
        name: the registry name; also the `<attack>` part of `adv_acc/<norm>/<attack>/<eps>`.
        threat: the norm and ε every returned point respects.
        budget: the effort settings it was built with (steps, restarts, queries, ...).
        white_box: whether it uses the target's gradients (Square and transfer do not).
    """

    name: str
    threat: ThreatModel
    budget: Mapping[str, Any]
    white_box: bool

    def __call__(self, images: np.ndarray | tf.Tensor, labels: np.ndarray | tf.Tensor) -> tf.Tensor:
        """Adversarial images (float32, same shape) for a batch of clean images and labels."""
        ...


Builder = Callable[..., Attack]
_ATTACKS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Registers an attack builder `build(target, threat, *, seed, **budget) -> Attack`."""

    def decorator(build: Builder) -> Builder:
        if name in _ATTACKS:
            raise ValueError(f"attack {name!r} is registered twice; names must be unique")
        _ATTACKS[name] = build
        return build

    return decorator


def names(pattern: str = "*") -> list[str]:
    """The registered attack names matching an fnmatch pattern, sorted."""
    return sorted(n for n in _ATTACKS if fnmatch.fnmatch(n, pattern))


def check_name(name: str, key: str = "attack") -> None:
    """Raises naming `key` and the known attacks when `name` is not registered."""
    if name not in _ATTACKS:
        raise ValueError(f"{key}={name!r} is not a known attack; known: {', '.join(names())}")


def build(name: str, target: Target, threat: ThreatModel, *, seed: int = 0, **budget) -> Attack:
    """Builds the attack registered as `name` for a target and a threat model."""
    check_name(name)
    return _ATTACKS[name](target, threat, seed=seed, **budget)


def check_steps(**counts: int) -> None:
    """Every named effort count must be an integer >= 1."""
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{key}={value!r} must be an integer >= 1")


def as_batch(images, labels) -> tuple[tf.Tensor, tf.Tensor]:
    """Float32 images and int32 labels as tensors."""
    return tf.convert_to_tensor(images, tf.float32), tf.convert_to_tensor(labels, tf.int32)


def keep_best(x, logits, loss, labels, best, best_loss, found):
    """Per-example best iterate: the first misclassified point, else the highest loss so far.

    Returns the updated (best, best_loss, found). Keeping the best point, never just the last,
    means a success on the way is not lost ("silent success", Pintor et al. 2022).
    """
    wrong = tf.not_equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
    take = tf.logical_and(tf.logical_not(found), tf.logical_or(wrong, loss > best_loss))
    best = tf.where(tf.reshape(take, [-1] + [1] * (len(x.shape) - 1)), x, best)
    best_loss = tf.where(take, loss, best_loss)
    return best, best_loss, tf.logical_or(found, wrong)


def keep_lowest(x, hits, loss, best, best_hits, best_loss):
    """Per-example best iterate of an attack on a random model: the one the fewest EOT draws
    classified correctly (`hits`, a share), ties broken by the higher mean loss.

    Returns the updated (best, best_hits, best_loss).
    """
    take = (hits < best_hits) | ((hits == best_hits) & (loss > best_loss))
    best = tf.where(tf.reshape(take, [-1] + [1] * (len(x.shape) - 1)), x, best)
    return best, tf.where(take, hits, best_hits), tf.where(take, loss, best_loss)

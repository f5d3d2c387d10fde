"""The attack suite: a cascade of attacks and its per-example worst case.

Each example's robust score starts at its clean correctness (0 or 1; for a random model, the mean
over fresh draws) and, after every attack, drops to the minimum of itself and the correctness of
that attack's output: the per-example worst case over the suite (Carlini et al.: mean over
examples of the minimum over attacks, never the minimum of per-attack means). Only examples with
a score above 0 go on to the next attack. Every returned batch is checked against the threat
model before it is scored. `after[name]` is the robust accuracy once `name` and every attack
before it have run, so the first attack's figure is its own and the last one is `adv_acc`.

A random model has no exact correctness, only noisy means over draws, and both obvious uses of
them are biased: the running minimum of noisy scores drifts down with every attack (it reports
lucky draws), and keeping whichever point scored lower then re-scoring it drifts up (it keeps
points that were lucky for the model). So there each example keeps one point, an attack's output
replaces the clean image unless it scores higher, and replaces an earlier attack's point only when
lower by more than a standard error, both judged on `SELECT_ROUNDS` × draws fresh draws; the
reported figures are `REPORT_ROUNDS` × draws further fresh draws of the kept points. On the demo's
coarse-crop model this lands within 0.01 of a plain 50-step EOT-PGD (issue 15).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from attacks import base
from attacks.base import Attack
from attacks.config import AttackConfig
from attacks.target import Target
from attacks.threat import ThreatModel


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Per-example scores in [0, 1]: clean correctness, and the worst case after each attack
    (in cascade order)."""

    clean: np.ndarray
    after: dict[str, np.ndarray]

    @property
    def robust(self) -> np.ndarray:
        """The worst case over the whole suite (clean correctness when it ran no attack)."""
        return list(self.after.values())[-1] if self.after else self.clean

    def __len__(self) -> int:
        return len(self.clean)

    def accuracies(self) -> dict[str, float]:
        """Mean clean score, and the mean worst case after each attack."""
        out = {"clean": _mean(self.clean)}
        out.update({name: _mean(scores) for name, scores in self.after.items()})
        return out

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        arrays = {f"{prefix}clean": self.clean}
        arrays.update({f"{prefix}after/{n}": s for n, s in self.after.items()})
        arrays[f"{prefix}order"] = np.array(list(self.after), dtype=str)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "") -> Outcome:
        order = [str(n) for n in arrays[f"{prefix}order"]]
        return cls(arrays[f"{prefix}clean"], {n: arrays[f"{prefix}after/{n}"] for n in order})


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def combine(outcomes: Sequence[Outcome]) -> Outcome:
    """Concatenates per-batch outcomes (same attacks in the same order)."""
    if not outcomes:
        return Outcome(np.zeros(0, np.float32), {})
    names = list(outcomes[0].after)
    return Outcome(
        np.concatenate([o.clean for o in outcomes]),
        {n: np.concatenate([o.after[n] for o in outcomes]) for n in names},
    )


def build(
    cfg: AttackConfig,
    target: Target,
    *,
    eps: float | None = None,
    seed: int = 0,
    surrogate: Target | None = None,
    white_box_only: bool = False,
) -> list[Attack]:
    """The configured suite for a target, in cascade order ("rand" version for a random one).

    Args:
        cfg: the attack config (norm, ε, budget or explicit attack list, step override).
        target: the model under attack.
        eps: another ε than the headline one (for the curve).
        seed: seeds every attack's random starts (each gets its own offset).
        surrogate: the transfer attack's model (needed when the suite holds `transfer`).
        white_box_only: leave out the score-based and transfer attacks.
    """
    threat = ThreatModel(cfg.norm, cfg.eps if eps is None else eps)
    suite = []
    for i, name in enumerate(cfg.suite_names(target.random)):
        if white_box_only and name == "transfer":
            continue
        extra: dict[str, Any] = {"surrogate": surrogate} if name == "transfer" else {}
        settings = cfg.settings(name, target.random)
        attack = base.build(name, target, threat, seed=seed + 1000 * i, **settings, **extra)
        if white_box_only and not attack.white_box:
            continue
        suite.append(attack)
    return suite


Progress = Callable[[str, int, float], None]
SELECT_ROUNDS = 10  # a random model's two candidate points are compared on 10 x `draws` draws
REPORT_ROUNDS = 3  # and its kept points re-scored on 3 x `draws` fresh ones


def cascade(
    target: Target,
    attacks: Sequence[Attack],
    images: np.ndarray,
    labels: np.ndarray,
    *,
    clean: np.ndarray | None = None,
    batch_size: int = 256,
    progress: Progress | None = None,
) -> Outcome:
    """Runs the attacks in turn, each on the examples still robust after the previous ones.

    Args:
        target: scores every point (mean over fresh draws when random).
        attacks: in cascade order.
        images: clean images, float32 in [0, 1].
        labels: int labels.
        clean: the clean correctness if already known.
        batch_size: scoring batch size.
        progress: called as progress(attack name, examples attacked, seconds) after each attack.
    """
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels, np.int32)
    if clean is None:
        clean = target.correctness(images, labels, batch_size)
    score = np.asarray(clean, np.float32).copy()  # the kept point's score: picks and filters
    worst = images.copy()  # the point behind it
    attacked = np.zeros(len(labels), bool)  # whether that point is an attack's output
    after: dict[str, np.ndarray] = {}
    for attack in attacks:
        started = time.perf_counter()
        idx = np.flatnonzero(score > 0)
        if idx.size:
            x_adv = np.asarray(attack(images[idx], labels[idx]))
            attack.threat.check(x_adv, images[idx], attack.name)
            if target.random:
                lower = _noisy_lower(
                    target, x_adv, worst[idx], labels[idx], batch_size, attacked[idx]
                )
                attacked[idx[lower]] = True
            else:
                scores = target.correctness(x_adv, labels[idx], batch_size)
                lower = scores < score[idx]
                score[idx[lower]] = scores[lower]
            worst[idx[lower]] = x_adv[lower]
        if target.random:  # fresh draws of the kept points: unbiased by the choice above
            score = _fresh(target, worst, labels, batch_size, REPORT_ROUNDS)
        after[attack.name] = score.copy()
        if progress is not None:
            progress(attack.name, int(idx.size), time.perf_counter() - started)
    return Outcome(np.asarray(clean, np.float32), after)


def _noisy_lower(
    target: Target,
    new: np.ndarray,
    old: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    old_attacked: np.ndarray,
) -> np.ndarray:
    """Where a random model's new point is better for the attack than the kept one, judged on
    `SELECT_ROUNDS` × its draws of each, all fresh (the running minimum of earlier noisy scores
    would favour whichever point had lucky draws).

    An attack's point replaces the clean image unless it scores higher; it replaces an earlier
    attack's point only when lower by more than one standard error of the difference, so that
    a weaker later attack does not swap in points that merely had lucky draws.
    """
    new_score = _fresh(target, new, labels, batch_size, SELECT_ROUNDS)
    old_score = _fresh(target, old, labels, batch_size, SELECT_ROUNDS)
    n = SELECT_ROUNDS * target.draws
    spread = new_score * (1 - new_score) + old_score * (1 - old_score)
    margin = np.where(old_attacked, np.sqrt(spread / n), 0.0)
    return np.where(old_attacked, new_score < old_score - margin, new_score <= old_score)


def _fresh(
    target: Target, x: np.ndarray, labels: np.ndarray, batch_size: int, rounds: int
) -> np.ndarray:
    """Per-example correctness over `rounds` × the target's draws, all fresh."""
    return np.mean([target.correctness(x, labels, batch_size) for _ in range(rounds)], 0)

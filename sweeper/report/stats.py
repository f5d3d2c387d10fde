"""The figures the report derives: intervals, seed spreads, the ranking, the Pareto front and the
best trial, as pure functions of the stored trials."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from typing import Any

from sweeper.report.trials import TrialRecord
from trial import metrics as M
from trial.config import parse_float

Z95 = 1.959963984540054  # two-sided 95% normal quantile
DEFAULT_MAX_CLEAN_LOSS = 0.05


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion p observed on n trials (Wilson, 1927).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at p = 0 or 1, which
    robust accuracies often are."""
    if n <= 0:
        raise ValueError(f"n={n}: a Wilson interval needs at least one example")
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))  # rounding


def varied_keys(trials: list[TrialRecord]) -> list[str]:
    """Config keys whose value differs between trials (a key a trial lacks counts as a value)."""
    keys = sorted({k for t in trials for k in t.config})
    return [k for k in keys if len({json.dumps(t.config.get(k)) for t in trials}) > 1]


def eligible(trial: TrialRecord) -> bool:
    """Ranked: completed, with final figures, and no failed sanity check."""
    return trial.status == "completed" and trial.has_final and not trial.failed_checks


GROUP_ORDER = ("ranked", "checks failed", "completed", "diverged", "stopped")


def group(trial: TrialRecord) -> str:
    if eligible(trial):
        return "ranked"
    if trial.has_final and trial.failed_checks:
        return "checks failed"
    if trial.status in GROUP_ORDER:
        return trial.status
    return "other"


def order(trials: list[TrialRecord], metric: str, mode: str) -> list[TrialRecord]:
    """Ranked trials best first by the study metric; then, unranked, those whose checks failed,
    diverged, stopped early (by their last per-epoch figures), and the rest."""

    def score(t: TrialRecord) -> float:
        value = t.figure(metric)
        if value is None:
            value = t.figure(M.VAL_CLEAN_ACC)
        if value is None:
            return math.inf
        return -value if mode == "max" else value

    groups = (*GROUP_ORDER, "other")
    return sorted(trials, key=lambda t: (groups.index(group(t)), score(t), t.name))


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (both maximised)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (a >= x and b >= y) and (a > x or b > y) for j, (a, b) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


@dataclasses.dataclass(frozen=True)
class Best:
    """The report's best trial and the rule that picked it."""

    trial: TrialRecord | None
    rule: str


def best_trial(trials: list[TrialRecord], max_clean_loss: float) -> Best:
    """The highest adv_acc among ranked trials whose clean_acc is within `max_clean_loss` of the
    best clean_acc: robustness bought with at most that much clean accuracy."""
    rule = (
        f"highest `adv_acc` among completed trials with passing checks whose `clean_acc` is "
        f"within {max_clean_loss:g} of the best `clean_acc`"
    )
    pool = [t for t in trials if eligible(t)]
    if not pool:
        return Best(None, rule)
    top = max(t.final[M.CLEAN_ACC] for t in pool)
    near = [t for t in pool if t.final[M.CLEAN_ACC] >= top - max_clean_loss - 1e-12]
    best = max(near, key=lambda t: (t.final[M.ADV_ACC], t.final[M.CLEAN_ACC]))
    return Best(best, f"{rule} ({top:.4g})")


@dataclasses.dataclass(frozen=True)
class SeedGroup:
    """Trials that differ only in their seed."""

    config: dict[str, Any]
    trials: tuple[TrialRecord, ...]

    def spread(self, key: str) -> tuple[float, float] | None:
        """(mean, sample std) of a final figure over the group's seeds."""
        values = [t.final[key] for t in self.trials if t.has_final]
        if len(values) < 2:
            return None
        return statistics.fmean(values), statistics.stdev(values)


def seed_groups(trials: list[TrialRecord]) -> list[SeedGroup]:
    """Groups of two or more finished trials whose configs differ only in `seed`."""
    groups: dict[str, list[TrialRecord]] = {}
    for t in trials:
        if t.has_final and t.status == "completed":
            rest = {k: v for k, v in t.config.items() if k != "seed"}
            groups.setdefault(json.dumps(rest, sort_keys=True, default=str), []).append(t)
    out = []
    for members in groups.values():
        if len({t.config.get("seed", 0) for t in members}) > 1:
            rest = {k: v for k, v in members[0].config.items() if k != "seed"}
            out.append(SeedGroup(rest, tuple(members)))
    return out


def fmt_eps(eps: float) -> str:
    """ε as k/255 when it is one (the usual way to write it), else as a number."""
    k = eps * 255
    if abs(k - round(k)) < 1e-6 and round(k) > 0:
        return f"{round(k)}/255 ({eps:.4g})"
    return f"{eps:.4g}"


def threat_model(trials: list[TrialRecord]) -> str:
    """The study's threat model and attack budget, from the trials' configs and results."""

    def values(key: str, default: Any, result_key: str | None = None) -> list[Any]:
        found = set()
        for t in trials:
            value = t.final.get(result_key) if result_key else None
            found.add(json.dumps(value if value is not None else t.config.get(key, default)))
        return sorted(json.loads(v) for v in found)

    norms = values("attack.norm", "linf")
    # As the study wrote it: a bayes trial's config keeps "8/255", a grid trial's the number.
    eps = {parse_float(e, "attack.eps") for t in trials if (e := t.config.get("attack.eps"))}
    budgets = values("attack.budget", "demo", M.ATTACK_BUDGET)
    n_tests = sorted({t.n_test for t in trials if t.n_test})
    norm_text = ", ".join({"linf": "L∞", "l2": "L2"}.get(n, str(n)) for n in norms)
    eps_text = ", ".join(fmt_eps(e) for e in sorted(eps)) or "the default"
    text = f"threat model {norm_text}, ε = {eps_text}; attack budget {', '.join(map(str, budgets))}"
    if n_tests:
        text += f" on {', '.join(map(str, n_tests))} test images"
    return text

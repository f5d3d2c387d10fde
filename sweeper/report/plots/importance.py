"""Parameter importance for the study metric: Optuna's fANOVA over the study's parameters.

The stored trials become an in-memory Optuna study (`optuna.trial.create_trial`); each varied
config key becomes a distribution (numbers: a range, log-scaled when it spans two decades;
anything else: categorical). Only trials with a final value of the metric count, and a key
that some of them lack (inapplicable to their family) is left out, as Optuna does."""

from __future__ import annotations

import json
import math
from typing import Any

from sweeper.report.plots import Context, Section, figure, png
from sweeper.report.stats import eligible

TITLE = "Parameter importance (fANOVA)"
MIN_TRIALS = 5


def _distribution(values: list[Any]):
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if numeric:
        lo, hi = min(values), max(values)
        if all(isinstance(v, int) for v in values):
            return IntDistribution(int(lo), int(hi))
        return FloatDistribution(float(lo), float(hi), log=lo > 0 and hi / lo >= 100)
    return CategoricalDistribution(sorted({_choice(v) for v in values}, key=str))


def _choice(value: Any) -> Any:
    return (
        value if value is None or isinstance(value, bool | int | float | str) else json.dumps(value)
    )


def importances(ctx: Context) -> tuple[dict[str, float], int]:
    """fANOVA importance of each varied parameter, and how many trials it used."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator

    scored = [t for t in ctx.trials if eligible(t) and _finite(t.final.get(ctx.metric))]
    keys = [k for k in ctx.keys if all(k in t.config for t in scored)]
    if len(scored) < MIN_TRIALS or not keys:
        return {}, len(scored)
    dists = {}
    for k in keys:
        values = [t.config[k] for t in scored]
        if len({json.dumps(v) for v in values}) > 1:
            dists[k] = _distribution(values)
    if not dists:
        return {}, len(scored)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if ctx.mode == "max" else "minimize")
    for t in scored:
        params = {
            k: _choice(t.config[k]) if k in dists and _is_cat(dists[k]) else t.config[k]
            for k in dists
        }
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=dists, value=float(t.final[ctx.metric])
            )
        )
    evaluator = FanovaImportanceEvaluator(seed=0)
    return optuna.importance.get_param_importances(study, evaluator=evaluator), len(scored)


def _is_cat(dist) -> bool:
    from optuna.distributions import CategoricalDistribution

    return isinstance(dist, CategoricalDistribution)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def render(ctx: Context) -> Section:
    found, n = importances(ctx)
    if not found:
        reason = (
            f"Too few trials for parameter importance: {n} ranked trial(s) with a final "
            f"`{ctx.metric}` "
            f"(fANOVA needs at least {MIN_TRIALS})."
            if n < MIN_TRIALS
            else "No parameter varies across the trials with a final figure."
        )
        return Section("importance", TITLE, text=reason)
    names = list(found)[::-1]
    fig = figure(7, 0.6 + 0.45 * len(names))
    ax = fig.add_subplot()
    ax.barh(names, [found[k] for k in names], color="tab:blue")
    ax.set_xlabel(f"importance for {ctx.metric} (fANOVA, sums to 1)")
    ax.set_xlim(0, 1)
    ax.grid(axis="x", alpha=0.3)
    text = f"fANOVA over {n} ranked trials (completed, checks passed): " + ", ".join(
        f"{k} {v:.2f}" for k, v in found.items()
    )
    if len(found) == 1:
        text += " (a single parameter varies, so it carries all of the variance by definition)"
    return Section("importance", TITLE, (("parameter importance", png(fig)),), text + ".")

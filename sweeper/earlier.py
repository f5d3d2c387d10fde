"""Which trials of a study already ran, among the trials of an earlier study folder.

A trial of the study already ran when an earlier trial has the same canonical config
(`sweeper.points.canonical`: keys its model kind lacks dropped, inert fields at their standing
value), whichever study file ran it and however it spelled its values (8/255 or 0.0314). For a
bayes study an earlier trial counts when some point of its space makes exactly that trial; that
point, with the trial's final metric, seeds Optuna (`sweeper.extend`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from sweeper.points import canonical, plan
from sweeper.study import Study, StudyError


def _key(study: Study, config: dict[str, Any]) -> str | None:
    try:
        return canonical(study, config).key
    except StudyError:  # a config this version of the code no longer accepts: never matches
        return None


def new_points(study: Study, earlier: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Grid/random: the study's trials that no earlier config matches (capped at the study's
    max_trials, which only --smoke-test sets), and how many of its trials already ran."""
    done = {_key(study, config) for config in earlier}
    every = plan(dataclasses.replace(study, max_trials=None)).points
    new = [point for point in every if canonical(study, point).key not in done]
    return new[: study.max_trials or None], len(every) - len(new)


def _assignment(study: Study, config: dict[str, Any]) -> dict[str, Any] | None:
    """Values of the study's parameters that make exactly the trial `config`, or None when no
    point of the study's space makes it. A parameter the trial's model kind lacks takes its
    first value (the middle of a range): it changes nothing, as in Optuna's own trials."""
    target = _key(study, config)
    if target is None:
        return None
    full = json.loads(target)
    assignment = dict(study.overrides)
    for param in study.params:
        if param.path in study.overrides:
            continue
        if param.values is not None:
            options = param.values
        elif param.path in full:
            options = [full[param.path]]
        else:
            options = param.probe_values()[1:2]
        chosen = [v for v in options if _key(study, {**config, param.path: v}) == target]
        if not chosen:
            return None
        assignment[param.path] = chosen[0]
    return assignment if _key(study, assignment) == target else None


def optuna_space(study: Study) -> dict[str, Any]:
    """The bayes study's space as Optuna distributions, keyed as Tune flattens it for Optuna."""
    from ray.tune.search.optuna import OptunaSearch

    from sweeper.tune import search_space

    return OptunaSearch.convert_search_space(search_space(study)[0])


def _inside(point: dict[str, Any], space: dict[str, Any]) -> bool:
    """Whether Optuna accepts the point as a trial of the space (every value in range)."""
    import optuna

    try:
        optuna.trial.create_trial(params=point, distributions=space, value=0.0)
    except (ValueError, TypeError):
        return False
    return True


def bayes_history(
    study: Study, earlier: list[tuple[dict[str, Any], Any]]
) -> tuple[int, list[tuple[dict[str, Any], float]]]:
    """Of earlier (config, metric value) pairs: how many lie in the bayes study's space, and
    the (Optuna point, value) of those with a finite value (the searcher's seeds)."""
    space = optuna_space(study)
    inside, seeds = 0, []
    for config, value in earlier:
        assignment = _assignment(study, config)
        if assignment is None:
            continue
        point = {key: assignment[key.partition("/")[2]] for key in space}
        if not _inside(point, space):
            continue
        inside += 1
        if isinstance(value, int | float) and math.isfinite(value):
            seeds.append((point, float(value)))
    return inside, seeds

"""Which metric a study may rank by (`metric.name`) or ASHA may watch (`early_terminate.metric`),
and which way it points, so a study cannot train everything and rank nothing.

A name must be a number that trials report, as `trial.metrics.DEFINITIONS` defines it (an exact
name or a family such as `adv_acc/<norm>/<attack>/<eps>`): text (`status`), artifacts
(`artifact/overlay`), a check's verdict (`check/gradients`) or a word such as `evaluation` are
refused. Its goal is the direction the definition states (`metric.goal` and
`early_terminate.goal` may repeat it, never contradict it); a number without a direction of its
own (a baseline, a count, a diagnostic) needs the goal said. Before Ray starts, each trial's own
list of reported names (`trial.reported`: per family, dataset and attack suite) must hold the
name, or the trials that lack it are named.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from trial import metrics as M

DEFAULT_ASHA_METRIC = M.VAL_CLEAN_ACC
_ARTIFACT = "artifact/"
_TEXT = {M.STATUS, M.PHASE, M.ATTACK_BUDGET, "stop_reason", "node_id", "error"}


def _names(per_epoch: bool) -> list[str]:
    return [k for k, d in M.DEFINITIONS.items() if d.per_epoch == per_epoch]


def _allowed(per_epoch: bool | None = None) -> str:
    if per_epoch is None:
        return f"at the end: {', '.join(_names(False))}; every epoch: {', '.join(_names(True))}"
    return ", ".join(_names(per_epoch))


_UNKNOWN = "no trial reports this metric"


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, list(M.DEFINITIONS), n=1, cutoff=0.4)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _not_a_number(name: str) -> str:
    """Why `name`, which is no number of `DEFINITIONS`, cannot rank trials."""
    if name.startswith(_ARTIFACT):
        return "is a PNG path a trial reports for W&B to show, not a number"
    if name.startswith("check/") and name.count("/") == 1:
        return (
            "is a sanity verdict (pass | fail), not a number; rank by checks_passed or by one "
            f"of its numbers, {name}/<number>"
        )
    if name in M.PROGRESS:
        return "counts how far a trial's final evaluation got, not how good its model is"
    if name in _TEXT or name == M.EVALUATION:
        return "is text a trial reports (or the name of its evaluation phase), not a number"
    return _UNKNOWN


def _problem_of_name(name: Any, what: str, *, per_epoch: bool | None) -> str | None:
    if not isinstance(name, str):
        return f"must be a metric name (text) such as {what}"
    found = M.definition(name)
    if found is None:
        why = _not_a_number(name)
        if why == _UNKNOWN:  # a typo, perhaps (a known non-number's reason says enough)
            why += _suggest(name)
        return f"{why}; use a number trials report, {_allowed()}"
    if per_epoch is True and not found.per_epoch:
        return f"ASHA compares trials epoch by epoch, so use a per-epoch metric: {_allowed(True)}"
    if per_epoch is False and found.per_epoch:
        return (
            "bayes optimises what every finished trial reports at the end; use one of "
            f"{_allowed(False)}"
        )
    return None


def study_metric_problem(name: Any, *, bayes: bool) -> str | None:
    """Why `name` cannot be a study's `metric.name`, or None."""
    return _problem_of_name(name, "adv_acc", per_epoch=False if bayes else None)


def asha_problem(name: Any) -> str | None:
    """Why ASHA cannot watch `name` (it needs a number every epoch reports), or None."""
    return _problem_of_name(name, DEFAULT_ASHA_METRIC, per_epoch=True)


def goal(name: str, given: Any, field: str) -> tuple[str | None, str | None]:
    """(the goal, None), or (None, why not): the definition's direction, or `given` where the
    definition states none. `field` is the goal's field in the study (e.g. `metric.goal`)."""
    stated = M.definition(name).goal  # a valid name (checked first)
    if given is not None and (not isinstance(given, str) or given not in M.GOALS):
        return None, f"{field}={given!r} must be maximize or minimize"
    meaning = M.definition(name).meaning
    if stated is None:
        if given is None:
            return None, (
                f"{name} ({meaning}) has no better direction of its own, so say which way it "
                f"should go: {field}: maximize or minimize (or choose a metric whose "
                "definition states one, e.g. val/clean_acc)"
            )
        return given, None
    if given is not None and given != stated:
        word = "higher" if stated == M.MAXIMIZE else "lower"
        return None, (
            f"{field}={given} contradicts {name}, which is {word}-is-better ({meaning}; "
            f"trial/metrics.py); drop {field} or write {stated}"
        )
    return stated, None


def unreported(name: str, field: str, trials: Iterable[tuple[dict[str, Any], bool]]):
    """Why some trials could never be ranked or scheduled by `name` (each trial's config, and
    whether it reports `name`), or None."""
    lacking = [config for config, reports in trials if not reports]
    if not lacking:
        return None
    shown = ", ".join(
        "{" + ", ".join(f"{k}: {v}" for k, v in sorted(c.items()) if k != "trial") + "}"
        for c in lacking[:3]
    )
    more = f" (and {len(lacking) - 3} more)" if len(lacking) > 3 else ""
    reach = "be ranked" if field == "metric.name" else "be stopped by ASHA"
    return (
        f"{field}={name!r} is not reported by {len(lacking)} trial(s) of the study, which could "
        f"never {reach}: {shown}{more}. Gaze metrics come from learned-gaze families "
        "(gaze/object_dist also needs a dataset with object centres), stn/* from spatial "
        "transformers, adv_acc/<norm>/<attack>/<eps> from the attacks of each trial's suite; "
        "choose a metric every trial reports, or split the study"
    )

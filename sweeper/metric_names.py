"""Which metric names a trial reports, so a study cannot rank by (or ASHA watch) a name no trial
ever reports (`adversarial_accuracy` would otherwise train the whole study and rank nothing).

The names come from `trial.metrics` (design.md's metric names) plus the families of per-key names
the design fixes: `adv_acc/<norm>/<attack>/<eps>`, `adv_curve/...`, `check/<name>`, `gaze/*`,
`stn/*`, `train/loss/<term>`.
"""

from __future__ import annotations

import difflib
from typing import Any

DEFAULT_ASHA_METRIC = "val/clean_acc"
# Text fields of a result, never a number to rank by.
_NOT_NUMBERS = {"status", "attack_budget", "phase", "stop_reason", "node_id", "error"}
FINAL_PREFIXES = ("adv_acc/", "adv_curve/", "check/")
EPOCH_PREFIXES = ("gaze/", "stn/", "train/loss/", "val/")


def _constants() -> set[str]:
    from trial import metrics

    return {
        v
        for k, v in vars(metrics).items()
        if k.isupper() and isinstance(v, str) and v not in _NOT_NUMBERS
    }


def per_epoch() -> set[str]:
    """Exact names every epoch reports."""
    from trial import metrics as M

    return {M.VAL_CLEAN_ACC, M.VAL_ADV_ACC, M.TRAIN_LOSS}


def final() -> set[str]:
    """Exact names the final evaluation reports (what bayes can optimise)."""
    return _constants() - per_epoch() - {"epoch"}


def _suggest(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.4)
    return f" (did you mean {close[0]!r}?)" if close else ""


def study_metric_problem(name: Any, *, bayes: bool) -> str | None:
    """Why `name` cannot be a study's `metric.name`, or None."""
    if not isinstance(name, str):
        return "must be a metric name such as adv_acc"
    reported = final() | per_epoch() | {"time/epoch_s", "data/skipped"}
    prefixes = FINAL_PREFIXES + EPOCH_PREFIXES
    if name in reported or name.startswith(prefixes):
        if bayes and not (name in final() or name.startswith(FINAL_PREFIXES)):
            return (
                "bayes optimises what every finished trial reports at the end; use one of "
                f"{', '.join(sorted(final()))} or adv_acc/<norm>/<attack>/<eps>"
            )
        return None
    return (
        f"no trial reports this metric{_suggest(name, reported)}; trials report "
        f"{', '.join(sorted(reported))} and the families adv_acc/<norm>/<attack>/<eps>, "
        "check/<name>, gaze/*, stn/*"
    )


def asha_problem(name: Any) -> str | None:
    """Why ASHA cannot watch `name` (it needs a number every epoch reports), or None."""
    if not isinstance(name, str):
        return "must be a metric name such as val/clean_acc"
    if name in per_epoch() or name.startswith(EPOCH_PREFIXES):
        return None
    return (
        f"ASHA compares trials epoch by epoch, so it needs a per-epoch metric"
        f"{_suggest(name, per_epoch())}: {', '.join(sorted(per_epoch()))}, gaze/*, stn/* or "
        "train/loss/<term>"
    )

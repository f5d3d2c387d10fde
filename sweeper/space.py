"""A study's search space, validated before Ray starts: the entry point the CLI and tests use.

The work is split along its seams: `sweeper.params` (distributions: one `Param` per parameter,
used alike by grid, random and bayes), `sweeper.study` (the file's schema and its errors) and
`sweeper.points` (the trials it implies, deduplicated on their canonical form). `load_study`
runs the cheap checks for every method; `check_before_ray` adds the ones that cost seconds (every
trial's model built once as its family's tiny variant, bayes: each probe configuration's; the
study and ASHA metrics reported by every trial; each dataset present).
"""

from __future__ import annotations

from pathlib import Path

from sweeper import metric_names
from sweeper.params import DISTRIBUTIONS, Param
from sweeper.points import Plan, check_max_t, data_configs, plan, probe_models, trial_points
from sweeper.study import (
    DEFAULT_RANDOM_RUN_CAP,
    SMOKE_MAX_TRIALS,
    SMOKE_OVERRIDES,
    EarlyTerminate,
    Study,
    StudyError,
    read_study,
    resolve_path,
)

__all__ = [
    "DEFAULT_RANDOM_RUN_CAP",
    "DISTRIBUTIONS",
    "SMOKE_MAX_TRIALS",
    "SMOKE_OVERRIDES",
    "EarlyTerminate",
    "Param",
    "Plan",
    "Study",
    "StudyError",
    "check_before_ray",
    "load_study",
    "plan",
    "resolve_path",
    "trial_points",
]


def load_study(study: str | Path, project_dir: Path | None = None) -> Study:
    """Reads a study file and validates every field and every trial configuration it implies
    (bayes: its probe sample); raises StudyError naming the file, the field and the fix."""
    path = resolve_path(study, project_dir)
    result = read_study(path)
    check_max_t(result, plan(result).points)
    return result


def check_before_ray(study: Study) -> list[str]:
    """The checks that cost seconds, run once before Ray starts: every trial's model (bayes:
    each probe configuration's) built as a tiny probe, the study metric and the ASHA metric
    reported by each of those trials, and every dataset the study uses present (through the
    dataset registry's own `check`). Returns the missing-data problems (the caller decides
    whether they are fatal: a dry run only warns); raises StudyError for a model that does not
    build or a metric some trial never reports."""
    from trial import data

    probes = probe_models(study)
    watched = [(study.metric, "metric.name", False)]
    if study.early_terminate is not None:  # ASHA needs its metric after every epoch
        watched.append((study.early_terminate.metric, "early_terminate.metric", True))
    for name, field, per_epoch in watched:
        problem = metric_names.unreported(
            name, field, ((p.point, p.reported.has(name, per_epoch=per_epoch)) for p in probes)
        )
        if problem:
            raise StudyError(f"{study.path}: {problem}")
    problems = []
    for cfg in data_configs(study):
        try:
            data.check(cfg)
        except ValueError as err:
            problems.append(f"data.name={cfg.name}: {err}")
    return problems

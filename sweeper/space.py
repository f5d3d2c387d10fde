"""A study's search space, validated before Ray starts: the entry point the CLI and tests use.

The work is split along its seams: `sweeper.params` (distributions: one `Param` per parameter,
used alike by grid, random and bayes), `sweeper.study` (the file's schema and its errors) and
`sweeper.points` (the trials it implies, deduplicated on their canonical form). `load_study`
runs the cheap checks for every method; `check_before_ray` adds the expensive ones (each bayes
probe configuration built as its family's tiny model; each dataset present).
"""

from __future__ import annotations

from pathlib import Path

from sweeper.params import DISTRIBUTIONS, Param
from sweeper.points import Plan, build_tiny_models, check_max_t, data_configs, plan, trial_points
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
    """The checks that cost seconds, run once before Ray starts: a bayes study's probe sample
    built as tiny models, and every dataset the study uses present (through the dataset
    registry's own `check`). Returns the missing-data problems (the caller decides whether they
    are fatal: a dry run only warns); raises StudyError for a model that does not build."""
    from trial import data

    if study.method == "bayes":
        build_tiny_models(study)
    problems = []
    for cfg in data_configs(study):
        try:
            data.check(cfg)
        except ValueError as err:
            problems.append(f"data.name={cfg.name}: {err}")
    return problems

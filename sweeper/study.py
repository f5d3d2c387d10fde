"""The study file's schema: W&B sweep syntax over dotted TrialConfig paths, checked field by field.

`read_study` turns a YAML file into a `Study` or raises `StudyError` naming the file, the field
and the fix; it never lets a malformed file through to a traceback. The trial configurations a
study implies are checked by `sweeper.points` (`sweeper.space.load_study` runs both).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from pathlib import Path
from typing import Any

from sweeper import metric_names
from sweeper.params import Param, ParamError, parse_param
from sweeper.study_file import StudyError, fail, read_mapping, resolve_path
from trial import metrics as M

__all__ = ["EarlyTerminate", "Study", "StudyError", "fail", "read_study", "resolve_path"]

METHODS = ("grid", "random", "bayes")
TOP_LEVEL = {
    "name",
    "description",
    "method",
    "metric",
    "parameters",
    "early_terminate",
    "run_cap",
    "seed",
    "resources",
    "max_concurrent_trials",
    "time_budget_s",
    "project",
    "entity",
}
EARLY_TERMINATE = {"type", "min_iter", "max_iter", "eta", "s", "metric", "goal"}
DEFAULT_RANDOM_RUN_CAP = 8
SMOKE_OVERRIDES: dict[str, Any] = {  # --smoke-test: tiny data, 2 epochs, the smoke attack budget
    "data.train_size": 512,
    "data.val_size": 128,
    "data.test_size": 64,
    "train.epochs": 2,
    "train.batch_size": 64,
    "attack.budget": "smoke",
    "attack.val_examples": 64,
}
SMOKE_MAX_TRIALS = 2


@dataclasses.dataclass(frozen=True)
class EarlyTerminate:
    """ASHA settings (W&B `hyperband` keys mapped onto Tune's ASHAScheduler)."""

    grace_period: int
    reduction_factor: int
    max_t: int | None
    brackets: int
    metric: str
    goal: str  # which way `metric` is better: its definition's, or the study's where it has none

    @property
    def mode(self) -> str:
        return "max" if self.goal == M.MAXIMIZE else "min"

    def fingerprint(self) -> dict[str, Any]:
        """What `--resume` compares; a goal the metric's definition states is implied (so a run
        folder recorded before `goal` existed still resumes)."""
        out = dataclasses.asdict(self)
        if self.goal == M.definition(self.metric).goal:
            del out["goal"]
        return out


@dataclasses.dataclass(frozen=True)
class Study:
    """A validated study."""

    name: str
    path: Path
    method: str
    metric: str
    goal: str
    params: tuple[Param, ...]
    early_terminate: EarlyTerminate | None
    run_cap: int | None
    seed: int
    resources: dict[str, float]
    project: str
    entity: str | None = None  # the W&B entity (user or team) of every run; None: the default
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)  # win over parameters
    max_trials: int | None = None  # cap on the trials of every method (--smoke-test)
    max_concurrent_trials: int | None = None
    study_time_budget_s: float | None = None  # the whole study (Tune stops it, resumable)
    trial_time_budget_s: float | None = None  # each trial (stopped after the epoch past it)

    @property
    def mode(self) -> str:
        return "max" if self.goal == "maximize" else "min"

    @property
    def num_samples(self) -> int:
        """How many trials a bayes study asks Optuna for (at most `max_trials`, like the trial
        list of a grid or random study: `--smoke-test` caps every method alike)."""
        wanted = self.run_cap or DEFAULT_RANDOM_RUN_CAP
        return min(wanted, self.max_trials) if self.max_trials else wanted

    def smoke(self) -> Study:
        """The `--smoke-test` variant: tiny trials, at most two, in its own `<name>-smoke` folder
        (so a smoke run never stands in for the real study on `--resume`)."""
        return dataclasses.replace(
            self,
            name=f"{self.name}-smoke",
            overrides=dict(SMOKE_OVERRIDES),
            max_trials=SMOKE_MAX_TRIALS,
        )

    def fingerprint(self) -> dict[str, Any]:
        """What defines the study's trials; `--resume` refuses a run started from another one."""
        return {
            "method": self.method,
            "metric": [self.metric, self.goal],
            "parameters": {p.path: p.describe() for p in self.params},
            "early_terminate": self.early_terminate.fingerprint() if self.early_terminate else None,
            "run_cap": self.run_cap,
            "seed": self.seed,
            "overrides": self.overrides,
        }


def _check_path(path: Path, key: str) -> None:
    import models
    from trial.config import TrialConfig

    section = key.partition(".")[0]
    if key == "seed":
        return
    if section == "model":
        fields = {
            f.name
            for kind in models.names()
            for f in dataclasses.fields(models.get(kind).config_cls)
        }
        known = sorted(f"model.{f}" for f in fields)
    elif section == "data":  # every dataset's fields (data.name picks which apply)
        from trial.data import config_paths

        known = config_paths()
    elif section in ("train", "attack"):
        cls = type(getattr(TrialConfig(), section))
        known = sorted(f"{section}.{f.name}" for f in dataclasses.fields(cls))
    else:
        raise fail(
            path,
            f"parameter {key!r} is not a TrialConfig path; paths start with "
            "model., data., train., attack. or are `seed`",
        )
    if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise fail(
            path, f"unknown parameter {key!r}{hint}; known {section} paths: {', '.join(known)}"
        )


def _positive_int(path: Path, where: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise fail(path, f"{where}={value!r} must be an integer >= {minimum}")
    return value


def _positive_number(path: Path, where: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise fail(path, f"{where}={value!r} must be a positive number (seconds)")
    return float(value)


def _early_terminate(path: Path, spec: Any) -> EarlyTerminate | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise fail(path, f"early_terminate must be a mapping, got {spec!r}")
    unknown = sorted(map(str, set(spec) - EARLY_TERMINATE))
    if unknown:
        raise fail(
            path,
            f"early_terminate has unknown field(s) {unknown}; allowed: {sorted(EARLY_TERMINATE)}",
        )
    if spec.get("type", "hyperband") != "hyperband":
        raise fail(
            path,
            f"early_terminate.type={spec['type']!r}: only `hyperband` (run as Tune's ASHA) is "
            "supported",
        )
    ints: dict[str, int | None] = {}
    for key, default in (("min_iter", 1), ("eta", 3), ("s", 1), ("max_iter", None)):
        value = spec.get(key, default)
        ints[key] = None if value is None else _positive_int(path, f"early_terminate.{key}", value)
    if ints["eta"] < 2:
        raise fail(path, f"early_terminate.eta={ints['eta']} must be >= 2")
    if ints["max_iter"] is not None and ints["min_iter"] > ints["max_iter"]:
        raise fail(
            path,
            f"early_terminate.min_iter={ints['min_iter']} exceeds max_iter={ints['max_iter']}: "
            "ASHA's first rung would come after its last; lower min_iter or raise max_iter",
        )
    metric = spec.get("metric", metric_names.DEFAULT_ASHA_METRIC)
    problem = metric_names.asha_problem(metric)
    if problem:
        raise fail(path, f"early_terminate.metric={metric!r}: {problem}")
    goal, problem = metric_names.goal(metric, spec.get("goal"), "early_terminate.goal")
    if problem:
        raise fail(path, problem)
    return EarlyTerminate(ints["min_iter"], ints["eta"], ints["max_iter"], ints["s"], metric, goal)


def _resources(path: Path, spec: Any) -> dict[str, float]:
    if not isinstance(spec, dict) or set(spec) - {"cpu", "gpu"}:
        raise fail(path, f"resources={spec!r} must be {{cpu: N, gpu: N}} per trial")
    out = {}
    for key, default in (("cpu", 1), ("gpu", 0)):
        value = spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise fail(path, f"resources.{key}={value!r} must be a number >= 0")
        if value > 1 and value != int(value):
            raise fail(
                path,
                f"resources.{key}={value}: Ray shares a {key} between trials only as a fraction "
                "below 1 (gpu: 0.5 puts two trials on a card); above 1 use a whole number",
            )
        out[key] = float(value)
    if out["cpu"] <= 0:
        raise fail(path, "resources.cpu must be > 0 (a trial's input pipeline needs a CPU)")
    return out


def _wandb_name(path: Path, field: str, value: Any) -> str:
    """A W&B project or entity name: text without spaces or W&B's reserved characters."""
    if not isinstance(value, str) or not value or re.search(r"[\s/\\#?%:]", value):
        example = "attention-sweeps" if field == "project" else "my-team"
        raise fail(
            path,
            f"{field}={value!r} must be a W&B {field} name: text without spaces or any of "
            f"/ \\ # ? % : (e.g. {field}: {example})",
        )
    return value


def _time_budget(path: Path, spec: Any) -> tuple[float | None, float | None]:
    if spec is None:
        return None, None
    if not isinstance(spec, dict) or not spec or set(spec) - {"study", "trial"}:
        raise fail(
            path,
            f"time_budget_s={spec!r} must be a mapping {{study: SECONDS, trial: SECONDS}} "
            "(either key may be left out)",
        )
    return tuple(  # type: ignore[return-value]
        None if spec.get(k) is None else _positive_number(path, f"time_budget_s.{k}", spec[k])
        for k in ("study", "trial")
    )


def read_study(path: Path) -> Study:
    """Reads and checks a study file's fields (not yet the trial configurations they imply)."""
    raw = read_mapping(path)
    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(TOP_LEVEL), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise fail(path, f"unknown field(s) {unknown}{hint}; allowed: {sorted(TOP_LEVEL)}")
    method = raw.get("method")
    if not isinstance(method, str) or method not in METHODS:
        raise fail(path, f"method={method!r} must be one of {', '.join(METHODS)}")
    metric = raw.get("metric", {"name": M.ADV_ACC})
    if not isinstance(metric, dict) or set(metric) - {"name", "goal"} or "name" not in metric:
        raise fail(
            path,
            f"metric={metric!r} must be {{name: <metric>}} (optionally with goal: maximize or "
            "minimize, which the metric's definition implies)",
        )
    problem = metric_names.study_metric_problem(metric["name"], bayes=method == "bayes")
    if problem:
        raise fail(path, f"metric.name={metric['name']!r}: {problem}")
    goal, problem = metric_names.goal(metric["name"], metric.get("goal"), "metric.goal")
    if problem:
        raise fail(path, problem)
    params_raw = raw.get("parameters")
    if not isinstance(params_raw, dict) or not params_raw:
        raise fail(path, "parameters must be a non-empty mapping of dotted config paths")
    params = []
    for key, spec in params_raw.items():
        _check_path(path, str(key))
        try:
            params.append(parse_param(str(key), spec))
        except ParamError as err:
            raise fail(path, str(err)) from None
    if method == "grid":
        bad = [p.path for p in params if p.values is None]
        if bad:
            raise fail(
                path,
                f"grid search needs `values` for every parameter; {bad} use a distribution (use "
                "method: random or bayes for those)",
            )
    run_cap = raw.get("run_cap")
    if run_cap is not None:
        _positive_int(path, "run_cap", run_cap)
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise fail(path, f"seed={seed!r} must be an integer in [0, 2**32)")
    concurrent = raw.get("max_concurrent_trials")
    if concurrent is not None:
        _positive_int(path, "max_concurrent_trials", concurrent)
    study_budget, trial_budget = _time_budget(path, raw.get("time_budget_s"))
    name = raw.get("name", path.stem)
    if not isinstance(name, str | int) or not str(name).strip() or "/" in str(name):
        raise fail(path, f"name={name!r} must be a folder name (text without '/')")
    return Study(
        name=str(name),
        path=path,
        method=method,
        metric=str(metric["name"]),
        goal=goal,
        params=tuple(params),
        early_terminate=_early_terminate(path, raw.get("early_terminate")),
        run_cap=run_cap,
        seed=seed,
        resources=_resources(path, raw.get("resources", {"cpu": 1, "gpu": 0})),
        project=_wandb_name(path, "project", raw.get("project", "attention-sweeps")),
        entity=None if raw.get("entity") is None else _wandb_name(path, "entity", raw["entity"]),
        max_concurrent_trials=concurrent,
        study_time_budget_s=study_budget,
        trial_time_budget_s=trial_budget,
    )

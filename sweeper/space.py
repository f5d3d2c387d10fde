"""Study files: W&B sweep syntax over dotted TrialConfig paths, validated before Ray starts.

A study is one YAML file. `load_study` checks every field, every parameter path, every
distribution and every trial configuration it implies, and raises `StudyError` naming the file,
the field and the fix. `trial_points` materialises the trials of a grid or random study (grid:
every point, deduplicated after dropping keys the point's `model.kind` lacks; random: `run_cap`
seeded samples), which is exactly what `--dry-run` prints and what Tune runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

METHODS = ("grid", "random", "bayes")
GOALS = ("maximize", "minimize")
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
    "project",
    "entity",
}
EARLY_TERMINATE = {"type", "min_iter", "max_iter", "eta", "s", "metric"}
DISTRIBUTIONS = {
    "constant": {"value"},
    "categorical": {"values"},
    "int_uniform": {"min", "max"},
    "uniform": {"min", "max"},
    "q_uniform": {"min", "max", "q"},
    "log_uniform_values": {"min", "max"},
    "q_log_uniform_values": {"min", "max", "q"},
    "log_uniform": {"min", "max"},  # W&B: bounds are natural logs of the values
    "normal": {"mu", "sigma"},
    "q_normal": {"mu", "sigma", "q"},
}
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


class StudyError(ValueError):
    """A study file is invalid; the message names the file, the field and the fix."""


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of the search space."""

    path: str
    distribution: str
    spec: dict[str, Any]

    @property
    def values(self) -> list[Any] | None:
        if self.distribution == "constant":
            return [self.spec["value"]]
        if self.distribution == "categorical":
            return list(self.spec["values"])
        return None

    def sample(self, rng: np.random.Generator) -> Any:
        """One random draw (used by random search; bayes hands the space to Optuna)."""
        d, s = self.distribution, self.spec
        if self.values is not None:
            return self.values[rng.integers(len(self.values))]
        if d == "int_uniform":
            return int(rng.integers(s["min"], s["max"] + 1))
        if d in ("uniform", "q_uniform"):
            value = rng.uniform(s["min"], s["max"])
        elif d in ("log_uniform_values", "q_log_uniform_values"):
            value = math.exp(rng.uniform(math.log(s["min"]), math.log(s["max"])))
        elif d == "log_uniform":
            value = math.exp(rng.uniform(s["min"], s["max"]))
        else:
            value = rng.normal(s["mu"], s["sigma"])
        if "q" in s:
            value = round(value / s["q"]) * s["q"]
        return float(value)


@dataclasses.dataclass(frozen=True)
class EarlyTerminate:
    """ASHA settings (W&B `hyperband` keys mapped onto Tune's ASHAScheduler)."""

    grace_period: int
    reduction_factor: int
    max_t: int | None
    brackets: int
    metric: str


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
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)  # win over parameters
    max_trials: int | None = None  # cap on the grid/random trial list

    @property
    def mode(self) -> str:
        return "max" if self.goal == "maximize" else "min"

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
            "parameters": {p.path: {"distribution": p.distribution, **p.spec} for p in self.params},
            "early_terminate": dataclasses.asdict(self.early_terminate)
            if self.early_terminate
            else None,
            "run_cap": self.run_cap,
            "seed": self.seed,
            "overrides": self.overrides,
        }


def _fail(path: Path, msg: str) -> StudyError:
    return StudyError(f"{path}: {msg}")


def resolve_path(study: str | Path, project_dir: Path | None = None) -> Path:
    """Finds a study file: as given (relative to the working directory), then in the project."""
    candidate = Path(study)
    searched = [Path.cwd()]
    if project_dir is not None and not candidate.is_absolute():
        searched += [project_dir, project_dir / "search_spaces"]
    for base in searched:
        if (base / candidate).is_file():
            return (base / candidate).resolve()
    where = ", ".join(dict.fromkeys(str(p) for p in searched))
    raise StudyError(
        f"study file {str(study)!r} does not exist (looked in {where}); studies live in "
        "search_spaces/, e.g. search_spaces/demo.yaml"
    )


def _number(path: Path, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _fail(path, f"{where}={value!r} must be a number")
    try:
        from trial.config import parse_float

        return parse_float(value, where)
    except ValueError as err:
        raise _fail(path, str(err)) from None


def _param(path: Path, key: str, spec: Any) -> Param:
    where = f"parameters.{key}"
    if not isinstance(spec, dict):
        raise _fail(
            path,
            f"{where} must be a mapping such as {{values: [...]}} or "
            f"{{distribution: uniform, min: 0, max: 1}}, got {spec!r}",
        )
    spec = dict(spec)
    if "distribution" in spec:
        dist = spec.pop("distribution")
    elif "values" in spec:
        dist = "categorical"
    elif "value" in spec:
        dist = "constant"
    elif {"min", "max"} <= set(spec):
        both_int = all(
            isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("min", "max")
        )
        dist = "int_uniform" if both_int else "uniform"
    else:
        raise _fail(
            path,
            f"{where} needs `values`, `value` or a `distribution` with its "
            f"bounds; got keys {sorted(spec)}",
        )
    if dist not in DISTRIBUTIONS:
        raise _fail(
            path,
            f"{where}.distribution={dist!r} is not supported; use one of "
            f"{', '.join(DISTRIBUTIONS)}",
        )
    need = DISTRIBUTIONS[dist]
    if set(spec) != need:
        raise _fail(
            path, f"{where}: distribution {dist!r} takes exactly {sorted(need)}, got {sorted(spec)}"
        )
    if dist == "categorical" and (not isinstance(spec["values"], list) or not spec["values"]):
        raise _fail(path, f"{where}.values must be a non-empty list")
    for bound in need & {"min", "max", "mu", "sigma", "q"}:
        spec[bound] = _number(path, f"{where}.{bound}", spec[bound])
        if dist == "int_uniform":
            if spec[bound] != int(spec[bound]):
                raise _fail(path, f"{where}.{bound}={spec[bound]} must be an integer")
            spec[bound] = int(spec[bound])
    if "min" in spec and spec["min"] > spec["max"]:
        raise _fail(path, f"{where}: min={spec['min']} is larger than max={spec['max']}")
    if dist in ("log_uniform_values", "q_log_uniform_values") and spec["min"] <= 0:
        raise _fail(path, f"{where}: {dist} needs min > 0, got {spec['min']}")
    if spec.get("sigma", 1) <= 0 or spec.get("q", 1) <= 0:
        raise _fail(path, f"{where}: sigma and q must be > 0")
    return Param(key, dist, spec)


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
        raise _fail(
            path,
            f"parameter {key!r} is not a TrialConfig path; paths start with "
            "model., data., train., attack. or are `seed`",
        )
    if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(
            path, f"unknown parameter {key!r}{hint}; known {section} paths: {', '.join(known)}"
        )


def _early_terminate(path: Path, spec: Any) -> EarlyTerminate | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise _fail(path, f"early_terminate must be a mapping, got {spec!r}")
    unknown = sorted(set(spec) - EARLY_TERMINATE)
    if unknown:
        raise _fail(
            path,
            f"early_terminate has unknown field(s) {unknown}; allowed: {sorted(EARLY_TERMINATE)}",
        )
    if spec.get("type", "hyperband") != "hyperband":
        raise _fail(
            path,
            f"early_terminate.type={spec['type']!r}: only `hyperband` (run as "
            "Tune's ASHA) is supported",
        )
    ints = {}
    for key, default in (("min_iter", 1), ("eta", 3), ("s", 1), ("max_iter", None)):
        value = spec.get(key, default)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise _fail(path, f"early_terminate.{key}={value!r} must be a positive integer")
        ints[key] = value
    if ints["eta"] < 2:
        raise _fail(path, f"early_terminate.eta={ints['eta']} must be >= 2")
    from trial import metrics

    metric = spec.get("metric", metrics.VAL_CLEAN_ACC)
    if not isinstance(metric, str):
        raise _fail(path, f"early_terminate.metric={metric!r} must be a metric name")
    return EarlyTerminate(ints["min_iter"], ints["eta"], ints["max_iter"], ints["s"], metric)


def load_study(study: str | Path, project_dir: Path | None = None) -> Study:
    """Reads and validates a study file (and every trial config it implies)."""
    path = resolve_path(study, project_dir)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise _fail(path, f"is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise _fail(path, "must be a YAML mapping with at least `method` and `parameters`")
    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        raise _fail(path, f"unknown field(s) {unknown}; allowed: {sorted(TOP_LEVEL)}")
    method = raw.get("method")
    if method not in METHODS:
        raise _fail(path, f"method={method!r} must be one of {', '.join(METHODS)}")
    metric = raw.get("metric", {"name": "adv_acc", "goal": "maximize"})
    if not isinstance(metric, dict) or set(metric) - {"name", "goal"} or "name" not in metric:
        raise _fail(path, f"metric={metric!r} must be {{name: <metric>, goal: maximize|minimize}}")
    goal = metric.get("goal", "maximize")
    if goal not in GOALS:
        raise _fail(path, f"metric.goal={goal!r} must be maximize or minimize")
    params_raw = raw.get("parameters")
    if not isinstance(params_raw, dict) or not params_raw:
        raise _fail(path, "parameters must be a non-empty mapping of dotted config paths")
    params = []
    for key, spec in params_raw.items():
        _check_path(path, str(key))
        params.append(_param(path, str(key), spec))
    if method == "grid":
        bad = [p.path for p in params if p.values is None]
        if bad:
            raise _fail(
                path,
                f"grid search needs `values` for every parameter; {bad} use a "
                "distribution (use method: random or bayes for those)",
            )
    run_cap = raw.get("run_cap")
    if run_cap is not None and (
        isinstance(run_cap, bool) or not isinstance(run_cap, int) or run_cap < 1
    ):
        raise _fail(path, f"run_cap={run_cap!r} must be a positive integer")
    resources = raw.get("resources", {"cpu": 1, "gpu": 0})
    if not isinstance(resources, dict) or set(resources) - {"cpu", "gpu"}:
        raise _fail(path, f"resources={resources!r} must be {{cpu: N, gpu: N}} per trial")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _fail(path, f"seed={seed!r} must be an integer")
    result = Study(
        name=str(raw.get("name", path.stem)),
        path=path,
        method=method,
        metric=str(metric["name"]),
        goal=goal,
        params=tuple(params),
        early_terminate=_early_terminate(path, raw.get("early_terminate")),
        run_cap=run_cap,
        seed=seed,
        resources={"cpu": float(resources.get("cpu", 1)), "gpu": float(resources.get("gpu", 0))},
        project=str(raw.get("project", "attention-sweeps")),
    )
    if method != "bayes":
        points = trial_points(result)
        _check_max_t(result, points)
    return result


def _check_max_t(study: Study, points: list[dict[str, Any]]) -> None:
    from trial.config import TrialConfig

    et = study.early_terminate
    if et is None or et.max_t is None:
        return
    longest = max(TrialConfig.from_dict(p).train.epochs for p in points)
    if et.max_t < longest:
        raise _fail(
            study.path,
            f"early_terminate.max_iter={et.max_t} is below the longest "
            f"train.epochs={longest}: ASHA would stop trials before their "
            "final attack; raise max_iter or drop it",
        )


def materialise(study: Study, assignment: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """One trial's flat config: drops keys its kind lacks and validates the rest."""
    from trial.config import TrialConfig, drop_inapplicable

    try:
        kept, dropped = drop_inapplicable(assignment)
        cfg = TrialConfig.from_dict(kept)
    except ValueError as err:
        raise _fail(
            study.path, f"trial {json.dumps(assignment, default=str)} is invalid: {err}"
        ) from None
    flat = cfg.to_dict()
    return {k: flat[k] for k in kept}, dropped


def trial_points(study: Study) -> list[dict[str, Any]]:
    """The trials of a grid or random study, as flat dicts of the study's parameters."""
    if study.method == "grid":
        names = [p.path for p in study.params]
        combos = itertools.product(*(p.values for p in study.params))
        assignments = [dict(zip(names, combo, strict=True)) for combo in combos]
    elif study.method == "random":
        rng = np.random.default_rng(study.seed)
        n = study.run_cap or DEFAULT_RANDOM_RUN_CAP
        assignments = [{p.path: p.sample(rng) for p in study.params} for _ in range(n)]
    else:
        raise _fail(study.path, "bayes studies have no fixed trial list; Optuna proposes them")
    points, seen = [], set()
    for assignment in assignments:
        assignment = {**assignment, **study.overrides}
        point, _ = materialise(study, assignment)
        key = json.dumps(point, sort_keys=True, default=str)
        if study.method == "grid" and key in seen:
            continue
        seen.add(key)
        points.append(point)
    if study.method == "grid" and study.run_cap:
        points = points[: study.run_cap]
    return points[: study.max_trials] if study.max_trials else points

"""The trials a study implies, each one a strict `TrialConfig`, and each functionally distinct.

Grid studies enumerate their values; random studies draw `run_cap` seeded samples; bayes studies
have no fixed list (Optuna proposes), so a probe sample stands in for validation: every
categorical value at least once and each numeric range's ends and middle, built as the strict
config and as the family's tiny model before Ray starts.

Two points are the same trial when their configs agree after dropping the keys their model kind
lacks and setting the fields the family declares inert to their standing value
(`ModelConfig.canonical()`: with one gaze, `shared` and `gaze_init: grid` change nothing). Each
distinct trial runs once; `Plan.notes` says what was merged.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
from typing import Any

import numpy as np

from sweeper.study import DEFAULT_RANDOM_RUN_CAP, Study, fail

log = logging.getLogger("sweeper")
MAX_GRID = 100_000  # a grid larger than this is a typo (or a job for random search)


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a study will run: its trials (bayes: the probe sample) and notes for the user."""

    points: list[dict[str, Any]]
    notes: list[str]


@dataclasses.dataclass(frozen=True)
class Point:
    """One assignment as a trial: `values` holds the study's keys (minus those the model kind
    lacks) at their canonical values; `key` identifies the trial; `inert` names the keys whose
    value the canonical form changed."""

    values: dict[str, Any]
    key: str
    dropped: list[str]
    inert: list[str]


def canonical(study: Study, assignment: dict[str, Any]) -> Point:
    """Validates one assignment as a strict TrialConfig and puts it in canonical form."""
    from trial.config import TrialConfig, drop_inapplicable

    try:
        kept, dropped = drop_inapplicable(assignment)
        cfg = TrialConfig.from_dict(kept)
    except (ValueError, TypeError, OverflowError) as err:
        raise fail(
            study.path, f"trial {json.dumps(assignment, default=str)} is invalid: {err}"
        ) from None
    raw = cfg.to_dict()
    model = getattr(cfg.model, "canonical", None)
    if model is not None:
        cfg = dataclasses.replace(cfg, model=model())
    flat = cfg.to_dict()
    return Point(
        values={k: flat[k] for k in kept},
        key=json.dumps(flat, sort_keys=True, default=str),
        dropped=dropped,
        inert=sorted(k for k in flat if flat[k] != raw[k]),
    )


def materialise(study: Study, assignment: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """One trial's flat config: drops keys its kind lacks and validates the rest."""
    point = canonical(study, assignment)
    return point.values, point.dropped


def _grid_assignments(study: Study) -> list[dict[str, Any]]:
    size = math.prod(len(p.values or ()) for p in study.params)
    if size > MAX_GRID:
        raise fail(
            study.path,
            f"the grid has {size:,} points (more than {MAX_GRID:,}); use method: random with "
            "a run_cap, or fewer values",
        )
    names = [p.path for p in study.params]
    combos = itertools.product(*(p.values for p in study.params))
    return [dict(zip(names, combo, strict=True)) for combo in combos]


def _distinct(
    study: Study, assignments, wanted: int | None = None
) -> tuple[list[dict[str, Any]], int, set[str]]:
    """Distinct trials in order of first appearance (stopping at `wanted`), how many repeats,
    and which keys merged."""
    points, seen, repeats, merged = [], set(), 0, set()
    for assignment in assignments:
        point = canonical(study, {**assignment, **study.overrides})
        merged |= set(point.inert)
        if point.key in seen:
            repeats += 1
            continue
        seen.add(point.key)
        points.append(point.values)
        if len(points) == wanted:
            break
    return points, repeats, merged


def _merge_note(repeats: int, total: int, merged: set[str]) -> str:
    why = f" (given the other fields, {', '.join(sorted(merged))} change nothing)" if merged else ""
    return f"{repeats} of {total} points repeat another trial{why}; each distinct trial runs once"


def _grid(study: Study) -> Plan:
    assignments = _grid_assignments(study)
    points, repeats, merged = _distinct(study, assignments)
    notes = [_merge_note(repeats, len(assignments), merged)] if repeats else []
    if study.run_cap and len(points) > study.run_cap:
        notes.append(f"run_cap={study.run_cap} keeps the first {study.run_cap} of {len(points)}")
        points = points[: study.run_cap]
    return Plan(points, notes)


def _random(study: Study) -> Plan:
    wanted = study.run_cap or DEFAULT_RANDOM_RUN_CAP
    finite = all(p.values is not None for p in study.params)
    # A small finite space is enumerated: it may hold fewer distinct trials than run_cap.
    if finite and math.prod(len(p.values) for p in study.params) <= 20 * wanted + 1000:
        every, _, _ = _distinct(study, _grid_assignments(study))
        if len(every) <= wanted:
            return Plan(
                every,
                [
                    f"random search over {len(every)} distinct point(s), fewer than "
                    f"run_cap={wanted}: each runs once"
                ],
            )
    rng = np.random.default_rng(study.seed)
    samples = ({p.path: p.sample(rng) for p in study.params} for _ in range(50 * wanted + 100))
    points, repeats, _ = _distinct(study, samples, wanted)
    draws = len(points) + repeats
    notes = (
        [f"{repeats} repeated draw(s) skipped; each distinct trial runs once"] if repeats else []
    )
    if len(points) < wanted:
        notes.append(
            f"random search found only {len(points)} distinct point(s) for run_cap={wanted} "
            f"in {draws} draws: each runs once"
        )
    return Plan(points, notes)


def probe_assignments(study: Study) -> list[dict[str, Any]]:
    """A bayes study's validation sample: every categorical value at least once, and the ends
    and middle of every numeric range."""
    probes = [p.probe_values() for p in study.params]
    count = max(len(v) for v in probes)
    return [
        {p.path: values[i % len(values)] for p, values in zip(study.params, probes, strict=True)}
        for i in range(count)
    ]


def plan(study: Study) -> Plan:
    """The study's trials (grid, random) or its probe sample (bayes), deduplicated."""
    if study.method == "grid":
        result = _grid(study)
    elif study.method == "random":
        result = _random(study)
    else:  # every probe, whatever the cap: Optuna may propose any of them (Study.num_samples)
        points, _, _ = _distinct(study, probe_assignments(study))
        return Plan(points, [])
    if study.max_trials and len(result.points) > study.max_trials:
        return Plan(result.points[: study.max_trials], result.notes)
    return result


def trial_points(study: Study) -> list[dict[str, Any]]:
    """The trials of a grid or random study, as flat dicts of the study's parameters."""
    if study.method == "bayes":
        raise fail(study.path, "bayes studies have no fixed trial list; Optuna proposes them")
    return plan(study).points


def check_max_t(study: Study, points: list[dict[str, Any]]) -> None:
    """ASHA's max_t below a trial's epochs would stop trials before their final evaluation."""
    from trial.config import TrialConfig

    et = study.early_terminate
    if et is None or et.max_t is None or not points:
        return
    longest = max(TrialConfig.from_dict(p).train.epochs for p in points)
    if et.max_t < longest:
        raise fail(
            study.path,
            f"early_terminate.max_iter={et.max_t} is below the longest train.epochs={longest}: "
            "ASHA would stop trials before their final attack; raise max_iter or drop it",
        )


def data_configs(study: Study) -> list[Any]:
    """Each distinct dataset section the study's trials (bayes: its probe sample) use."""
    from trial.config import TrialConfig

    found: list[Any] = []
    for point in plan(study).points:
        data = TrialConfig.from_dict(point).data
        if data not in found:
            found.append(data)
    return found


@dataclasses.dataclass(frozen=True)
class Probe:
    """One trial (bayes: one probe configuration) whose model was built as a tiny probe, and
    the metric names that trial reports (`trial.reported`)."""

    point: dict[str, Any]
    reported: Any  # trial.reported.Reported


def probe_models(study: Study) -> list[Probe]:
    """Builds the model of every trial (bayes: of every probe configuration) once, as its
    family's tiny variant (the study's own model fields win over the tiny sizes) at the study's
    input size, channels and class count, before Ray starts: a model that cannot be built there
    fails here in seconds, not on the cluster after `--max-failures` retries. Raises StudyError
    naming the trial that fails."""
    import keras

    points = plan(study).points
    if len(points) > 10:
        log.info("building the models of %d trials as tiny probes", len(points))
    built: dict[tuple, tuple[frozenset[str], frozenset[str]]] = {}
    try:
        return [_probe(study, point, built) for point in points]
    finally:
        keras.backend.clear_session()  # once: a garbage collection per model doubles the time


def _probe(study: Study, point: dict[str, Any], built: dict) -> Probe:
    """One trial's probe (`probe_models`); `built` holds the parts of each distinct model."""
    import keras

    import models
    from trial.config import TrialConfig
    from trial.data import get as dataset
    from trial.reported import model_parts, reported

    cfg = TrialConfig.from_dict(point)
    family = models.get(cfg.model.kind)
    tiny, default = family.config_cls.tiny(), family.config_cls()
    chosen = {k.partition(".")[2] for k in point if k.startswith("model.")}
    sizes = {
        f.name: getattr(tiny, f.name)
        for f in dataclasses.fields(tiny)
        if f.name not in chosen and getattr(tiny, f.name) != getattr(default, f.name)
    }
    model_cfg = dataclasses.replace(cfg.model, **sizes)
    data = dataset(cfg.data.name)
    shape = (cfg.data.image_size, cfg.data.image_size, data.channels)
    key = (repr(model_cfg), shape, data.num_classes)
    if key not in built:
        try:  # the layers and their shapes only: no weight is ever given a value
            with keras.StatelessScope(initialize_variables=False):
                built[key] = model_parts(models.build(model_cfg, shape, data.num_classes))
        except Exception as err:  # any builder failure is the study's problem, named
            raise fail(
                study.path,
                f"trial {json.dumps(point, default=str)} does not build its model at "
                f"data.image_size={cfg.data.image_size} ({type(err).__name__}: {err}); "
                "change that trial's model fields or data.image_size",
            ) from None
        finally:
            keras.backend.clear_session(free_memory=False)
    return Probe(point, reported(cfg, *built[key]))

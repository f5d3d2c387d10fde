"""Extending a finished study: `sweeper/run.py NEW.yaml --extend runs/<study>`.

Tune cannot change the space of a study it restores (ray#30223), so an extension is a Tune
experiment of its own, started in the same folder under the same name: its trial folders land
beside the earlier ones (the report reads every `trial_*` folder), and Tune's newest experiment
state is the extension's, so `--resume` continues the extension. `study.json` becomes the new
study's fingerprint; `extensions.json` lists every extension with the fingerprint it replaced.

A trial of NEW.yaml already ran when an earlier trial in the folder has the same canonical config
(`sweeper.earlier`). Grid and random studies run the rest. A bayes study asks Optuna for
`run_cap` trials in all: earlier trials that lie in its space count toward them, and those with
a final metric seed the search (Optuna sees them as completed trials). A folder with unfinished
trials is refused: an extension would leave them unfinished for good.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sweeper.earlier import bayes_history, new_points
from sweeper.points import plan
from sweeper.storage import STUDY_RECORD, Storage, parse_storage, recorded_fingerprint
from sweeper.study import Study

EXTENSIONS = "extensions.json"  # in the study folder: one entry per extension


class ExtendError(ValueError):
    """An extension that cannot run; the message says why and how to fix it."""


@dataclasses.dataclass(frozen=True)
class Extension:
    """What `--extend` runs in a study folder.

    Attributes:
        points: grid/random: the trials to run (on a continuation, as recorded).
        remaining: how many trials to run (bayes: how many Optuna still proposes).
        already: trials of the new study that the folder holds (bayes: those in its space).
        earlier: trial folders the folder held before.
        seeds: bayes: (Optuna point, metric) of earlier trials, to seed the search.
        resume: continue the extension (or study) Tune saved in the folder.
    """

    study: Study
    storage: Storage
    shown: str
    points: list[dict[str, Any]]
    remaining: int
    already: int
    earlier: int
    seeds: list[tuple[dict[str, Any], float]] = dataclasses.field(default_factory=list)
    resume: bool = False

    def space(self):
        """Tune's (param_space, search algorithm, samples, longest epochs) for the extension."""
        from sweeper.tune import search_space

        if self.study.method == "bayes":
            return search_space(
                self.study,
                seeds=self.seeds,
                num_samples=self.remaining,
                search_seed=self.study.seed + self.earlier,  # differs from every earlier run's
            )
        return search_space(self.study, points=self.points)

    def describe(self) -> tuple[list[str], str]:
        """What `--dry-run --extend` prints: one JSON line per trial (bayes: one for the
        search), and a closing sentence."""
        study, count = self.study, self.remaining
        if self.resume:
            return [], f"would continue the interrupted run of {study.path.name} in {self.shown}"
        if study.method == "bayes":
            space = {p.path: p.describe() for p in study.params}
            line = {"method": "bayes", "trials": count, "seeded": len(self.seeds), "space": space}
            return [json.dumps(line, default=str)], (
                f"bayes study {study.name!r}: {count} new trial(s) would run in {self.shown}; "
                f"{self.already} earlier trial(s) lie in its space, {len(self.seeds)} of them "
                f"seed the search with their {study.metric}"
            )
        lines = [json.dumps(p, sort_keys=True, default=str) for p in self.points]
        return lines, (
            f"{count} new trial(s) would run in {self.shown}; {self.already} trial(s) of "
            f"{study.path.name} already ran there ({self.earlier} trial folder(s) in all)"
        )

    def nothing_to_do(self) -> str:
        name = self.study.path.name
        if self.study.method == "bayes":
            return (
                f"{self.already} earlier trial(s) in {self.shown} lie in the space of {name}, "
                f"which asks for {self.study.num_samples} (run_cap): nothing to do; raise "
                "run_cap to ask Optuna for more"
            )
        return f"all {self.already} trial(s) of {name} already ran in {self.shown}; nothing to do"


def _locate(run_dir: str, shared: bool) -> tuple[Storage, str]:
    """The storage holding the study folder `run_dir` (a path or URI), and the folder's name."""
    text = run_dir.rstrip("/")
    if "://" in text:
        parent, _, name = text.rpartition("/")
        if not urlparse(text).path.strip("/"):
            raise ExtendError(f"--extend {run_dir}: give the study's folder, e.g. {text}/runs/demo")
    else:
        path = Path(text).expanduser().resolve()
        parent, name = str(path.parent), path.name
    return parse_storage(parent, shared=shared), name


def _read_json(storage: Storage, name: str, file: str) -> Any:
    from pyarrow.fs import FileType

    fs, folder = storage.study_fs(name)
    path = f"{folder}/{file}"
    if fs.get_file_info(path).type != FileType.File:
        return None
    with fs.open_input_stream(path) as f:
        return json.loads(f.read().decode())


def _write_json(storage: Storage, name: str, file: str, value: Any) -> None:
    fs, folder = storage.study_fs(name)
    with fs.open_output_stream(f"{folder}/{file}") as f:
        f.write(json.dumps(value, indent=1, sort_keys=True, default=str).encode())


def _tune_states(storage: Storage, name: str) -> list[str]:
    """Tune's experiment state files in the study folder (one per Tune experiment started)."""
    import pyarrow.fs

    fs, folder = storage.study_fs(name)
    selector = pyarrow.fs.FileSelector(folder, allow_not_found=True)
    return sorted(
        i.base_name
        for i in fs.get_file_info(selector)
        if i.base_name.startswith("experiment_state-")
    )


def _continuation(study: Study, storage: Storage, name: str, shown: str, earlier: int):
    """With --resume: the extension (or study) of this very study file that Tune saved in the
    folder, to continue; None when there is none (the extension then starts)."""
    if _read_json(storage, name, STUDY_RECORD) != recorded_fingerprint(study):
        return None
    states = _tune_states(storage, name)
    record = (_read_json(storage, name, EXTENSIONS) or [None])[-1]
    if record is None or record.get("study") != recorded_fingerprint(study):
        if not states:
            return None
        points = [] if study.method == "bayes" else plan(study).points
        remaining = study.num_samples if study.method == "bayes" else len(points)
        return Extension(study, storage, shown, points, remaining, 0, 0, resume=True)
    if not set(states) - set(record.get("tune_states_before", [])):
        return None  # interrupted before Tune saved the extension's state: start it again
    before = record.get("earlier_trials", earlier)
    return Extension(
        study, storage, shown, record["trials"], record["remaining"], 0, before, resume=True
    )


def extended_since(storage: Storage, study: Study) -> bool:
    """Whether the study's folder was extended since this version of it ran there (and holds
    another version now)."""
    wanted = recorded_fingerprint(study)
    if _read_json(storage, study.name, STUDY_RECORD) == wanted:
        return False
    history = _read_json(storage, study.name, EXTENSIONS) or []
    return any(wanted in (entry.get("replaced"), entry.get("study")) for entry in history)


def _check_name(study: Study, name: str, shown: str) -> None:
    if study.name == name:
        return
    hint = f"set `name: {name}` in {study.path.name} to extend it"
    if name == f"{study.name}-smoke":
        hint = "that folder holds a --smoke-test run: add --smoke-test"
    elif study.name == f"{name}-smoke":
        hint = f"--smoke-test runs go to their own folder: --extend {shown.rstrip('/')}-smoke"
    raise ExtendError(
        f"{study.path} is study {study.name!r}, but {shown} is the folder of study {name!r} "
        f"(a study's folder is named after it): {hint}, or drop --extend to run it on its own"
    )


def prepare(study: Study, run_dir: str, *, shared: bool = False, resume: bool = False):
    """Checks the folder and works out what the extension runs; raises ExtendError."""
    from sweeper.outcome import resume_command
    from sweeper.report.store import Store
    from sweeper.report.trials import UNFINISHED, collect

    storage, name = _locate(run_dir, shared)
    store = Store(storage.study_uri(name))
    if not store.is_dir():
        raise ExtendError(
            f"--extend {run_dir}: no such study folder; run the study first (without --extend)"
        )
    if not store.exists(STUDY_RECORD):
        raise ExtendError(
            f"--extend {run_dir} is not a study folder (it has no {STUDY_RECORD}): give the "
            "folder a study ran in, e.g. runs/demo"
        )
    _check_name(study, name, run_dir)
    trials = collect(store)
    unfinished = [t.name for t in trials if t.status in UNFINISHED]
    fresh = None if unfinished else _fresh(study, storage, run_dir, trials)
    if resume and (fresh is None or fresh.remaining):
        found = _continuation(study, storage, name, run_dir, len(trials))
        if found is not None:
            return found
    if fresh is not None:
        return fresh
    which = f"{len(unfinished)} unfinished trial(s): {', '.join(unfinished[:3])}" + (
        ", ..." if len(unfinished) > 3 else ""
    )
    if _read_json(storage, name, STUDY_RECORD) == recorded_fingerprint(study):
        command = resume_command([a for a in sys.argv if a != "--dry-run"])
        raise ExtendError(
            f"{run_dir} holds an interrupted run of {study.path.name} ({which}); continue "
            f"it with:\n  {command}"
        )
    raise ExtendError(
        f"{run_dir} holds an interrupted study ({which}), which an extension would leave "
        "unfinished for good; continue it first with the study file it ran:\n  python "
        f"sweeper/run.py STUDY.yaml --resume --storage {storage.uri}\nthen extend it"
    )


def _fresh(study: Study, storage: Storage, run_dir: str, trials: list) -> Extension:
    """A new extension: the study's trials that none of the folder's `trials` ran."""
    if study.method == "bayes":
        earlier = [(t.config, t.final.get(study.metric)) for t in trials]
        inside, seeds = bayes_history(study, earlier)
        remaining = max(0, study.num_samples - inside)
        return Extension(study, storage, run_dir, [], remaining, inside, len(trials), seeds)
    points, already = new_points(study, [t.config for t in trials])
    return Extension(study, storage, run_dir, points, len(points), already, len(trials))


def record(ext: Extension) -> None:
    """Records the extension in its folder (before Tune starts): `extensions.json` gets an
    entry, `study.json` the new study's fingerprint (what `--resume` then compares)."""
    name = ext.study.name
    history = _read_json(ext.storage, name, EXTENSIONS) or []
    history.append(
        {
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "study_file": str(ext.study.path),
            "study": recorded_fingerprint(ext.study),
            "replaced": _read_json(ext.storage, name, STUDY_RECORD),
            "earlier_trials": ext.earlier,
            "already_ran": ext.already,
            "trials": ext.points,
            "remaining": ext.remaining,
            "seeded": len(ext.seeds),
            "tune_states_before": _tune_states(ext.storage, name),
        }
    )
    _write_json(ext.storage, name, EXTENSIONS, history)
    _write_json(ext.storage, name, STUDY_RECORD, recorded_fingerprint(ext.study))

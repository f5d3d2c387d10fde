"""`--extend`: a new version of a study file runs only the trials its study folder has not run,
into that folder; a bayes study's earlier results seed Optuna."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sweeper import cli
from sweeper.earlier import bayes_history, new_points
from sweeper.extend import prepare
from sweeper.points import canonical
from sweeper.space import load_study
from sweeper.storage import check_run_dir, parse_storage
from sweeper.tune import search_space

PROJECT = Path(__file__).resolve().parents[2]
EPS = 8 / 255

GRID = """
name: {name}
method: grid
parameters:
  model.kind: {{values: [resnet, multi_gaze]}}
  model.num_transformers: {{values: [1, 3]}}
  model.shared: {{values: [true, false]}}
  attack.eps: {{value: 8/255}}
"""
BAYES = """
name: tpe
method: bayes
run_cap: 4
metric: {name: adv_acc, goal: maximize}
parameters:
  model.kind: {values: [resnet, multi_gaze]}
  model.num_transformers: {distribution: int_uniform, min: 1, max: 5}
  train.learning_rate: {distribution: log_uniform_values, min: 1e-4, max: 1e-2}
  attack.eps: {value: 8/255}
"""


def study_file(tmp_path: Path, text: str, name: str = "grid") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_new_points_are_the_trials_no_earlier_config_matches(tmp_path):
    study = load_study(study_file(tmp_path, GRID.format(name="grid")))
    # 8 grid points, 4 distinct trials: resnet lacks num_transformers and shared; with one gaze,
    # shared changes nothing.
    earlier = [
        {"model.kind": "resnet", "model.num_transformers": 3, "attack.eps": EPS},
        {"model.kind": "multi_gaze", "model.num_transformers": 1, "attack.eps": "8/255"},
        {"model.kind": "multi_gaze", "model.num_transformers": 3, "train.learning_rate": 0.1},
    ]
    new, already = new_points(study, earlier)
    assert already == 2
    assert [(p["model.kind"], p["model.num_transformers"], p["model.shared"]) for p in new] == [
        ("multi_gaze", 3, True),
        ("multi_gaze", 3, False),
    ]
    every = {canonical(study, p).key for p in new} | {canonical(study, c).key for c in earlier[:2]}
    assert len(every) == 4  # the new trials and the earlier ones are the whole study
    assert new_points(study, [])[1] == 0 and len(new_points(study, [])[0]) == 4
    # --smoke-test: at most two trials, of those not yet run (not the first two of the grid)
    smoke = study.smoke()
    ran = [{**c, **smoke.overrides} for c in earlier[:2]]
    assert [p["model.num_transformers"] for p in new_points(smoke, ran)[0]] == [3, 3]


def test_bayes_history_counts_trials_in_the_space_and_seeds_optuna_with_their_metric(tmp_path):
    study = load_study(study_file(tmp_path, BAYES, "tpe"))
    base = {"attack.eps": EPS}
    earlier = [
        ({**base, "model.kind": "resnet", "train.learning_rate": 1e-3}, 0.30),
        ({**base, "model.kind": "multi_gaze", "model.num_transformers": 2}, float("nan")),
        ({**base, "model.kind": "resnet", "train.learning_rate": 0.1}, 0.50),  # out of range
        ({**base, "model.kind": "resnet", "train.epochs": 9}, 0.40),  # fixed at 3 in the space
        ({"model.kind": "resnet", "attack.eps": 2 / 255}, 0.45),  # another threat model
    ]
    inside, seeds = bayes_history(study, earlier)
    assert inside == 2
    (point, value), *rest = seeds
    assert not rest and value == 0.30
    assert point["trial/model.kind"] == "resnet"
    assert point["trial/train.learning_rate"] == pytest.approx(1e-3)
    assert point["trial/attack.eps"] == "8/255"  # the study's own spelling of the value
    assert 1 <= point["trial/model.num_transformers"] <= 5  # resnet lacks it: any value

    param_space, search, samples, _ = search_space(study, seeds=seeds, num_samples=2)
    assert samples == 2
    search.set_search_properties(study.metric, study.mode, param_space)  # as Tune does
    completed = search._ot_study.get_trials()
    assert [t.value for t in completed] == [0.30] and completed[0].state.name == "COMPLETE"
    config = search.suggest("t1")["trial"]  # and it still proposes trials of the space
    assert config["model.kind"] in ("resnet", "multi_gaze")
    assert 1e-4 <= config["train.learning_rate"] <= 1e-2
    # Per-epoch results lack the final metric (adv_acc); only the last one carries it.
    search.on_trial_result("t1", {"training_iteration": 1, "val/clean_acc": 0.5})
    search.on_trial_complete("t1", {"training_iteration": 2, "adv_acc": 0.4})
    assert [t.value for t in search._ot_study.get_trials()] == [0.30, 0.4]


def main(*args) -> int:
    """`sweeper/run.py ARGS` in this process (a study run installs its own SIGTERM handler)."""
    handler = signal.getsignal(signal.SIGTERM)
    try:
        return cli.main([str(a) for a in args])
    finally:
        signal.signal(signal.SIGTERM, handler)


def write_folder(root: Path, name: str, configs: list[dict], status: str = "completed") -> Path:
    """A study folder as a finished study leaves it: study.json, trial folders with their
    params and results, and Tune's experiment state."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "study.json").write_text(json.dumps({"metric": ["adv_acc", "maximize"]}))
    states = []
    for i, config in enumerate(configs):
        trial = folder / f"trial_old_{i:05d}"
        trial.mkdir()
        (trial / "params.json").write_text(json.dumps({"trial": config}))
        last = {"epoch": 1, "clean_acc": 0.5, "adv_acc": 0.2 + i / 100, "status": status}
        if status != "completed":
            last = {"epoch": 1, "val/clean_acc": 0.5}
        (trial / "result.json").write_text(json.dumps(last) + "\n")
        tune = "TERMINATED" if status == "completed" else "RUNNING"
        state = {"trial_id": f"old_{i:05d}", "relative_logdir": trial.name, "status": tune}
        states.append([json.dumps(state), "{}"])
    (folder / "experiment_state-2026-01-01_00-00-00.json").write_text(
        json.dumps({"trial_data": states})
    )
    return folder


EARLIER = [
    {"model.kind": "resnet", "attack.eps": EPS},
    {"model.kind": "multi_gaze", "model.num_transformers": 1, "model.shared": True},
]


def test_dry_run_lists_the_new_trials_and_what_already_ran(tmp_path, capsys):
    folder = write_folder(tmp_path / "runs", "grid", [{**c, "attack.eps": EPS} for c in EARLIER])
    path = study_file(tmp_path, GRID.format(name="grid"))
    assert cli.main([str(path), "--extend", str(folder), "--dry-run"]) == 0
    out = capsys.readouterr()
    printed = [json.loads(line) for line in out.out.splitlines()]
    assert [(p["model.num_transformers"], p["model.shared"]) for p in printed] == [
        (3, True),
        (3, False),
    ]
    assert f"2 new trial(s) would run in {folder}; 2 trial(s) of grid.yaml already ran" in out.err
    assert not (folder / "extensions.json").exists()  # a dry run records nothing


def test_extend_refuses_what_it_cannot_extend(tmp_path, capsys):
    runs = tmp_path / "runs"
    path = study_file(tmp_path, GRID.format(name="grid"))

    def refused(folder: Path, *extra: str) -> str:
        assert cli.main([str(path), "--extend", str(folder), "--dry-run", *extra]) == 2
        return capsys.readouterr().err

    assert "no such study folder" in refused(runs / "grid")
    (runs / "grid").mkdir(parents=True)
    assert "is not a study folder (it has no study.json)" in refused(runs / "grid")
    other = write_folder(runs, "other", EARLIER)
    assert "set `name: other` in grid.yaml" in refused(other)
    smoke = write_folder(runs, "grid-smoke", EARLIER)
    assert "holds a --smoke-test run: add --smoke-test" in refused(smoke)
    halted = write_folder(tmp_path / "halted", "grid", EARLIER, status="interrupted")
    message = refused(halted)
    assert "holds an interrupted study (2 unfinished trial(s)" in message
    assert f"--resume --storage {halted.parent}" in message


def test_nothing_new_is_said_and_exits_zero(tmp_path, capsys):
    every = [("resnet", 1, True), ("multi_gaze", 1, True), ("multi_gaze", 3, True)]
    every.append(("multi_gaze", 3, False))
    configs = [
        {"model.kind": kind, "model.num_transformers": k, "model.shared": shared, "attack.eps": EPS}
        for kind, k, shared in every
    ]
    folder = write_folder(tmp_path / "runs", "grid", configs)
    path = study_file(tmp_path, GRID.format(name="grid"))
    assert main(path, "--extend", str(folder)) == 0  # a run, which stops before Ray
    assert "all 4 trial(s) of grid.yaml already ran" in capsys.readouterr().err
    assert prepare(load_study(path), str(folder)).remaining == 0
    # --resume of a folder that another version of the study ran in points to --extend
    problem = check_run_dir(parse_storage(str(folder.parent)), load_study(path), True, record=False)
    assert f"run only this version's new trials in that folder: --extend {folder}" in problem


TINY = """
name: tiny
method: grid
metric: {{name: adv_acc, goal: maximize}}
parameters:
  model.kind: {{value: resnet}}
  model.backbone: {{value: resnet20}}
  model.width: {{value: 8}}
  model.blocks: {{value: 1}}
  train.learning_rate: {{values: {rates}}}
  train.epochs: {{value: 1}}
  train.batch_size: {{value: 32}}
  data.image_size: {{value: 16}}
  data.digit_size: {{value: 10}}
  data.train_size: {{value: 128}}
  data.val_size: {{value: 32}}
  data.test_size: {{value: 32}}
  attack.eps: {{value: 8/255}}
  attack.budget: {{value: smoke}}
  attack.val_examples: {{value: 32}}
"""


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RAY_"))}
    cmd = [sys.executable, str(PROJECT / "sweeper" / "run.py"), *args, "--wandb", "disabled"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in out.stderr, out.stderr[-4000:]
    return out


@pytest.mark.slow
def test_extending_a_finished_study_with_one_added_trial_runs_exactly_that_trial(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY.format(rates="[0.003]"))
    first = run(tmp_path, "tiny.yaml", "--storage", "runs")
    assert first.returncode == 0, first.stderr[-3000:]
    folder = tmp_path / "runs" / "tiny"
    (old,) = folder.glob("trial_*")

    (tmp_path / "plus.yaml").write_text(TINY.format(rates="[0.003, 0.01]"))
    out = run(tmp_path, "plus.yaml", "--extend", "runs/tiny")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "study tiny: 1 trial(s): 1 completed" in out.stderr
    trials = sorted(folder.glob("trial_*"))
    assert len(trials) == 2 and old in trials
    (new,) = set(trials) - {old}
    assert json.loads((new / "params.json").read_text())["trial"]["train.learning_rate"] == 0.01
    last = json.loads((new / "result.json").read_text().splitlines()[-1])
    assert last["status"] == "completed" and math.isfinite(last["adv_acc"])
    report = (folder / "report.md").read_text()
    assert old.name in report and new.name in report and "2 trial(s): 2 completed" in report
    (entry,) = json.loads((folder / "extensions.json").read_text())
    assert entry["already_ran"] == 1 and entry["remaining"] == 1
    assert entry["replaced"]["parameters"]["train.learning_rate"]["values"] == [0.003]
    assert json.loads((folder / "study.json").read_text())["parameters"]["train.learning_rate"][
        "values"
    ] == [0.003, 0.01]

    # Both stop before Ray, so they run in this process.
    for resume in ((), ("--resume",)):
        assert main(tmp_path / "plus.yaml", "--extend", str(folder), *resume) == 0
        assert "all 2 trial(s) of plus.yaml already ran" in capsys.readouterr().err
    # The folder now holds plus.yaml's study: --resume with the earlier file runs what it lacks.
    assert main(tmp_path / "tiny.yaml", "--resume", "--storage", str(folder.parent)) == 0
    assert "all 1 trial(s) of tiny.yaml already ran" in capsys.readouterr().err

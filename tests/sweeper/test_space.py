"""Study files are validated up front, with errors that name the problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sweeper.space import StudyError, check_before_ray, load_study, plan, trial_points
from trial.config import TrialConfig

PROJECT = Path(__file__).resolve().parents[2]
STUDIES = sorted((PROJECT / "search_spaces").glob("*.yaml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def study_of(tmp_path: Path, text: str):
    """The study a study file holding `text` loads as."""
    return load_study(write(tmp_path, text))


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_every_shipped_study_validates(path):
    study = load_study(path)
    if study.method != "bayes":
        points = trial_points(study)
        assert points, f"{path.name} implies no trial"
        for point in points:
            TrialConfig.from_dict(point)


def test_grid_points_are_deduplicated(tmp_path):
    study = study_of(
        tmp_path,
        """
method: grid
parameters:
  model.kind: {values: [resnet]}
  model.width: {values: [8, 16, 8]}
  attack.eps: {values: [8/255, 0.03137254901960784]}
""",
    )
    points = trial_points(study)
    assert [p["model.width"] for p in points] == [8, 16]
    assert all(p["attack.eps"] == pytest.approx(8 / 255) for p in points)


def test_random_samples_are_seeded(tmp_path):
    text = """
method: random
run_cap: 5
seed: {seed}
parameters:
  train.learning_rate: {{distribution: log_uniform_values, min: 1e-4, max: 1e-2}}
  model.width: {{distribution: int_uniform, min: 4, max: 32}}
"""
    a = trial_points(study_of(tmp_path, text.format(seed=1)))
    b = trial_points(study_of(tmp_path, text.format(seed=1)))
    c = trial_points(study_of(tmp_path, text.format(seed=2)))
    assert a == b != c and len(a) == 5
    assert all(1e-4 <= p["train.learning_rate"] <= 1e-2 and 4 <= p["model.width"] <= 32 for p in a)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "method: grid\nparameters: {train.epochz: {values: [1]}}",
            "unknown parameter 'train.epochz' \\(did you mean 'train.epochs'\\?\\)",
        ),
        ("method: grid\nparameters: {trainer.epochs: {values: [1]}}", "not a TrialConfig path"),
        (
            "method: random\nparameters: {train.learning_rate: {distribution: uniform, min: 1}}",
            "takes exactly \\['max', 'min'\\]",
        ),
        (
            "method: random\nparameters:\n  train.learning_rate:\n"
            "    {distribution: gamma, min: 0, max: 1}",
            "distribution='gamma' is not supported",
        ),
        (
            "method: random\nparameters: {train.learning_rate: {min: 1.0, max: 0.1}}",
            "min=1.0 is larger than max=0.1",
        ),
        (
            "method: grid\nparameters: {train.learning_rate: {min: 0.1, max: 1.0}}",
            "grid search needs `values`",
        ),
        ("method: grid\nparameters: {train.epochs: {values: [0]}}", "train.epochs=0 must be >= 1"),
        ("method: grid\nparameters: {model.kind: {values: [vgg]}}", "unknown model.kind 'vgg'"),
        ("method: sweep\nparameters: {seed: {value: 1}}", "method='sweep'"),
        (
            "method: grid\nprogram: x.py\nparameters: {seed: {value: 1}}",
            "unknown field\\(s\\) \\['program'\\]",
        ),
        (
            "method: grid\nparameters: {seed: {value: 1}}\n"
            "early_terminate: {type: hyperband, min_iter: 0}",
            "early_terminate.min_iter=0",
        ),
        (
            "method: grid\nparameters: {seed: {value: 1}}\n"
            "early_terminate: {max_iter: 2, patience: 3}",
            "unknown field\\(s\\) \\['patience'\\]",
        ),
        (
            "method: grid\nparameters: {seed: {value: 1}}\n"
            "early_terminate: {min_iter: 3, max_iter: 2}",
            "early_terminate.min_iter=3 exceeds max_iter=2.*lower min_iter or raise max_iter",
        ),
        (
            "method: grid\nparameters: {train.epochs: {value: 5}}\nearly_terminate: {max_iter: 2}",
            "max_iter=2 is below the longest train.epochs=5",
        ),
        ("method: [grid", "not valid YAML"),
    ],
)
def test_bad_studies_fail_with_a_named_problem(tmp_path, text, needle):
    with pytest.raises(StudyError, match=needle):
        study_of(tmp_path, text)


def test_missing_file_says_where_it_looked():
    with pytest.raises(StudyError, match="does not exist"):
        load_study("search_spaces/nope.yaml", PROJECT)


def test_study_paths_resolve_against_the_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_study("search_spaces/demo.yaml", PROJECT).name == "demo"
    assert load_study("demo.yaml", PROJECT).name == "demo"


def run_cli(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT / "sweeper" / "run.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dry_run_prints_one_json_per_trial_and_starts_no_ray(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import runpy, sys\n"
        f"sys.argv = ['run.py', '{PROJECT / 'search_spaces' / 'demo.yaml'}', '--dry-run']\n"
        "try:\n"
        f"    runpy.run_path('{PROJECT / 'sweeper' / 'run.py'}', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "assert 'ray' not in sys.modules, 'dry run imported ray'\n"
    )
    out = subprocess.run(
        [sys.executable, str(probe)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines == trial_points(load_study(PROJECT / "search_spaces/demo.yaml"))


def test_bad_study_fails_fast_without_ray(tmp_path):
    bad = write(tmp_path, "method: grid\nparameters: {model.widht: {values: [8]}}")
    out = run_cli(str(bad), "--storage", str(tmp_path / "runs"))
    assert out.returncode == 2
    assert "unknown parameter 'model.widht'" in out.stderr
    assert not (tmp_path / "runs").exists()


def test_keys_a_kind_lacks_are_dropped_before_deduplication(tmp_path):
    study = study_of(
        tmp_path,
        """
method: grid
parameters:
  model.kind: {values: [resnet, multi_gaze]}
  model.gaze_l2: {values: [0.0, 0.01]}
""",
    )
    points = trial_points(study)
    assert points == [
        {"model.kind": "resnet"},
        {"model.kind": "multi_gaze", "model.gaze_l2": 0.0},
        {"model.kind": "multi_gaze", "model.gaze_l2": 0.01},
    ]


def test_smoke_variant_is_small_capped_and_in_its_own_folder():
    study = load_study(PROJECT / "search_spaces/demo.yaml").smoke()
    points = trial_points(study)
    assert study.name == "demo-smoke" and len(points) == 2
    assert all(p["train.epochs"] == 2 and p["attack.budget"] == "smoke" for p in points)


def test_handover_runs_each_functionally_distinct_trial_once():
    trials = plan(load_study(PROJECT / "search_spaces/handover.yaml"))
    assert len(trials.points) == 60  # 96 grid points; with one branch shared/grid change nothing
    assert "36 of 96" in trials.notes[0]
    assert "model.shared" in trials.notes[0] and "model.gaze_init" in trials.notes[0]
    single = [p for p in trials.points if p["model.num_transformers"] == 1]
    assert len(single) == 12 and all(
        p["model.shared"] is False and p["model.gaze_init"] == "centre" for p in single
    )
    keys = {json.dumps(p, sort_keys=True) for p in trials.points}
    assert len(keys) == 60


def test_random_search_over_few_points_runs_each_once(tmp_path):
    study = study_of(
        tmp_path,
        """
method: random
run_cap: 8
parameters:
  model.kind: {value: multi_gaze}
  model.num_transformers: {value: 1}
  model.shared: {values: [true, false]}
  model.width: {values: [8, 16]}
""",
    )
    trials = plan(study)
    assert sorted(p["model.width"] for p in trials.points) == [8, 16]
    assert "2 distinct point(s), fewer than run_cap=8" in trials.notes[0]


def test_random_samples_never_repeat_a_trial(tmp_path):
    study = study_of(
        tmp_path,
        """
method: random
run_cap: 20
parameters:
  model.width: {distribution: int_uniform, min: 1, max: 30}
""",
    )
    widths = [p["model.width"] for p in trial_points(study)]
    assert len(widths) == 20 == len(set(widths))


def test_bayes_probe_covers_every_value_and_both_ends(tmp_path):
    study = study_of(
        tmp_path,
        """
method: bayes
parameters:
  model.kind: {values: [resnet, multi_gaze, retinal]}
  train.learning_rate: {distribution: log_uniform_values, min: 1e-4, max: 1e-2}
  model.width: {distribution: int_uniform, min: 4, max: 12}
""",
    )
    probes = plan(study).points
    assert {p["model.kind"] for p in probes} == {"resnet", "multi_gaze", "retinal"}
    rates = sorted(p["train.learning_rate"] for p in probes)
    assert rates[0] == pytest.approx(1e-4) and rates[-1] == pytest.approx(1e-2)
    assert {4, 12} <= {p["model.width"] for p in probes}


@pytest.mark.parametrize("method", ["grid", "random", "bayes"])
def test_every_trials_model_is_built_before_ray(tmp_path, method):
    study = study_of(
        tmp_path,
        f"""
method: {method}
run_cap: 6
parameters:
  model.kind: {{values: [resnet, cortical]}}
  data.image_size: {{value: 12}}
  data.digit_size: {{value: 8}}
""",
    )
    with pytest.raises(
        StudyError,
        match="trial .*cortical.* does not build its model at data.image_size=12 .*multiple of "
        "8.*change that trial's model fields or data.image_size",
    ):
        check_before_ray(study)


def test_probing_every_trial_takes_seconds():
    import time

    study = load_study(PROJECT / "search_spaces/handover.yaml")
    trials = len(plan(study).points)
    started = time.perf_counter()
    check_before_ray(study)
    per_trial = (time.perf_counter() - started) / trials
    print(f"{trials} trials probed, {per_trial:.3f} s each")
    assert trials >= 50 and per_trial < 0.5, "a study of 50 trials would wait half a minute"


def test_smoke_test_caps_bayes_like_grid_and_random(tmp_path):
    text = """
method: bayes
run_cap: 20
parameters:
  train.learning_rate: {min: 0.001, max: 0.1}
"""
    study = study_of(tmp_path, text)
    assert study.num_samples == 20
    smoke = study.smoke()
    assert smoke.num_samples == smoke.max_trials == 2, "--smoke-test promises at most 2 trials"
    out = run_cli(str(write(tmp_path, text)), "--smoke-test", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[0])["trials"] == 2
    assert "bayes study 'study-smoke': 2 trial(s)" in out.stderr


def test_every_dataset_is_checked_before_ray(tmp_path, monkeypatch):
    from trial import data

    seen = []

    def missing(cfg):
        seen.append(cfg.name)
        raise ValueError(f"{cfg.name} not found in /nowhere; prepare it with tfds")

    monkeypatch.setattr(data, "check", missing)
    study = study_of(
        tmp_path,
        """
method: grid
parameters:
  data.name: {values: [cluttered_digits, cifar10]}
  train.learning_rate: {values: [0.001, 0.01]}
""",
    )
    problems = check_before_ray(study)
    assert seen == ["cluttered_digits", "cifar10"]  # each distinct dataset, once
    assert "cifar10 not found in /nowhere" in problems[1]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "method: grid\nmetric: {name: adversarial_accuracy}\nparameters: {seed: {value: 1}}",
            "no trial reports this metric \\(did you mean 'adv_acc'\\?\\)",
        ),
        (
            "method: bayes\nmetric: {name: val/clean_acc}\n"
            "parameters: {train.learning_rate: {min: 0.001, max: 0.1}}",
            "bayes optimises what every finished trial reports at the end",
        ),
        (
            "method: grid\nparameters: {seed: {value: 1}}\nearly_terminate: {metric: adv_acc}",
            "ASHA compares trials epoch by epoch",
        ),
        ("method: grid\nparameters: {seed: {value: 1}}\nresources: {gpu: 1.5}", "fraction"),
        ("method: grid\nparameters: {seed: {value: 1}}\nresources: {cpu: 0}", "resources.cpu"),
        (
            "method: grid\nparameters: {seed: {value: 1}}\ntime_budget_s: {study: -5}",
            "time_budget_s.study=-5 must be a positive number",
        ),
        (
            "method: grid\nparameters: {seed: {value: 1}}\ntime_budget_s: 60",
            "time_budget_s=60 must be a mapping",
        ),
        (
            "method: grid\nparameters: {seed: {value: 1}}\nmax_concurrent_trials: 0",
            "max_concurrent_trials=0",
        ),
        (
            "method: grid\nparameters: {seed: {value: 1}}\nentity: my team",
            "entity='my team' must be a W&B entity name: text without spaces.*entity: my-team",
        ),
        (
            "method: grid\nparameters: {seed: {value: 1}}\nentity: [a, b]",
            "entity=\\['a', 'b'\\] must be a W&B entity name",
        ),
        (
            "method: grid\nparameters: {seed: {value: 1}}\nproject: a/b",
            "project='a/b' must be a W&B project name",
        ),
        (
            f"method: grid\nparameters:\n  seed: {{values: {list(range(400))}}}\n"
            f"  train.epochs: {{values: {list(range(1, 400))}}}\n",
            "the grid has 159,600 points",
        ),
    ],
)
def test_more_bad_studies_fail_with_a_named_problem(tmp_path, text, needle):
    with pytest.raises(StudyError, match=needle):
        study_of(tmp_path, text)


def test_resources_budgets_and_concurrency_are_read(tmp_path):
    study = study_of(
        tmp_path,
        "method: grid\nparameters: {seed: {value: 1}}\nresources: {cpu: 1, gpu: 0.5}\n"
        "max_concurrent_trials: 2\ntime_budget_s: {study: 3600, trial: 600}\n",
    )
    assert study.resources == {"cpu": 1.0, "gpu": 0.5}
    assert study.entity is None, "no entity: W&B's default for the account"
    team = study_of(tmp_path, "method: grid\nparameters: {seed: {value: 1}}\nentity: my-team\n")
    assert team.entity == "my-team"
    assert study.max_concurrent_trials == 2
    assert (study.study_time_budget_s, study.trial_time_budget_s) == (3600.0, 600.0)


def test_a_directory_or_a_binary_file_is_named_as_such(tmp_path):
    with pytest.raises(StudyError, match="is a directory, not a study file"):
        load_study(tmp_path)
    binary = tmp_path / "model.h5"
    binary.write_bytes(b"\x89HDF\r\n\x1a\n\0\0\0\x01")
    with pytest.raises(StudyError, match="is a binary file"):
        load_study(binary)

"""The command line refuses bad input before Ray starts (exit 2), and says how a study ended."""

from __future__ import annotations

import shlex
import signal
import sys
from types import SimpleNamespace

import pytest

from sweeper import cli, outcome
from sweeper.outcome import TrialOutcome
from tests.sweeper.processes import PROJECT

TINY = """
name: tiny
method: grid
parameters:
  model.kind: {value: resnet}
  data.name: {values: [cluttered_digits, cifar10]}
"""


@pytest.fixture
def study(tmp_path, monkeypatch):
    """A two-dataset study whose data counts as present (no test here has CIFAR-10)."""
    from trial import data

    monkeypatch.setattr(data, "check", lambda cfg: None)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_a_cluster_without_shared_storage_is_refused_before_ray(study, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = cli.main([str(study), "--address", "auto", "--storage", str(runs), "--wandb", "offline"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--address auto attaches to a Ray cluster" in err and "--shared-storage" in err
    assert not runs.exists()


def test_inside_a_ray_job_local_storage_is_refused_too(study, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    code = cli.main([str(study), "--storage", str(tmp_path / "runs"), "--wandb", "offline"])
    assert code == 2 and "RAY_ADDRESS is set" in capsys.readouterr().err


def test_missing_data_stops_the_study_before_ray(study, tmp_path, capsys, monkeypatch):
    from trial import data

    def check(cfg):
        if cfg.name == "cifar10":
            raise ValueError("cifar10: no prepared data in /data/tfds; run `tfds build cifar10`")

    monkeypatch.setattr(data, "check", check)
    runs = tmp_path / "runs"
    code = cli.main([str(study), "--storage", str(runs), "--wandb", "offline"])
    err = capsys.readouterr().err
    assert code == 2 and "tfds build cifar10" in err and "data.name=cifar10" in err
    assert not runs.exists()
    # A dry run only warns: it may run away from the data.
    assert cli.main([str(study), "--dry-run"]) == 0
    assert "warning: data.name=cifar10" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--max-failures", "-1"], "is not a whole number >= 0"),
        (["--stor", "x"], "unrecognized arguments: --stor"),
        (["--wandb", "cloud"], "invalid choice: 'cloud'"),
    ],
)
def test_bad_flags_exit_2(study, argv, needle, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([str(study), *argv])
    assert exit_.value.code == 2 and needle in capsys.readouterr().err


def test_resume_command_is_the_same_command_with_resume():
    argv = ["sweeper/run.py", "my study.yaml", "--storage", "/mnt/nfs/x", "--smoke-test"]
    command = outcome.resume_command(argv)
    assert shlex.split(command) == [sys.executable, *argv, "--resume"]
    assert outcome.resume_command([*argv, "--resume"]) == command
    module = outcome.resume_command([str(PROJECT / "sweeper" / "__main__.py"), "s.yaml"])
    assert shlex.split(module) == [sys.executable, "-m", "sweeper", "s.yaml", "--resume"]


def _trial(status, last=None, error=None):
    return SimpleNamespace(
        trial_id="abc_00000", status=status, last_result=last or {}, get_error=lambda: error
    )


def test_trial_outcomes_and_exit_codes():
    ended = [
        outcome.of_trial(_trial("TERMINATED", {"status": "completed"})),
        outcome.of_trial(_trial("TERMINATED", {"status": "diverged"})),
        outcome.of_trial(_trial("TERMINATED", {"epoch": 2})),  # ASHA
        outcome.of_trial(_trial("TERMINATED", {"status": "stopped", "stop_reason": "x"})),
    ]
    assert [o.state for o in ended] == ["completed", "diverged", "stopped", "stopped"]
    assert outcome.exit_code(ended) == 0
    error = "Traceback ...\n  File x\nRuntimeError: boom\n"
    errored = outcome.of_trial(_trial("ERROR", error=error))
    assert errored == TrialOutcome("trial_abc_00000", "errored", "RuntimeError: boom")
    assert outcome.exit_code([*ended, errored]) == 1
    line = outcome.summary("demo", [*ended, errored])
    assert line.startswith("study demo: 5 trial(s): 1 completed, 2 stopped, 1 diverged, 1 errored")
    assert "RuntimeError: boom" in line and "\n" not in line
    unfinished = outcome.of_trial(_trial("RUNNING", {"epoch": 1}))
    assert outcome.exit_code([*ended, unfinished]) == 130
    assert outcome.exit_code(ended, signal_code=143) == 143


def test_an_address_where_no_cluster_answers_is_named(study, tmp_path, capsys):
    from tests.sweeper.processes import free_ports

    [port] = free_ports(1)
    runs = tmp_path / "runs"
    argv = [str(study), "--address", f"127.0.0.1:{port}", "--storage", str(runs)]
    assert cli.main([*argv, "--shared-storage", "--wandb", "offline"]) == 2
    err = capsys.readouterr().err
    assert f"nothing answers at 127.0.0.1:{port}" in err and "ray start --head" in err
    assert not runs.exists()


@pytest.mark.parametrize("ctrl_c", ["tune", signal.SIG_IGN, signal.SIG_DFL])
def test_sigterm_on_the_driver_does_what_ctrl_c_does_even_when_ctrl_c_is_ignored(ctrl_c):
    """Tune's handler inside `fit`; KeyboardInterrupt otherwise, also with SIGINT ignored (a
    driver started by `cmd &` in a script inherits that); the exit code then says SIGTERM."""
    from sweeper.study_run import _Signals

    seen = []
    handler = (lambda signum, frame: seen.append(signum)) if ctrl_c == "tune" else ctrl_c
    before = signal.signal(signal.SIGINT, handler)
    signals = _Signals()
    try:
        if ctrl_c == "tune":
            signals._on_sigterm(signal.SIGTERM, None)
            assert seen == [signal.SIGINT]
        else:
            with pytest.raises(KeyboardInterrupt):
                signals._on_sigterm(signal.SIGTERM, None)
    finally:
        signal.signal(signal.SIGINT, before)
    assert signals.code == outcome.EXIT_TERMINATED != outcome.EXIT_INTERRUPTED


def test_a_ray_of_the_studys_own_refuses_what_this_machine_lacks(monkeypatch):
    import ray

    from sweeper import cluster

    monkeypatch.setattr(ray, "nodes", lambda: [{"Alive": True, "Resources": {"CPU": 2.0}}])
    # What the monitor of a Ray started by `ray.init` says of its node types: nothing usable.
    monkeypatch.setattr(cluster, "autoscaler_node_types", lambda wait_s=15.0: None)
    problem = cluster.infeasible({"cpu": 1, "gpu": 1}, attached=False)
    assert problem is not None, "no node will ever join a Ray the study started itself"
    assert '{"CPU": 2.0}' in problem and "which no other node joins" in problem
    assert "--address" in problem and "resources.gpu: 0" in problem, "the two fixes"
    assert cluster.infeasible({"cpu": 2, "gpu": 0}, attached=False) is None
    assert "Lower resources.cpu" in cluster.infeasible({"cpu": 3}, attached=False)
    # A cluster the study attached to may still grow: unknown node types make trials wait.
    assert cluster.infeasible({"cpu": 1, "gpu": 1}, attached=True) is None
    monkeypatch.setattr(cluster, "autoscaler_node_types", lambda wait_s=15.0: [{"CPU": 8.0}])
    assert "the autoscaler can add" in cluster.infeasible({"gpu": 1}, attached=True)

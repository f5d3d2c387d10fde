"""A local study survives Ctrl-C and a killed driver, and `--resume` never reruns a finished trial.

One study of two trials (one at a time), run three times as a user would: Ctrl-C before any
trial has started (exit 130 and the exact command to continue), that command until one trial
has finished and then SIGKILL to the driver while the other runs, and `--resume` to the end
(the finished trial untouched, the other completed); a rerun without `--resume` is refused in
tests/sweeper/test_storage.py. The storage is a `file://` URI, so the resume record and Tune's
restore go through pyarrow. Ray's temp folder holds the address of a cluster that no longer
exists, as after a `ray start --head` killed by a signal: a study without `--address` starts a
Ray of its own anyway.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys

import pytest

from tests.shares import assert_share
from tests.sweeper import processes as P
from tests.sweeper.wandb_records import summary
from trial import metrics as M

STUDY = """
name: interrupted
method: grid
metric: {name: adv_acc, goal: maximize}
max_concurrent_trials: 1
parameters:
  train.learning_rate: {values: [0.001, 0.003]}
  train.epochs: {value: 5}
  model.kind: {value: resnet}
  model.backbone: {value: resnet20}
  model.width: {value: 8}
  model.blocks: {value: 1}
  train.batch_size: {value: 32}
  data.image_size: {value: 16}
  data.digit_size: {value: 10}
  data.train_size: {value: 512}
  data.val_size: {value: 64}
  data.test_size: {value: 32}
  attack.eps: {value: 8/255}
  attack.budget: {value: smoke}
  attack.val_examples: {value: 32}
"""


def _saved_status(run_dir, trial_id: str) -> str | None:
    """A trial's status in the experiment state Tune saved last (what --resume acts on)."""
    saved = sorted(run_dir.glob("experiment_state-*.json"))  # one per session, timestamped
    try:
        state = json.loads(saved[-1].read_text())
    except (IndexError, OSError, ValueError):
        return None  # none yet, or being rewritten
    for trial_json, _ in state["trial_data"]:
        trial = json.loads(trial_json)
        if trial["trial_id"] == trial_id:
            return trial["status"]
    return None


@pytest.mark.slow
def test_interrupt_kill_and_resume(tmp_path):
    ray_tmp = P.short_tmp("rfi")
    (ray_tmp / "ray").mkdir()
    (ray_tmp / "ray" / "ray_current_cluster").write_text("127.0.0.1:1")  # a dead cluster
    study = tmp_path / "interrupted.yaml"
    study.write_text(STUDY)
    runs = tmp_path / "runs"
    cmd = [sys.executable, str(P.RUN), str(study), "--storage", f"file://{runs}"]
    cmd += ["--wandb", "offline"]
    env = P.clean_env(RAY_TMPDIR=str(ray_tmp), TUNE_GLOBAL_CHECKPOINT_S="1")  # save state often
    run_dir = runs / "interrupted"
    procs = []

    def launch(argv, name):
        log = tmp_path / f"{name}.log"
        procs.append(P.start(argv, log, env, tmp_path))
        return procs[-1], log

    try:
        # 1. Ctrl-C as the study starts Ray and Tune, before any trial has started (and often
        # before Tune's first experiment state: --resume must then start afresh). Waiting for
        # tuner.pkl instead let a fast study finish before the signal under load.
        first, log = launch(cmd, "ctrl-c")

        def started() -> bool:  # the study's record is written just before Ray starts
            return (run_dir / "study.json").exists()

        P.wait_for("Tune to start", started, 240, first, log)
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=120) == 130, log.read_text()[-3000:]
        text = log.read_text()
        assert "Traceback" not in text, text[-3000:]
        resume = text.rsplit("Continue with:", 1)[1].split("\n")[1].strip()
        assert shlex.split(resume) == [*cmd, "--resume"]

        # 2. The printed command, until the first trial has finished; then the driver dies.
        second, log = launch(shlex.split(resume), "killed")

        def first_trial_done():
            for trial in run_dir.glob("trial_*"):
                rows = P.results(trial)
                if rows and rows[-1].get(M.STATUS) == "completed":
                    trial_id = rows[-1]["trial_id"]
                    if _saved_status(run_dir, trial_id) == "TERMINATED":
                        return trial
            return None

        done = P.wait_for("a finished trial", first_trial_done, 400, second, log)
        os.kill(second.pid, signal.SIGKILL)
        second.wait(timeout=30)
        others = [t for t in run_dir.glob("trial_*") if t != done]  # none: not started yet
        assert len(others) <= 1, others
        for other in others:
            assert (P.results(other) or [{}])[-1].get(M.STATUS) is None, "killed too late"
        P.end_group(second.pid)  # Ray 2.60 leaves the dead driver's agents running: end them
        before = (done / "result.json").read_text()
        wandb_before = sorted(done.glob("wandb/*run-*"))

        # 3. --resume finishes the study without rerunning the finished trial.
        third, log = launch(shlex.split(resume), "resumed")
        assert third.wait(timeout=400) == 0, log.read_text()[-4000:]
        text = log.read_text()
        assert "study interrupted: 2 trial(s): 2 completed" in text
        assert (done / "result.json").read_text() == before
        assert sorted(done.glob("wandb/*run-*")) == wandb_before
        trials = sorted(run_dir.glob("trial_*"))
        assert len(trials) == 2
        for trial in trials:
            final = P.results(trial)[-1]
            assert final[M.STATUS] == "completed" and final[M.EPOCH] == 5
            n = final[M.N_TEST]  # 32: a deterministic ResNet, each example right or wrong
            assert assert_share(final[M.ADV_ACC], n) <= assert_share(final[M.CLEAN_ACC], n)
            run_file = sorted(trial.glob("wandb/*run-*/run-*.wandb"))[-1]
            logged = summary(run_file)
            assert logged["summary"][M.ADV_ACC] == pytest.approx(final[M.ADV_ACC])
        board = (run_dir / "report.md").read_text()  # the report, written through file://
        assert board.count("| completed |") == 2 and "Study report: interrupted" in text
        assert (run_dir / "report.html").is_file() and (run_dir / "report.csv").is_file()

    finally:
        for proc in procs:
            P.end_group(proc.pid)
        P.remove(ray_tmp)

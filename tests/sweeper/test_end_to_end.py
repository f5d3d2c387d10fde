"""A two-trial study through Ray Tune with W&B offline: results, leaderboard and W&B files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sweeper.wandb_records import summary
from trial import metrics as M

PROJECT = Path(__file__).resolve().parents[2]

STUDY = """
name: e2e
method: grid
metric: {name: adv_acc, goal: maximize}
parameters:
  model.kind: {value: resnet}
  model.backbone: {value: resnet20}
  model.width: {value: 8}
  model.blocks: {value: 1}
  train.learning_rate: {values: [0.001, 0.003]}
  train.epochs: {value: 2}
  train.batch_size: {value: 32}
  data.image_size: {value: 16}
  data.digit_size: {value: 10}
  data.train_size: {value: 256}
  data.val_size: {value: 64}
  data.test_size: {value: 32}
  attack.eps: {value: 8/255}
  attack.budget: {value: smoke}
  attack.val_examples: {value: 32}
early_terminate: {type: hyperband, min_iter: 1, eta: 2, max_iter: 2}
"""


@pytest.mark.slow
def test_two_trial_study(tmp_path):
    study = tmp_path / "e2e.yaml"
    study.write_text(STUDY)
    storage = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["WANDB_API_KEY"] = ""
    cmd = [
        sys.executable,
        str(PROJECT / "sweeper" / "run.py"),
        str(study),
        "--storage",
        str(storage),
        "--wandb",
        "offline",
    ]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text[max(0, text.find("Traceback") - 1500) :][:4000]

    run_dir = storage / "e2e"
    trials = sorted(p for p in run_dir.iterdir() if (p / "params.json").exists())
    assert len(trials) == 2
    rates, completed = set(), 0
    for trial in trials:
        lines = (trial / "result.json").read_text().splitlines()
        final = json.loads(lines[-1])
        last_epoch = [r for r in map(json.loads, lines) if M.VAL_CLEAN_ACC in r][-1]
        [run_file] = list(trial.glob("wandb/offline-run-*/run-*.wandb"))
        logged = summary(run_file)
        rates.add(logged["config"]["train.learning_rate"])
        assert logged["config"]["model.kind"] == "resnet"
        steps = [row["_step"] for row in logged["history"]]
        assert logged["summary"][M.VAL_CLEAN_ACC] == pytest.approx(last_epoch[M.VAL_CLEAN_ACC])
        if M.STATUS not in final:  # ASHA stopped it at the first rung (grace period 1)
            assert final[M.EPOCH] == 1 and steps == [1]
            continue
        completed += 1
        assert final[M.STATUS] == "completed" and final[M.EPOCH] == 2 and steps == [1, 2]
        assert 0.0 <= final[M.ADV_ACC] <= final[M.CLEAN_ACC] <= 1.0
        assert final[M.ATTACK_BUDGET] == "smoke"
        assert logged["summary"][M.ADV_ACC] == pytest.approx(final[M.ADV_ACC])
    assert rates == {0.001, 0.003}
    assert completed >= 1, "ASHA always lets the best trial of the first rung finish"

    board = (run_dir / "report.md").read_text()
    assert "train.learning_rate" in board and board.count("| completed |") == completed
    assert "Study report: e2e" in out.stdout

    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = subprocess.run(
        [*cmd, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(list(run_dir.glob("trial_*/wandb"))) == 2

"""Under Tune, a trial keeps its best checkpoint, overlays and gaze plot in its study folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trial import checkpoint as C
from trial import metrics as M

PROJECT = Path(__file__).resolve().parents[2]

STUDY = """
name: looks
method: grid
metric: {name: adv_acc, goal: maximize}
parameters:
  model.kind: {value: soft_attention}
  model.backbone: {value: resnet20}
  model.width: {value: 8}
  model.blocks: {value: 1}
  model.localiser_width: {value: 8}
  train.epochs: {value: 4}
  train.batch_size: {value: 32}
  train.learning_rate: {value: 0.003}
  data.image_size: {value: 16}
  data.digit_size: {value: 10}
  data.train_size: {value: 256}
  data.val_size: {value: 64}
  data.test_size: {value: 32}
  attack.eps: {value: 8/255}
  attack.budget: {value: smoke}
  attack.val_examples: {value: 32}
  attack.val_steps: {value: 2}
"""


@pytest.mark.slow
def test_a_study_trial_folder_holds_its_best_checkpoint_and_overlays(tmp_path):
    study = tmp_path / "looks.yaml"
    study.write_text(STUDY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    cmd = [sys.executable, str(PROJECT / "sweeper" / "run.py"), str(study)]
    cmd += ["--storage", str(tmp_path / "runs"), "--wandb", "disabled"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]

    [trial] = [p for p in (tmp_path / "runs" / "looks").iterdir() if (p / "params.json").exists()]
    results = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
    assert [r[M.EPOCH] for r in results] == [1, 2, 3, 4]
    best = max(results, key=lambda r: r[M.VAL_CLEAN_ACC])[M.EPOCH]  # first of equals wins
    kept = {p.name for p in C.complete(trial / "checkpoints")}
    assert kept == {f"epoch_{e:04d}" for e in {3, 4, best}}
    assert C.find(trial, "best").name == f"epoch_{best:04d}"
    for r in results:  # the path Tune and W&B received is the file in the study folder
        assert Path(r[M.ARTIFACT_OVERLAY]) == trial / "overlays" / f"epoch_{r[M.EPOCH]:04d}.png"
        assert Path(r[M.ARTIFACT_OVERLAY]).exists()
    assert (trial / "gaze_metrics.png").exists()

"""What a researcher sees from a real (tiny) study run through `sweeper/run.py`: the compact
progress lines instead of Ray's table, the report files, and W&B runs with readable names, tags,
an outcome per ending and the study-level run with the leaderboard."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sweeper.wandb_files import run_files
from tests.sweeper.wandb_records import records, summary

PROJECT = Path(__file__).resolve().parents[2]

STUDY = """
name: outputs
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
LINE = re.compile(
    r"^\[\s*\d+:\d\d\] outputs: \d+ done, \d+ running, \d+ pending, \d+ stopped, \d+ errored"
)


def run_meta(path: Path) -> dict:
    out = {}
    for rec in records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out.update(name=rec.run.display_name, tags=set(rec.run.tags))
        elif kind == "exit":
            out["exit_code"] = rec.exit.exit_code
    return out


@pytest.mark.slow
def test_a_study_prints_progress_writes_the_report_and_named_wandb_runs(tmp_path):
    (tmp_path / "outputs.yaml").write_text(STUDY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    cmd = [sys.executable, str(PROJECT / "sweeper" / "run.py"), "outputs.yaml"]
    cmd += ["--storage", str(tmp_path / "runs"), "--wandb", "offline"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text[max(0, text.find("Traceback") - 1500) :][:4000]
    lines = [line for line in out.stdout.splitlines() if LINE.match(line)]
    assert lines and "Trial status" not in text  # compact lines, no Ray table
    assert re.search(r"2 done|1 done, 0 running, 0 pending, 1 stopped", lines[-1]), lines[-1]
    assert " | best trial_" in lines[-1] and "adv_acc" in lines[-1]

    study = tmp_path / "runs" / "outputs"
    for name in ("report.md", "report.csv", "report.html"):
        assert (study / name).is_file()
    report = (study / "report.md").read_text()
    trials = sorted(p for p in study.glob("trial_*") if (p / "params.json").is_file())
    assert len(trials) == 2
    for trial in trials:
        assert trial.name in report
        [path] = run_files(trial, f"outputs-{trial.name.removeprefix('trial_')}")
        meta, logged = run_meta(path), summary(path)
        rate = logged["config"]["train.learning_rate"]
        assert meta["name"] == f"resnet-lr={rate:g}"
        outcome = logged["summary"]["outcome"]
        assert outcome in ("completed", "stopped") and meta["exit_code"] == 0
        assert {"study:outputs", "family:resnet", f"outcome:{outcome}"} <= meta["tags"]
        row = next(line for line in report.splitlines() if f"| {trial.name} |" in line)
        assert ("stopped by ASHA at epoch 1" in row) == (outcome == "stopped")
    [study_run] = run_files(study, "outputs-report")
    assert any(k.startswith("leaderboard/") for k in summary(study_run)["history"][0])

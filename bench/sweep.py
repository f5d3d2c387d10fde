"""Benchmark: a study through `sweeper/run.py` against the same trials in a plain Python loop.

`python -m bench.sweep --json` writes an 8-trial grid study (trials of about 30 s of training
and attack each on 2 cores; ASHA off, W&B offline, checkpoints every epoch), runs it as a local
study exactly as a user would (`python sweeper/run.py STUDY --storage TMP --wandb offline`: a
Ray of its own, Tune, one CPU per trial), and runs the same trial configurations one after
another in a plain loop (`python -m bench.sweep --loop STUDY`: `trial.run.Trial`, stepped to
the end, checkpoints on), both from a cold interpreter, in the same run.

Printed (one JSON object): `ratio` = loop time / study time (target >= 0.9), both wall times,
the time from the command to the first trial starting (its trainable's setup: validation, Ray
and a worker come before it), and Tune's overhead per trial: a study trial's setup (TensorFlow
in a new worker, data, model) plus its time between steps (checkpoints handed to Tune,
scheduling), minus the loop's setup of the same trial (data and model); per-trial step times
of both (a study trial gets one CPU thread, the loop all of them); and the load average while
it ran (the machine is shared: compare figures from quiet runs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean

PROJECT = Path(__file__).resolve().parents[1]
STUDY = """
name: bench
method: grid
metric: {{name: adv_acc, goal: maximize}}
resources: {{cpu: 1}}
parameters:
  seed: {{values: {seeds}}}
  model.kind: {{value: resnet}}
  model.backbone: {{value: resnet20}}
  model.width: {{value: 8}}
  model.blocks: {{value: 1}}
  train.epochs: {{value: {epochs}}}
  data.train_size: {{value: {train_size}}}
  data.val_size: {{value: 256}}
  attack.val_examples: {{value: 64}}
  attack.budget: {{value: smoke}}
"""


def loop(study_path: Path, workdir: Path) -> dict:
    """Runs the study's trials one after another with the trial runner; returns timings."""
    from sweeper.space import load_study, trial_points
    from trial.config import TrialConfig
    from trial.run import Trial

    setup, steps = [], []
    for i, point in enumerate(trial_points(load_study(study_path))):
        started = time.perf_counter()
        trial = Trial(TrialConfig.from_dict(point), checkpoint_dir=workdir / f"trial_{i}")
        built = time.perf_counter()
        while not trial.done:
            trial.step()
        setup.append(built - started)
        steps.append(time.perf_counter() - built)
    return {"setup_s": setup, "steps_s": steps}


def _study_figures(run_dir: Path, command_start: float) -> dict:
    """Per trial (from its results and Tune's saved state): its setup (the trainable's
    `time/setup_s`: TensorFlow in a new worker, data, model), its time inside steps, and its
    time between steps (checkpoint hand-over, scheduling)."""
    from ray.tune import ExperimentAnalysis

    setup, inside, between, first_steps = [], [], [], []
    for trial in ExperimentAnalysis(str(run_dir)).trials:
        folder = run_dir / f"trial_{trial.trial_id}"
        rows = [json.loads(x) for x in (folder / "result.json").read_text().splitlines()]
        first_step = rows[0]["timestamp"] - rows[0]["time_this_iter_s"]  # whole seconds
        work = sum(r["time_this_iter_s"] for r in rows)
        first_steps.append(first_step - rows[0]["time/setup_s"])
        setup.append(rows[0]["time/setup_s"])
        inside.append(work)
        between.append(trial.run_metadata.last_result_time - first_step - work)
    return {
        "time_to_first_trial_s": min(first_steps) - command_start,
        "setup_s": setup,
        "steps_s": inside,
        "between_steps_s": between,
    }


def run(trials: int, epochs: int, train_size: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    study = tmp / "bench.yaml"
    study.write_text(STUDY.format(seeds=list(range(trials)), epochs=epochs, train_size=train_size))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RAY_"))}
    env.update(WANDB_API_KEY="", WANDB_SILENT="true")
    load = [os.getloadavg()[0]]

    started = time.time()
    out = subprocess.run(
        [sys.executable, "-m", "bench.sweep", "--loop", str(study), "--workdir", str(tmp / "loop")],
        cwd=PROJECT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    loop_s = time.time() - started
    looped = json.loads(out.stdout.strip().splitlines()[-1])
    load.append(os.getloadavg()[0])

    started = time.time()
    cmd = [sys.executable, str(PROJECT / "sweeper" / "run.py"), str(study)]
    done = subprocess.run(
        [*cmd, "--storage", str(tmp / "runs"), "--wandb", "offline"],
        cwd=tmp, env=env, capture_output=True, text=True,
    )  # fmt: skip
    study_s = time.time() - started
    load.append(os.getloadavg()[0])
    if done.returncode != 0:
        raise SystemExit(f"the study failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures = _study_figures(tmp / "runs" / "bench", started)
    return {
        "bench": "sweep",
        "trials": trials,
        "cpus": os.cpu_count(),
        "ratio": round(loop_s / study_s, 3),
        "target": 0.9,
        "loop_s": round(loop_s, 1),
        "study_s": round(study_s, 1),
        "time_to_first_trial_s": round(figures["time_to_first_trial_s"], 1),
        "tune_overhead_per_trial_s": round(
            mean(figures["setup_s"]) + mean(figures["between_steps_s"]) - mean(looped["setup_s"]),
            1,
        ),
        "study_trial_setup_s": round(mean(figures["setup_s"]), 1),
        "study_between_steps_s": round(mean(figures["between_steps_s"]), 1),
        "loop_trial_setup_s": round(mean(looped["setup_s"]), 1),
        "loop_trial_steps_s": round(mean(looped["steps_s"]), 1),
        "study_trial_steps_s": round(mean(figures["steps_s"]), 1),
        "load_avg_1min": [round(x, 2) for x in load],
        "folder": str(tmp),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        allow_abbrev=False, prog="python -m bench.sweep", description=__doc__.split("\n")[0]
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--train-size", type=int, default=4000, help="training images per epoch")
    p.add_argument("--loop", metavar="STUDY", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.loop:
        print(json.dumps(loop(Path(args.loop), Path(args.workdir))))
        return 0
    result = run(args.trials, args.epochs, args.train_size)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

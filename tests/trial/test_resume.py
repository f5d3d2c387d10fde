"""Exact resume: 2 epochs straight and 1 + resume (in a fresh process) + 1 give bitwise-equal
weights, optimiser slots and random states, with augmentation, shuffling, random training gazes
and adversarial training active. Op determinism is process-wide, so the trials run in
subprocesses; a changed training config is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trial import checkpoint as C
from trial.config import TrialConfig
from trial.run import ListReporter, Trial, run_trial

PROJECT = Path(__file__).resolve().parents[2]
KINDS = {
    "resnet": {"train.adversarial": True, "train.adv_steps": 2},  # the attack's tf Generator
    "multi_gaze": {"model.num_transformers": 2, "model.gaze_l2": 0.01},
    "coarse_fixations": {},  # random training gazes: a Keras SeedGenerator
}
SCRIPT = """
import json, sys
from trial.config import TrialConfig
from trial.run import Trial

trials, phase, root = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
for name, flat in trials.items():
    cfg = TrialConfig.from_dict(flat)
    if phase == "straight":  # two epochs; epoch 1's checkpoint is kept
        trial = Trial(cfg, checkpoint_dir=f"{root}/{name}/straight")
        trial.step()
        trial.step()
    else:  # a new process resumes from epoch 1's checkpoint and trains epoch 2
        trial = Trial(
            cfg,
            checkpoint_dir=f"{root}/{name}/resumed",
            resume_from=f"{root}/{name}/straight/epoch_0001",
        )
        assert trial.state["epoch"] == 1, trial.state["epoch"]
        trial.step()
"""


def _tiny(tiny_trial_dict: dict, kind: str) -> dict:
    model = {"model.kind": kind, "model.backbone": "resnet20", "model.width": 8, "model.blocks": 1}
    if kind == "multi_gaze":
        model.update({"model.localiser_width": 8, "model.localiser_blocks": 1})
    return {
        **tiny_trial_dict,
        **model,
        **KINDS[kind],
        "data.train_size": 128,
        "train.epochs": 3,  # compared at epoch 2: the final attack is not needed here
        "train.augment": True,
        "train.deterministic": True,
        "attack.val_steps": 2,
    }


@pytest.mark.slow
def test_one_epoch_resume_one_epoch_is_bitwise_equal_to_two_straight(tiny_trial_dict, tmp_path):
    trials = {kind: _tiny(tiny_trial_dict, kind) for kind in KINDS}
    for phase in ("straight", "resume"):
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, json.dumps(trials), phase, str(tmp_path)],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert out.returncode == 0, out.stderr[-3000:]
    for kind in KINDS:
        straight = tmp_path / kind / "straight" / "epoch_0002"
        resumed = tmp_path / kind / "resumed" / "epoch_0002"
        with np.load(straight / C.ARRAYS) as a, np.load(resumed / C.ARRAYS) as b:
            assert sorted(a.files) == sorted(b.files)
            rng = [n for n in a.files if n.startswith("rng/")]
            assert rng, f"{kind}: no random state was saved"
            if kind == "coarse_fixations":
                assert any(n.startswith("rng/model/gazes/") for n in rng), rng
            if kind == "resnet":
                assert any(n.startswith("rng/train_adversary/") for n in rng), rng
            differ = [n for n in a.files if not np.array_equal(a[n], b[n])]
            assert not differ, f"{kind}: resumed run differs in {differ[:8]}"
        history = [C.read_state(p)["history"][-1] for p in (straight, resumed)]
        numbers = [{k: v for k, v in h.items() if isinstance(v, float)} for h in history]
        numbers = [{k: v for k, v in h.items() if not k.startswith("time/")} for h in numbers]
        assert numbers[0] == numbers[1], kind


def test_a_resume_that_would_train_differently_is_refused(tiny_trial_dict, tmp_path):
    cfg = TrialConfig.from_dict({**tiny_trial_dict, "train.epochs": 2})
    Trial(cfg, checkpoint_dir=tmp_path).step()
    for key, value in (("train.epochs", 3), ("train.learning_rate", 0.01), ("data.seed", 1)):
        with pytest.raises(ValueError, match=f"another config \\({key}: "):
            Trial(cfg.replace(**{key: value}), checkpoint_dir=tmp_path)
    # Evaluation-only keys may change: the trial goes on from its checkpoint.
    trial = Trial(cfg.replace(**{"attack.budget": "demo"}), checkpoint_dir=tmp_path)
    assert trial.state["epoch"] == 1


def test_a_checkpoint_of_another_model_names_what_differs(tiny_trial_dict, tmp_path):
    run_trial(
        TrialConfig.from_dict({**tiny_trial_dict, "train.epochs": 1}),
        ListReporter(),
        checkpoint_dir=tmp_path,
    )
    wider = TrialConfig.from_dict({**tiny_trial_dict, "train.epochs": 1, "model.width": 16})
    with pytest.raises(ValueError, match="model.width: 8 -> 16"):
        Trial(wider, checkpoint_dir=tmp_path)
    trial = Trial(wider, checkpoint_dir=tmp_path / "other")
    with pytest.raises(ValueError, match=r"other shapes: model/backbone_\S+ \(saved \(8,\), here"):
        C.restore(tmp_path / "epoch_0001", trial.variables())

"""run_trial trains, reports every epoch with a checkpoint, resumes, and ends diverged runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from trial import metrics as M
from trial.__main__ import legacy_overrides, main, parse_sets
from trial.config import TrialConfig
from trial.run import ListReporter, run_trial

PROJECT = Path(__file__).resolve().parents[2]


def test_reports_each_epoch_and_the_final_attack(tiny_trial_dict, tmp_path):
    reporter = ListReporter()
    cfg = TrialConfig.from_dict(tiny_trial_dict)
    result = run_trial(cfg, reporter, checkpoint_dir=tmp_path)
    assert result.status == "completed" and result.epochs_run == 2
    epochs = [r for r in reporter.reports if M.PHASE not in r]  # then the evaluation's steps
    assert [r[M.EPOCH] for r in epochs] == [1, 2]
    for report in epochs:
        assert 0.0 <= report[M.VAL_ADV_ACC] <= report[M.VAL_CLEAN_ACC] + 1e-9 <= 1.0 + 1e-9
        assert math.isfinite(report[M.TRAIN_LOSS])
    final = reporter.reports[-1]
    assert M.ADV_ACC not in reporter.reports[0], "the final attack runs once, at the end"
    assert 0.0 <= final[M.ADV_ACC] <= final[M.CLEAN_ACC] <= 1.0
    assert final[M.ADV_ACC] <= final[M.adv_key("linf", "pgd", 0.1)]
    assert final[M.ATTACK_BUDGET] == "smoke"
    assert all(p is not None and (p / "model.weights.h5").exists() for p in reporter.checkpoints)


def test_resume_continues_where_the_checkpoint_left_off(tiny_trial_dict, tmp_path):
    first = ListReporter()
    short = TrialConfig.from_dict({**tiny_trial_dict, "train.epochs": 1})
    run_trial(short, first, checkpoint_dir=tmp_path)
    second = ListReporter()
    longer = TrialConfig.from_dict({**tiny_trial_dict, "train.epochs": 3})
    result = run_trial(longer, second, checkpoint_dir=tmp_path)
    assert [r[M.EPOCH] for r in second.reports if M.PHASE not in r] == [2, 3]
    assert result.epochs_run == 3


def test_checkpoints_keep_the_last_two_and_the_best(tiny_trial_dict, tmp_path):
    cfg = TrialConfig.from_dict({**tiny_trial_dict, "train.epochs": 4, "attack.val_steps": 1})
    reporter = ListReporter()
    run_trial(cfg, reporter, checkpoint_dir=tmp_path)
    best = max(range(4), key=lambda i: reporter.reports[i][M.VAL_CLEAN_ACC]) + 1
    kept = {int(p.name.split("_")[1]) for p in tmp_path.glob("epoch_*")}
    assert kept == {3, 4, best}


def test_a_diverged_trial_ends_as_such(tiny_trial_dict, tmp_path):
    cfg = TrialConfig.from_dict(
        {
            **tiny_trial_dict,
            "train.optimizer": "sgd",
            "train.learning_rate": 1e30,
            "train.lr_schedule": "constant",
        }
    )
    reporter = ListReporter()
    result = run_trial(cfg, reporter, checkpoint_dir=tmp_path)
    assert result.status == "diverged"
    assert reporter.reports[-1][M.STATUS] == "diverged"


def test_legacy_trainer_flags_map_onto_the_config():
    import argparse

    args = argparse.Namespace(
        model="resnet_cifar",
        dataset="cifar10",
        sampling="0",
        coarse_fixations="0",
        augment="1",
        auxiliary=None,
        restricted_attention=None,
        shared="0",
        epochs=7,
        num_transformers=5,
    )
    flat = legacy_overrides(args)
    assert flat["model.kind"] == "resnet" and flat["model.backbone"] == "resnet20"
    assert flat["data.name"] == "cifar10" and flat["train.epochs"] == 7
    assert flat["train.augment"] is True and flat["model.num_transformers"] == 5
    args.model, args.sampling = "resnet", "1"
    assert legacy_overrides(args)["model.kind"] == "retinal"
    args.coarse_fixations = "1"
    with pytest.raises(ValueError, match="mutually exclusive"):
        legacy_overrides(args)
    args.sampling = "2"
    with pytest.raises(ValueError, match="take 0 or 1"):
        legacy_overrides(args)


def test_set_values_are_parsed_as_yaml():
    assert parse_sets(["train.epochs=2", "attack.eps=8/255", "train.augment=true"]) == {
        "train.epochs": 2,
        "attack.eps": "8/255",
        "train.augment": True,
    }
    with pytest.raises(ValueError, match="dotted.key=value"):
        parse_sets(["epochs"])


def test_cli_rejects_unknown_keys_before_training(capsys):
    assert main(["--set", "train.epoch=2"]) == 2
    assert "train.epoch" in capsys.readouterr().err


def test_cli_prints_one_json_object_last(tiny_trial_dict, tmp_path):
    sets = [arg for k, v in tiny_trial_dict.items() for arg in ("--set", f"{k}={v}")]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "trial",
            *sets,
            "--set",
            "train.epochs=1",
            "--workdir",
            str(tmp_path),
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "completed" and result["config"]["train.epochs"] == 1
    assert 0.0 <= result[M.ADV_ACC] <= result[M.CLEAN_ACC] <= 1.0


def test_cli_reports_bad_legacy_flags_like_bad_keys(capsys):
    assert main(["--sampling=2"]) == 2
    assert capsys.readouterr().err.startswith("error: --sampling='2'")


def test_a_checkpoint_of_another_config_is_refused(tiny_trial_dict, tmp_path):
    run_trial(
        TrialConfig.from_dict({**tiny_trial_dict, "train.epochs": 1}),
        ListReporter(),
        checkpoint_dir=tmp_path,
    )
    wider = TrialConfig.from_dict({**tiny_trial_dict, "model.width": 16})
    with pytest.raises(ValueError, match="another config \\(differs in model.width\\)"):
        run_trial(wider, ListReporter(), checkpoint_dir=tmp_path)

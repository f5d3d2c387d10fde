"""`python -m trial`: strict keys and flags, the original command lines, progress, --evaluate."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from trial import legacy
from trial import metrics as M
from trial.__main__ import build_parser, main, parse_sets
from trial.config import TrialConfig
from trial.progress import EpochProgress

PROJECT = Path(__file__).resolve().parents[2]
# The handover's two lines (handover.md), on the embedded data instead of ImageNet10.
HANDOVER = {
    "parallel_transformers": "--model=parallel_transformers --dataset=cluttered_digits "
    "--sampling=0 --coarse_fixations=0 --augment=1 --auxiliary=0 --restricted_attention=1 "
    "--shared=0 --epochs=400 --num_transformers=5",
    "multi_gaze": "--model=multi_gaze --dataset=cluttered_digits --sampling=0 "
    "--coarse_fixations=0 --augment=1 --auxiliary=0 --shared=0 --epochs=400 "
    "--num_transformers=5",
}


def _config(line: str) -> TrialConfig:
    return TrialConfig.from_dict(legacy.overrides(build_parser().parse_args(shlex.split(line))))


@pytest.mark.parametrize("kind", sorted(HANDOVER))
def test_the_handovers_command_lines_run_as_written(kind):
    cfg = _config(HANDOVER[kind])
    assert cfg.model.kind == kind and cfg.data.name == "cluttered_digits"
    assert (cfg.model.num_transformers, cfg.model.shared) == (5, False)
    assert cfg.train.augment and cfg.train.epochs == 400
    if kind == "parallel_transformers":
        assert cfg.model.restricted_attention


def test_legacy_flags_map_onto_the_config_and_refuse_what_the_model_lacks():
    cfg = _config("--model=resnet_cifar --dataset=cifar10 --sampling=0 --augment=1 --epochs=7")
    assert (cfg.model.kind, cfg.model.backbone, cfg.data.name) == ("resnet", "resnet20", "cifar10")
    assert _config("--model=resnet --sampling=1").model.kind == "retinal"
    assert _config("--model=ecnn --auxiliary=1").model.auxiliary
    for line, match in (
        ("--model=resnet --sampling=1 --coarse_fixations=1", "mutually exclusive"),
        ("--sampling=2", "take 0 or 1"),
        ("--model=multi_gaze --auxiliary=1", "it is a key of model.kind cortical"),
        ("--model=multi_gaze --sampling=1", "front-end of --model=resnet"),
        ("--model=resnet --num_transformers=5", "multi_gaze, parallel_transformers"),
        ("--model=vgg", "not an original model"),
    ):
        with pytest.raises(ValueError, match=match):
            _config(line)


def test_every_registered_dataset_is_accepted_and_others_are_named():
    known = legacy.dataset_names()
    assert "cluttered_digits" in known
    for name in known:
        expected = legacy.DATASET_ALIASES.get(name, name)  # bbox_imagenet10 is imagenet10's default
        assert _config(f"--dataset={name}").data.name == expected
    with pytest.raises(ValueError, match="has no loader here; available: .*cluttered_digits"):
        _config("--dataset=imagenet1k")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--num_transformer=5"], "did you mean --num_transformers?"),
        (["--restricted=1"], "did you mean --restricted_attention?"),
        (["--epoch", "3"], "did you mean --epochs?"),
    ],
)
def test_flags_are_never_abbreviated(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "train.epoch=2"], "did you mean train.epochs?"),
        (["--set", "model.widht=8"], "did you mean model.width?"),
        (
            ["--set", "model.num_transformer=5"],
            "did you mean model.num_transformers (a key of model.kind multi_gaze, "
            "parallel_transformers)?",
        ),
        (["--model=multi_gaze", "--set", "model.restricted_attention=1"], "soft_attention"),
        (["--sampling=2"], "error: --sampling='2'"),
    ],
)
def test_a_key_the_model_lacks_is_an_error_before_training(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_set_values_are_parsed_as_yaml():
    assert parse_sets(["train.epochs=2", "attack.eps=8/255", "train.augment=true"]) == {
        "train.epochs": 2,
        "attack.eps": "8/255",
        "train.augment": True,
    }
    with pytest.raises(ValueError, match="dotted.key=value"):
        parse_sets(["epochs"])


def test_epoch_progress_reports_rate_and_time_left():
    now = [0.0]
    progress = EpochProgress(2, 8, total=1000, every=10.0, clock=lambda: now[0])
    now[0] = 4.0
    progress(100, 2.0)  # the first batch (tracing) is slow and too soon for a line
    now[0] = 6.0
    progress(200, 1.5)
    now[0] = 10.0
    progress(400, 1.25)  # 300 images in the 6 s since the first batch
    now[0] = 22.0
    progress(1000, 1.0)  # the last batch always gets a line
    assert progress.lines == [
        "epoch 2/8  400/1,000 images (40%)  50 img/s  ETA 12s  loss 1.25",
        "epoch 2/8  1,000/1,000 images (100%)  50 img/s  ETA 0s  loss 1",
    ]


@pytest.mark.slow
def test_cli_trains_then_evaluate_reattacks_without_retraining(tiny_trial_dict, tmp_path, capsys):
    trial = {
        **tiny_trial_dict,
        "model.kind": "coarse_fixations",  # gazes: random in training, the centre at inference
        "train.epochs": 1,
    }
    sets = [arg for k, v in trial.items() for arg in ("--set", f"{k}={v}")]
    out = subprocess.run(
        [sys.executable, "-m", "trial", *sets, "--workdir", str(tmp_path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "img/s  ETA" in out.stderr, "no progress line during the epoch"
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed" and result["config"]["train.epochs"] == 1
    assert Path(result[M.ARTIFACT_OVERLAY]) == tmp_path / "overlays" / "epoch_0001.png"
    assert Path(result[M.ARTIFACT_OVERLAY]).exists()
    assert not (tmp_path / "gaze_metrics.png").exists(), "its gazes are not learned"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["epoch_0001"]

    assert main(["--evaluate", str(tmp_path), "--checkpoint", "last"]) == 0
    same = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # The same weights, test set and attack: the trial's own figures, without retraining.
    assert same["epoch"] == 1 and same[M.CLEAN_ACC] == result[M.CLEAN_ACC]
    assert same[M.ADV_ACC] == result[M.ADV_ACC]
    assert main(["--evaluate", str(tmp_path), "--set", "attack.eps=0.3"]) == 0
    stronger = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stronger[M.ADV_ACC] <= same[M.ADV_ACC] and stronger["overrides"] == {"attack.eps": 0.3}
    records = sorted((tmp_path / "evaluations").glob("*.json"))
    assert len(records) == 2, "an evaluation overwrote another"
    assert {json.loads(p.read_text())["config"]["attack.eps"] for p in records} == {0.1, 0.3}

    assert main(["--evaluate", str(tmp_path), "--set", "train.epochs=3"]) == 2
    assert "only evaluation settings" in capsys.readouterr().err
    assert main(["--evaluate", str(tmp_path / "nothing-here")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_evaluate_attacks_the_checkpoint_the_figures_came_from_and_says_which(
    tiny_trial_dict, tmp_path, capsys
):
    from trial.run import ListReporter, run_trial

    cfg = TrialConfig.from_dict(tiny_trial_dict)  # 2 epochs
    result = run_trial(cfg, ListReporter(), checkpoint_dir=tmp_path / "checkpoints")
    last = tmp_path / "checkpoints" / "epoch_0002"
    state = json.loads((last / "state.json").read_text())
    state["best_epoch"] = 1  # as if epoch 1 had the best val/clean_acc (ASHA-stopped or not)
    (last / "state.json").write_text(json.dumps(state))

    assert main(["--evaluate", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    record = json.loads(out.strip().splitlines()[-1])
    assert record["epoch"] == 2, "the default is the model the reported figures came from"
    assert record[M.CLEAN_ACC] == result.metrics[M.CLEAN_ACC]
    assert record[M.ADV_ACC] == result.metrics[M.ADV_ACC]
    assert f"--evaluate: epoch 2 ({last}): the last checkpoint, the model the trial's " in err

    assert main(["--evaluate", str(tmp_path), "--checkpoint", "best"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.strip().splitlines()[-1])["epoch"] == 1
    assert "the best checkpoint by val/clean_acc, which need not be the model" in err


def test_evaluate_takes_no_training_flags(capsys):
    assert main(["--evaluate", "runs/x", "--model=resnet"]) == 2
    assert "drop --model" in capsys.readouterr().err
    args = argparse.Namespace(**{n: None for n in ("model", "dataset", "epochs")})
    assert legacy.given(args) == []

"""run_trial trains, reports every epoch with a checkpoint, resumes, and ends diverged runs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.shares import assert_share
from trial import metrics as M
from trial.config import TrialConfig
from trial.overlay import overlay_size
from trial.run import ListReporter, Trial, run_trial


def test_reports_each_epoch_and_the_final_attack(tiny_trial_dict, tmp_path):
    reporter = ListReporter()
    cfg = TrialConfig.from_dict(tiny_trial_dict)
    result = run_trial(cfg, reporter, checkpoint_dir=tmp_path)
    assert result.status == "completed" and result.epochs_run == 2
    epochs = [r for r in reporter.reports if M.PHASE not in r]  # then the evaluation's steps
    assert [r[M.EPOCH] for r in epochs] == [1, 2]
    for report in epochs:
        # val/clean_acc: the whole validation split; val/adv_acc: its fixed attacked batch.
        assert_share(report[M.VAL_CLEAN_ACC], cfg.data.val_size, M.VAL_CLEAN_ACC)
        assert_share(report[M.VAL_ADV_ACC], cfg.attack.val_examples, M.VAL_ADV_ACC)
        assert math.isfinite(report[M.TRAIN_LOSS])
    final = reporter.reports[-1]
    assert M.ADV_ACC not in reporter.reports[0], "the final attack runs once, at the end"
    n = final[M.N_TEST]
    assert n == cfg.data.test_size
    assert assert_share(final[M.ADV_ACC], n) <= assert_share(final[M.CLEAN_ACC], n)
    assert final[M.ADV_ACC] <= final[M.adv_key("linf", "pgd", 0.1)]
    assert final[M.ATTACK_BUDGET] == "smoke"
    assert all(p is not None and (p / "arrays.npz").exists() for p in reporter.checkpoints)
    # Named loss terms: a plain ResNet's loss is its cross-entropy alone.
    assert all(r[M.loss_key("ce")] == pytest.approx(r[M.TRAIN_LOSS]) for r in epochs)
    assert M.ARTIFACT_OVERLAY not in final, "a model without gazes draws no overlay"


def test_a_rerun_resumes_where_the_checkpoint_left_off(tiny_trial_dict, tmp_path):
    cfg = TrialConfig.from_dict({**tiny_trial_dict, "train.epochs": 3})
    trial = Trial(cfg, checkpoint_dir=tmp_path)
    trial.step()  # then the process "stops"
    second = ListReporter()
    result = run_trial(cfg, second, checkpoint_dir=tmp_path)
    assert [r[M.EPOCH] for r in second.reports if M.PHASE not in r] == [2, 3]
    assert result.epochs_run == 3 and result.status == "completed"


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


def test_a_gaze_model_draws_its_overlay_every_epoch_and_its_metrics_at_the_end(
    tiny_trial_dict, tmp_path
):
    from PIL import Image

    cfg = TrialConfig.from_dict(
        {
            **tiny_trial_dict,
            "model.kind": "soft_attention",
            "model.localiser_width": 8,
            "model.gaze_init": "random",  # off-centre, so the prior is not zero
            "model.gaze_l2": 0.01,
        }
    )
    reporter = ListReporter()
    result = run_trial(
        cfg, reporter, checkpoint_dir=tmp_path / "checkpoints", artifacts_dir=tmp_path
    )
    epochs = [r for r in reporter.reports if M.PHASE not in r]  # then the evaluation's steps
    assert [r[M.EPOCH] for r in epochs] == [1, 2]
    for epoch, report in enumerate(epochs, 1):
        overlay = tmp_path / "overlays" / f"epoch_{epoch:04d}.png"
        assert report[M.ARTIFACT_OVERLAY] == str(overlay) and overlay.exists()
        assert Image.open(overlay).size == overlay_size(16, 16, 16)  # 16 of 32 val images
        assert report[M.loss_key("gaze_l2")] > 0
        total = report[M.loss_key("ce")] + report[M.loss_key("gaze_l2")]
        assert report[M.TRAIN_LOSS] == pytest.approx(total, rel=1e-5)
        boxes = cfg.attack.val_examples * 1  # soft_attention: one STN, one box per image
        assert_share(report[M.STN_BBOX_EDGE_FRAC], boxes, M.STN_BBOX_EDGE_FRAC)
    plot = Path(epochs[-1][M.ARTIFACT_GAZE_METRICS])
    assert plot == tmp_path / "gaze_metrics.png" and Image.open(plot).format == "PNG"
    assert result.metrics[M.ARTIFACT_GAZE_METRICS] == str(plot), "the final metrics keep it"
    assert result.metrics[M.ARTIFACT_OVERLAY] == str(tmp_path / "overlays" / "epoch_0002.png")


def test_the_best_checkpoint_is_the_best_epoch_by_its_metrics_definition(tiny_trial_dict, tmp_path):
    cfg = TrialConfig.from_dict(
        {
            **tiny_trial_dict,
            "model.kind": "soft_attention",
            "model.localiser_width": 8,
            "model.gaze_init": "random",
            "train.epochs": 3,
            "attack.val_steps": 1,
        }
    )
    trial = Trial(cfg, checkpoint_dir=tmp_path, best_metric="gaze/object_dist")
    distances = [trial.step()[0]["gaze/object_dist"] for _ in range(3)]
    assert len(set(distances)) > 1, "the gazes never moved: the test tells no direction apart"
    nearest = distances.index(min(distances)) + 1  # lower is better: nearer the object
    assert trial.state["best_epoch"] == nearest and trial.state["best"] == min(distances)
    with pytest.raises(ValueError, match="has no direction of its own"):
        Trial(cfg, checkpoint_dir=tmp_path / "other", best_metric="gaze/object_dist_shuffled")


def test_an_empty_training_split_is_an_error_not_a_50000_image_epoch(
    tiny_trial_dict, tmp_path, monkeypatch
):
    import dataclasses

    from trial import run
    from trial.data import load

    def empty(cfg):
        return dataclasses.replace(load(cfg), train_size=0)

    monkeypatch.setattr(run, "load", empty)
    with pytest.raises(ValueError, match="the training split holds 0 examples"):
        Trial(TrialConfig.from_dict(tiny_trial_dict), checkpoint_dir=tmp_path)


def test_the_names_a_trial_reports_are_the_names_the_sweeper_lets_a_study_rank_by(
    tiny_trial_dict, tmp_path
):
    from trial.reported import model_parts, reported

    cfg = TrialConfig.from_dict(
        {
            **tiny_trial_dict,
            "model.kind": "soft_attention",  # gazes, θ and boxes, a gaze_l2 term
            "model.localiser_width": 8,
            "model.gaze_l2": 0.01,
            "train.epochs": 1,
            "attack.eps_curve": [0.05],
        }
    )
    reporter = ListReporter()
    trial = Trial(cfg, checkpoint_dir=tmp_path)
    expected = reported(cfg, *model_parts(trial.model))
    run_trial(cfg, reporter, checkpoint_dir=tmp_path)

    def numbers(reports):
        return {
            k
            for r in reports
            for k, v in r.items()
            if isinstance(v, int | float)
            and not isinstance(v, bool)
            and k not in (M.EPOCH, *M.PROGRESS)
        }

    epochs = [r for r in reporter.reports if M.PHASE not in r]
    final = numbers(r for r in reporter.reports if M.PHASE in r)
    assert numbers(epochs) == expected.per_epoch
    assert {M.GAZE_OBJECT_DIST, M.STN_BBOX_EDGE_FRAC, M.loss_key("gaze_l2")} <= expected.per_epoch
    assert {k for k in final if not k.startswith("check/")} == expected.final
    assert M.curve_key("linf", 0.05) in expected.final
    ran = {k.split("/")[1] for k in final if k.startswith("check/")}
    assert ran == expected.checks, "trial.metrics.CHECKS names the checks the evaluation runs"
    assert all(expected.has(k) for k in final), "every number the sweeper may be asked to rank"

"""The final evaluation is a phase of its own: steps after the epochs, resumable from its finished
units (also through a copied checkpoint, as Tune restores one), with the suite, the original
protocol, the checks and EOT for models random at inference; adversarial training attacks the
forward pass it trains."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf

import models
from tests.shares import assert_share
from trial import checkpoint as C
from trial import evaluation as E
from trial import metrics as M
from trial import train as T
from trial.config import TrialConfig
from trial.run import Trial, final_evaluation

SUITE = ("pgd", "apgd-ce", "apgd-t-dlr", "square")
TINY = {  # tests/conftest.py's tiny_trial_dict (a module-scoped fixture cannot use it)
    "model.kind": "resnet",
    "model.backbone": "resnet20",
    "model.width": 8,
    "model.blocks": 1,
    "data.image_size": 16,
    "data.digit_size": 10,
    "data.train_size": 256,
    "data.val_size": 64,
    "data.test_size": 32,
    "train.batch_size": 32,
    "attack.budget": "smoke",
    "attack.val_examples": 32,
}
EPS = 0.03
LEARNS = {  # trains to about 0.7 clean accuracy in three short epochs, so attacks have work
    "data.clutter": 0,
    "data.train_size": 768,
    "train.epochs": 3,
    "train.learning_rate": 0.01,
    "attack.eps": EPS,
    "attack.batch_size": 16,
}


@pytest.fixture(scope="module")
def stepped(tmp_path_factory):
    """A whole trial driven step by step, with a copy of its checkpoint taken after the first
    evaluation step (as Tune keeps one)."""
    cfg = TrialConfig.from_dict({**TINY, **LEARNS})
    root = tmp_path_factory.mktemp("stepped")
    trial = Trial(cfg, checkpoint_dir=root / "run")
    reports, checkpoints = [], []
    while not trial.done:
        metrics, ckpt = trial.step()
        reports.append(metrics)
        checkpoints.append(ckpt)
        if metrics.get(M.EVAL_DONE) == 1:
            shutil.copytree(ckpt, root / "tune_checkpoint")
    return cfg, trial, reports, checkpoints, root


def test_the_evaluation_runs_as_steps_after_the_epochs(stepped):
    _, trial, reports, checkpoints, _ = stepped
    training, evaluation = reports[:3], reports[3:]
    assert [r[M.EPOCH] for r in training] == [1, 2, 3]
    assert all(M.PHASE not in r and M.ADV_ACC not in r for r in training)
    assert len(evaluation) == 3  # the checks, then two batches of 16
    for report in evaluation:
        assert report[M.PHASE] == M.EVALUATION and report[M.EPOCH] == 3
        assert not any(k.startswith("val/") for k in report), "ASHA must not see these"
    assert [r[M.EVAL_DONE] for r in evaluation] == [1, 2, 3]
    final = evaluation[-1]
    assert final[M.STATUS] == "completed" and M.STATUS not in evaluation[0]
    per_attack = [final[M.adv_key("linf", name, EPS)] for name in SUITE]
    assert per_attack == sorted(per_attack, reverse=True), "the cascade only ever lowers it"
    assert final[M.ADV_ACC] == per_attack[-1] < final[M.CLEAN_ACC]
    assert per_attack[0] > 0, "nothing survived PGD: the test exercises no cascade"
    assert_share(final[M.original_key("linf", EPS)], final[M.N_TEST], "original protocol")
    assert final[M.N_TEST] == 32 and final[M.ATTACK_BUDGET] == "smoke"
    verdicts = {k: v for k, v in final.items() if k.startswith("check/") and k.count("/") == 1}
    assert set(verdicts) >= {"check/logits", "check/gradients", "check/square_vs_white_box"}
    assert set(verdicts.values()) <= {"pass", "fail"}
    assert final[M.CHECKS_PASSED] == int(all(v == "pass" for v in verdicts.values()))
    [ckpt] = set(checkpoints[3:])  # every evaluation step hands back the last epoch's checkpoint
    assert ckpt == checkpoints[2] and (ckpt / C.ARRAYS).exists()
    assert len(list((ckpt / "evaluation").glob("unit_*.npz"))) == 3
    result = trial.result.metrics
    assert result[M.ADV_ACC] == final[M.ADV_ACC]
    assert M.VAL_CLEAN_ACC in result  # the last epoch's figures stay in the result


def test_an_interrupted_evaluation_resumes_from_its_finished_units(stepped):
    cfg, _, reports, _, root = stepped
    # A fresh worker restores the copy Tune kept of the first evaluation step's checkpoint.
    resumed = Trial(cfg, checkpoint_dir=root / "elsewhere", resume_from=root / "tune_checkpoint")
    steps = []
    while not resumed.done:
        steps.append(resumed.step()[0])
    assert [r[M.EVAL_DONE] for r in steps] == [2, 3], "it trained or re-ran finished units"
    final = reports[-1]
    for key in (M.CLEAN_ACC, M.ADV_ACC, M.adv_key("linf", "pgd", EPS), M.CHECKS_PASSED):
        assert steps[-1][key] == final[key]
    again = Trial(cfg, checkpoint_dir=root / "elsewhere")  # a rerun reports and does no work
    assert again.done and again.result.metrics[M.ADV_ACC] == final[M.ADV_ACC]


def test_stale_units_of_other_settings_are_not_reused(stepped, tmp_path):
    cfg, trial, _, _, _ = stepped
    E.Evaluator(cfg, trial.model, trial.data, state_dir=tmp_path).run_unit(0)
    assert E.Evaluator(cfg, trial.model, trial.data, state_dir=tmp_path).done_units() == [0]
    other = cfg.replace(**{"attack.eps": 0.2})
    assert E.Evaluator(other, trial.model, trial.data, state_dir=tmp_path).done_units() == []


def test_a_random_at_inference_model_is_evaluated_with_eot(tiny_trial_dict, tmp_path):
    random = {
        **tiny_trial_dict,
        "model.kind": "coarse_fixations",
        "model.eval_gazes": "random",
        "train.epochs": 1,
        "attack.eot_samples": 3,
        "attack.attacks": ["pgd", "square"],
    }
    with pytest.raises(ValueError, match="random at inference, so it is attacked with EOT"):
        TrialConfig.from_dict({**random, "attack.eot_samples": 1})
    cfg = TrialConfig.from_dict(random)
    trial = Trial(cfg, checkpoint_dir=tmp_path)
    trial.step()
    metrics = final_evaluation(cfg, trial.model, trial.data)
    assert metrics[M.EOT_SAMPLES] == 3 and metrics["check/randomness"] == "pass"
    assert metrics["check/randomness/logit_change"] > 0, "the model did not look random"
    assert metrics["check/randomness/eot"] == 1.0
    # Accuracies are means over 10 draws: multiples of 1/10 per example.
    tenths = metrics[M.CLEAN_ACC] * 32 * 10
    assert abs(tenths - round(tenths)) < 1e-3


def test_the_training_adversary_sees_the_draw_the_loss_trains_on():
    cfg = TrialConfig.from_dict(
        {
            "model.kind": "retinal",
            "model.backbone": "resnet20",
            "model.width": 8,
            "model.blocks": 1,
            "train.adversarial": True,
        }
    )
    model = models.build(cfg.model, (16, 16, 1), 10)
    adversary = T.TrainingAdversary(model, cfg)
    x = tf.random.uniform((4, 16, 16, 1))

    @tf.function
    def both(x):
        return adversary._logits(x), adversary._logits(x), model(x, training=True)["logits"]

    attacked, again, trained = both(x)
    np.testing.assert_allclose(attacked, trained, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(attacked, again, rtol=1e-5, atol=1e-5)
    inference = model(x, training=False)["logits"]
    assert np.abs(inference - trained).max() > 1e-3, "training mode should differ (random gaze)"


def test_a_stored_trial_is_a_transfer_surrogate_and_the_curve_falls(stepped):
    cfg, trial, _, _, root = stepped
    bigger = 4 * EPS
    settings = {
        "attack.transfer_from": str(root / "run"),
        "attack.attacks": ["pgd"],
        "attack.eps_curve": [bigger],
    }
    metrics = final_evaluation(cfg.replace(**settings), trial.model, trial.data)
    transfer = metrics[M.adv_key("linf", "transfer", EPS)]
    assert transfer <= metrics[M.adv_key("linf", "pgd", EPS)] and transfer == metrics[M.ADV_ACC]
    assert metrics["check/transfer_vs_white_box"] in ("pass", "fail")
    assert metrics[M.curve_key("linf", EPS)] == metrics[M.ADV_ACC]
    assert metrics[M.curve_key("linf", bigger)] <= metrics[M.adv_key("linf", "pgd", EPS)]
    with pytest.raises(ValueError, match="holds no trial checkpoint"):
        E.check_config(cfg.replace(**{"attack.transfer_from": str(root / "nowhere")}))

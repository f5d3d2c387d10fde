"""Metric names shared by trials, Tune, W&B, reports and tests (design.md, "Metric names")."""

from __future__ import annotations

CLEAN_ACC = "clean_acc"
ADV_ACC = "adv_acc"  # per-example worst case over the attack suite at the headline ε
ATTACK_BUDGET = "attack_budget"  # smoke | demo | standard
N_TEST = "n_test"  # test examples the final evaluation scored
CHECKS_PASSED = "checks_passed"  # 1 when every sanity check passed, else 0
EOT_SAMPLES = "eot_samples"  # draws per gradient (1: the model is deterministic)
VAL_CLEAN_ACC = "val/clean_acc"
VAL_ADV_ACC = "val/adv_acc"
TRAIN_LOSS = "train/loss"
EPOCH = "epoch"
STATUS = "status"  # completed | diverged
PHASE = "phase"  # "evaluation" on the final evaluation's steps (which carry no val/ metrics)
EVALUATION = "evaluation"
EVAL_DONE = "eval/done"  # evaluation units finished (the checks, then one per test batch) ...
EVAL_TOTAL = "eval/total"  # ... out of this many
ORIGINAL = "original_ensemble"


def adv_key(norm: str, attack: str, eps: float) -> str:
    """The per-attack key, e.g. adv_acc/linf/pgd/0.03137: robust accuracy once that attack (and
    the suite's attacks before it) have run."""
    return f"{ADV_ACC}/{norm}/{attack}/{eps:.4g}"


# Artifacts: PNG paths (strings) in a trial's folder; W&B shows them as images, never as numbers.
ARTIFACT_OVERLAY = "artifact/overlay"  # this epoch's overlays/epoch_XXXX.png
ARTIFACT_GAZE_METRICS = "artifact/gaze_metrics"  # gaze_metrics.png, the gaze metrics so far


def loss_key(term: str) -> str:
    """A named term of the training loss, e.g. train/loss/gaze_l2."""
    return f"{TRAIN_LOSS}/{term}"


def original_key(norm: str, eps: float) -> str:
    """The original protocol's figure (5-step BIM against the fixed 5-gaze ensemble), e.g.
    adv_acc/original_ensemble/linf/0.007843; never part of adv_acc."""
    return f"{ADV_ACC}/{ORIGINAL}/{norm}/{eps:.4g}"


def curve_key(norm: str, eps: float) -> str:
    """A point of the robust-accuracy-vs-ε curve, e.g. adv_curve/linf/0.01."""
    return f"adv_curve/{norm}/{eps:.4g}"


def check_key(name: str, number: str | None = None) -> str:
    """A sanity verdict (check/<name>: "pass" | "fail") or one of its numbers."""
    return f"check/{name}" if number is None else f"check/{name}/{number}"

"""Metric names shared by trials, Tune, W&B, reports and tests (design.md, "Metric names")."""

from __future__ import annotations

CLEAN_ACC = "clean_acc"
ADV_ACC = "adv_acc"
ATTACK_BUDGET = "attack_budget"
VAL_CLEAN_ACC = "val/clean_acc"
VAL_ADV_ACC = "val/adv_acc"
TRAIN_LOSS = "train/loss"
EPOCH = "epoch"
STATUS = "status"  # completed | diverged


def adv_key(norm: str, attack: str, eps: float) -> str:
    """The per-attack key, e.g. adv_acc/linf/pgd/0.03137."""
    return f"{ADV_ACC}/{norm}/{attack}/{eps:.4g}"


# Artifacts: PNG paths (strings) in a trial's folder; W&B shows them as images, never as numbers.
ARTIFACT_OVERLAY = "artifact/overlay"  # this epoch's overlays/epoch_XXXX.png
ARTIFACT_GAZE_METRICS = "artifact/gaze_metrics"  # gaze_metrics.png, the gaze metrics so far


def loss_key(term: str) -> str:
    """A named term of the training loss, e.g. train/loss/gaze_l2."""
    return f"{TRAIN_LOSS}/{term}"

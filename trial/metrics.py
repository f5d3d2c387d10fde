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

"""Adversarial attacks and the robustness evaluation protocol. Imports no ray, wandb or trial."""

from attacks.config import BUDGETS, AttackConfig, Budget
from attacks.evaluate import Evaluation, evaluate, predict
from attacks.pgd import LinfPGD, per_example_loss

__all__ = [
    "BUDGETS",
    "AttackConfig",
    "Budget",
    "Evaluation",
    "LinfPGD",
    "evaluate",
    "per_example_loss",
    "predict",
]

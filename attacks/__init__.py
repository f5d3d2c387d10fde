"""Adversarial attacks and the robustness evaluation protocol. Imports no ray, wandb or trial.

Every attack follows one protocol (`attacks.base.Attack`) and joins the registry with one line;
the import list below registers them.
"""

from attacks import apgd, pgd, square, transfer  # noqa: F401  (each import registers attacks)
from attacks.apgd import APGD
from attacks.base import Attack, build, names, register
from attacks.config import BUDGETS, AttackConfig, Budget
from attacks.evaluate import Evaluation, evaluate, predict
from attacks.losses import per_example_loss
from attacks.pgd import FGSM, PGD, LinfPGD
from attacks.target import Target
from attacks.threat import ThreatModel

__all__ = [
    "APGD",
    "BUDGETS",
    "FGSM",
    "PGD",
    "Attack",
    "AttackConfig",
    "Budget",
    "Evaluation",
    "LinfPGD",
    "Target",
    "ThreatModel",
    "build",
    "evaluate",
    "names",
    "per_example_loss",
    "predict",
    "register",
]

"""The attack section of a trial's config and the named attack budgets."""

from __future__ import annotations

import dataclasses

NORMS = ("linf",)


@dataclasses.dataclass(frozen=True)
class Budget:
    """How hard the final attack tries: PGD steps, restarts and how many test points it sees."""

    name: str
    steps: int
    restarts: int
    n_test: int  # 0 = the whole test subset the data config provides


BUDGETS = {
    "smoke": Budget("smoke", steps=10, restarts=1, n_test=128),
    "demo": Budget("demo", steps=20, restarts=2, n_test=500),
    "standard": Budget("standard", steps=100, restarts=5, n_test=0),
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class AttackConfig:
    """The study's threat model and attack budget."""

    norm: str = "linf"
    eps: float = 8 / 255  # headline budget in [0, 1] pixel units; study files may write 8/255
    budget: str = "demo"  # smoke | demo | standard (see BUDGETS)
    val_steps: int = 10  # per-epoch val/adv_acc uses PGD-val_steps ...
    val_examples: int = 256  # ... on this many fixed validation images
    batch_size: int = 256

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"attack.norm={self.norm!r} is not one of {', '.join(NORMS)}")
        if not 0.0 <= self.eps <= 1.0:
            raise ValueError(
                f"attack.eps={self.eps} must lie in [0, 1] pixel units; write 8/255, not 8"
            )
        if self.budget not in BUDGETS:
            raise ValueError(f"attack.budget={self.budget!r} is not one of {', '.join(BUDGETS)}")
        for field in ("val_steps", "val_examples", "batch_size"):
            if getattr(self, field) < 1:
                raise ValueError(f"attack.{field}={getattr(self, field)} must be >= 1")

    @property
    def plan(self) -> Budget:
        return BUDGETS[self.budget]

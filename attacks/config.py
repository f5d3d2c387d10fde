"""The attack section of a trial's config and the named attack budgets.

A budget names the suite (the attacks, in cascade order, with their effort), how many test
examples it sees, and how hard the sanity checks try:

- `smoke` (tests): PGD-5, APGD-CE-10, APGD-T-DLR (3 targets × 10), Square 100 queries; 128
  examples.
- `demo` (what `make sweep` can afford): PGD-10, APGD-CE-20, APGD-T-DLR (3 × 20), Square 300;
  500 examples.
- `standard` (AutoAttack strength): APGD-CE-100, APGD-T-DLR (9 × 100), Square 5,000 queries; the
  whole test subset.

A model that is random at inference gets AutoAttack's "rand" version of the suite: untargeted
APGD-DLR in place of APGD-T-DLR (targets picked from one draw's ranking mean little), every
gradient attack averaged over `eot_samples` draws.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from attacks import base
from attacks.threat import NORMS, check_eps


@dataclasses.dataclass(frozen=True)
class Budget:
    """How hard the final evaluation tries.

    Attributes:
        name: smoke | demo | standard.
        suite: (attack name, effort settings) in cascade order; each attack sees only the
            examples the earlier ones left robust.
        n_test: test examples attacked (0 = the whole test subset the data config provides).
        check_examples: examples the sanity checks run on.
        check_steps: PGD steps of the sanity checks (the convergence check also runs twice as
            many).
    """

    name: str
    suite: tuple[tuple[str, Mapping[str, Any]], ...]
    n_test: int
    check_examples: int
    check_steps: int

    def suite_for(self, random: bool) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        """The suite, or for a model random at inference its "rand" version (APGD-DLR, same
        steps, in place of APGD-T-DLR)."""
        if not random:
            return self.suite
        swap = {"apgd-t-dlr": "apgd-dlr"}
        return tuple(
            (swap[n], MappingProxyType({k: v for k, v in p.items() if k != "targets"}))
            if n in swap
            else (n, p)
            for n, p in self.suite
        )

    def settings(self, attack: str, random: bool = False) -> dict[str, Any]:
        """The effort settings of `attack` in this budget (empty if the suite lacks it)."""
        return dict(next((dict(p) for n, p in self.suite_for(random) if n == attack), {}))


def _suite(*entries: tuple[str, dict[str, Any]]) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    return tuple((name, MappingProxyType(params)) for name, params in entries)


BUDGETS = {
    "smoke": Budget(
        "smoke",
        _suite(
            ("pgd", {"steps": 5}),
            ("apgd-ce", {"steps": 10}),
            ("apgd-t-dlr", {"steps": 10, "targets": 3}),
            ("square", {"queries": 100}),
        ),
        n_test=128,
        check_examples=32,
        check_steps=5,
    ),
    "demo": Budget(
        "demo",
        _suite(
            ("pgd", {"steps": 10}),
            ("apgd-ce", {"steps": 20}),
            ("apgd-t-dlr", {"steps": 20, "targets": 3}),
            ("square", {"queries": 300}),
        ),
        n_test=500,
        check_examples=64,
        check_steps=10,
    ),
    "standard": Budget(
        "standard",
        _suite(
            ("apgd-ce", {"steps": 100}),
            ("apgd-t-dlr", {"steps": 100, "targets": 9}),
            ("square", {"queries": 5000}),
        ),
        n_test=0,
        check_examples=256,
        check_steps=50,
    ),
}
# Defaults for attacks a study adds with `attack.attacks` that its budget does not list.
EXTRA_SETTINGS = {
    "fgsm": {},
    "pgd": {"steps": 10},
    "pgd-margin": {"steps": 10},
    "apgd-dlr": {"steps": 20},
    "transfer": {"steps": 20},
}
NOT_IN_SUITE = ("original",)  # reported on its own, never part of adv_acc
LINF_ONLY = ("square",)  # left out of a budget's suite under attack.norm=l2


@dataclasses.dataclass(frozen=True, kw_only=True)
class AttackConfig:
    """The study's threat model, attack budget and evaluation settings."""

    norm: str = "linf"  # linf | l2
    eps: float = 8 / 255  # headline budget in [0, 1] pixel units; study files may write 8/255
    budget: str = "demo"  # smoke | demo | standard (see BUDGETS)
    attacks: tuple[str, ...] = ()  # the suite in cascade order; empty = the budget's
    steps: int = 0  # iterations of every PGD/APGD attack in the suite; 0 = the budget's
    eot_samples: int = 10  # draws per gradient for models random at inference (>= 2 for them)
    eps_curve: tuple[float, ...] = ()  # optional extra ε values: adv_curve/<norm>/<eps>
    transfer_from: str = ""  # a stored trial's folder: its model is the transfer surrogate
    val_steps: int = 10  # per-epoch val/adv_acc uses PGD-val_steps ...
    val_examples: int = 256  # ... on this many fixed validation images
    batch_size: int = 256

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"attack.norm={self.norm!r} is not one of {', '.join(NORMS)}")
        check_eps(self.eps, self.norm)
        for i, eps in enumerate(self.eps_curve):
            check_eps(eps, self.norm, f"attack.eps_curve[{i}]")
        if self.budget not in BUDGETS:
            raise ValueError(f"attack.budget={self.budget!r} is not one of {', '.join(BUDGETS)}")
        for field in ("val_steps", "val_examples", "batch_size", "eot_samples"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"attack.{field}={value!r} must be an integer >= 1")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise ValueError(
                f"attack.steps={self.steps!r} must be an integer >= 1 (or 0: the budget's own)"
            )
        for name in self.attacks:
            base.check_name(name, "attack.attacks entry")
            if name in NOT_IN_SUITE:
                raise ValueError(
                    f"attack.attacks entry {name!r} is reported on its own "
                    "(adv_acc/original_ensemble/...) and cannot join the suite"
                )
        if len(set(self.attacks)) != len(self.attacks):
            raise ValueError(f"attack.attacks={list(self.attacks)} names an attack twice")
        if "square" in self.attacks and self.norm != "linf":
            raise ValueError(
                "attack.attacks lists square, which is L-inf only here; with attack.norm=l2 "
                "leave it out (e.g. [pgd, apgd-ce, apgd-t-dlr])"
            )

    def check_model(self, random_at_inference: bool, kind: str = "the model") -> None:
        """Refuses settings that would evaluate a model random at inference without EOT."""
        if random_at_inference and self.eot_samples < 2:
            raise ValueError(
                f"{kind} is random at inference, so it is attacked with EOT; "
                f"attack.eot_samples={self.eot_samples} would take every gradient from a single "
                "draw. Use at least 2 (default 10)."
            )

    @property
    def plan(self) -> Budget:
        return BUDGETS[self.budget]

    def suite_names(self, random: bool = False) -> list[str]:
        """The attacks of the suite in cascade order (the budget's, or its "rand" version for a
        model random at inference, without the L∞-only ones under L2; unless `attacks` is set),
        plus `transfer` at the end when `transfer_from` is set."""
        names = list(self.attacks) or [
            n
            for n, _ in self.plan.suite_for(random)
            if (n in LINF_ONLY and self.norm == "linf") or n not in LINF_ONLY
        ]
        if self.transfer_from and "transfer" not in names:
            names.append("transfer")
        return names

    def settings(self, name: str, random: bool = False) -> dict[str, Any]:
        """Effort settings of one suite attack: the budget's, else defaults; `steps` overrides
        the iterations of the iterative gradient attacks."""
        settings = self.plan.settings(name, random) or dict(EXTRA_SETTINGS.get(name, {}))
        if self.steps and "steps" in settings:
            settings["steps"] = self.steps
        return settings


def curve_eps(cfg: AttackConfig) -> list[float]:
    """The ε values of the robust-accuracy curve (sorted, deduplicated, headline excluded)."""
    return sorted({e for e in cfg.eps_curve if not math.isclose(e, cfg.eps)})

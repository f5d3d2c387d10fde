"""Transfer and the original protocol: attacks whose gradients come from another model.

- `transfer`: PGD against a surrogate (e.g. a plain ResNet trained in another trial), whose
  adversarial images are then scored on the target. A white-box attack on the target that does
  worse than this means the target's own gradients are masked.
- `original`: the paper's protocol (Vuyyuru et al. 2020, `original_system.md` §4): foolbox's
  5-step basic iterative method at step ε/3, cross-entropy, no random start, against the fixed
  5-gaze ensemble with averaged logits (for families with fixations; otherwise the model itself).
  It runs against its own deterministic target and is reported as
  `adv_acc/original_ensemble/<norm>/<eps>` beside our figures, never as part of `adv_acc`.
"""

from __future__ import annotations

from attacks.base import as_batch, check_steps, register
from attacks.pgd import PGD
from attacks.target import Target
from attacks.threat import ThreatModel

ORIGINAL_STEPS = 5
ORIGINAL_STEP_FRACTION = 1 / 3  # foolbox 2.3 BIM: (ε / 0.3) * 0.1 = ε / 3 per iteration


class Transfer:
    """Adversarial images made on a surrogate model, handed to the target unchanged.

    Args:
        surrogate: the model whose gradients the attack follows.
        threat: norm and ε (the target's).
        steps: PGD steps on the surrogate.
        restarts: PGD restarts on the surrogate.
        seed: seeds the random starts.
    """

    white_box = False

    def __init__(
        self,
        surrogate: Target,
        threat: ThreatModel,
        *,
        steps: int,
        restarts: int = 1,
        seed: int = 0,
    ) -> None:
        check_steps(steps=steps, restarts=restarts)
        self.threat, self.name = threat, "transfer"
        self.budget = {"steps": int(steps), "restarts": int(restarts)}
        self._pgd = PGD(surrogate, threat, steps=steps, restarts=restarts, loss="margin", seed=seed)

    def __call__(self, images, labels):
        return self._pgd(*as_batch(images, labels))


@register("transfer")
def build_transfer(
    target: Target,
    threat: ThreatModel,
    *,
    seed: int = 0,
    surrogate: Target | None = None,
    steps: int = 20,
    restarts: int = 1,
) -> Transfer:
    """`target` is unused: the attack never sees it. `surrogate` is required."""
    del target
    if surrogate is None:
        raise ValueError(
            "the transfer attack needs a surrogate model: set attack.transfer_from to a stored "
            "trial's folder (or leave `transfer` out of attack.attacks)"
        )
    return Transfer(surrogate, threat, steps=steps, restarts=restarts, seed=seed)


@register("original")
def build_original(target: Target, threat: ThreatModel, *, seed: int = 0) -> PGD:
    """The original protocol's BIM-5 against `target` (build it on the fixed 5-gaze ensemble)."""
    return PGD(
        target,
        threat,
        steps=ORIGINAL_STEPS,
        step_size=threat.eps * ORIGINAL_STEP_FRACTION,
        random_start=False,
        loss="ce",
        seed=seed,
        name="original",
    )

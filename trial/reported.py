"""Which metrics a trial reports, by name: per epoch and once at the end, for its config and model.

What a trial reports depends on its family (gaze metrics only where gazes are learned, STN metrics
only where there are θ and boxes, a loss term per named loss), its dataset (object distances only
where object centres are known) and its attack suite (one `adv_acc/<norm>/<attack>/<eps>` per
attack of the suite, the curve only with `attack.eps_curve`, one black-box check per score-based
or transfer attack after a gradient one). The sweeper refuses to rank by, or schedule on, a name
that a study's trials would never report (`sweeper.metric_names`); `tests/trial/test_run.py`
holds these lists to what a trial really reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from trial import metrics as M

# Suite attacks that use no gradient of the model (score-based, transfer): their check compares
# them with the gradient attacks before them (attacks.checks.black_box_checks).
BLACK_BOX_ATTACKS = ("square", "transfer")


@dataclasses.dataclass(frozen=True)
class Reported:
    """The numeric metric names a trial reports: after every epoch, and at the end, where each
    sanity check of `checks` also reports its numbers, check/<check>/<number>."""

    per_epoch: frozenset[str]
    final: frozenset[str]
    checks: frozenset[str]

    def has(self, name: str, *, per_epoch: bool = False) -> bool:
        """Whether the trial reports the number `name` (with `per_epoch`: after every epoch)."""
        if name in self.per_epoch:
            return True
        if per_epoch:
            return False
        parts = name.split("/")
        is_check_number = len(parts) == 3 and parts[0] == "check" and all(parts)
        return name in self.final or (is_check_number and parts[1] in self.checks)


def model_parts(model) -> tuple[frozenset[str], frozenset[str]]:
    """A built model's named outputs and the named terms its training loss reports."""
    from trial.train import loss_layers

    outputs = frozenset(model.output) if isinstance(model.output, dict) else frozenset({"logits"})
    terms = {"ce", *(layer.loss_name for layer in loss_layers(model))}
    if "aux_logits" in outputs:
        terms.add("aux")
    return outputs, frozenset(terms)


def reported(cfg, outputs: Collection[str], loss_terms: Collection[str]) -> Reported:
    """The metrics a trial with config `cfg` reports, for a model with these named outputs
    and loss terms (see `model_parts`)."""
    import models
    from attacks.config import curve_eps
    from trial.data import get as dataset

    epoch = {M.TRAIN_LOSS, M.VAL_CLEAN_ACC, M.VAL_ADV_ACC, M.TIME_EPOCH, M.DATA_SKIPPED}
    epoch |= {M.loss_key(term) for term in loss_terms}
    if models.get(cfg.model.kind).learned_gazes:
        if "gazes" in outputs:
            epoch |= set(M.GAZE_METRICS)
            if dataset(cfg.data.name).centres_known:
                epoch |= set(M.OBJECT_METRICS)
        if {"theta", "boxes"} <= set(outputs):
            epoch |= set(M.STN_METRICS)

    attack = cfg.attack
    suite = attack.suite_names(models.is_random_at_inference(cfg.model))
    final = {M.CLEAN_ACC, M.ADV_ACC, M.N_TEST, M.EOT_SAMPLES, M.CHECKS_PASSED}
    final |= {M.adv_key(attack.norm, name, attack.eps) for name in suite}
    final.add(M.original_key(attack.norm, attack.eps))
    if attack.eps_curve:
        final |= {M.curve_key(attack.norm, e) for e in (attack.eps, *curve_eps(attack))}
    checks = set(M.CHECKS)
    for i, name in enumerate(suite):
        earlier_gradient = any(n not in BLACK_BOX_ATTACKS for n in suite[:i])
        if name in BLACK_BOX_ATTACKS and earlier_gradient:
            checks.add(M.black_box_check(name))
    return Reported(frozenset(epoch), frozenset(final), frozenset(checks))

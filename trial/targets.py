"""The models a trial's attacks run against: the trained model (with EOT when it is random at
inference), the original protocol's fixed 5-gaze ensemble, and a stored trial's model as the
transfer surrogate; plus the checks that refuse evaluation settings before anything trains.
"""

from __future__ import annotations

import dataclasses
import json
import weakref
from pathlib import Path

import keras

import models
from attacks.pgd import PGD
from attacks.target import DEFAULT_DRAWS, Target
from attacks.threat import ThreatModel
from trial import checkpoint as C
from trial.config import TrialConfig
from trial.train import logits_fn


def check_config(cfg: TrialConfig, num_classes: int | None = None) -> None:
    """Fails fast (before training) on evaluation settings that cannot work for this data or
    surrogate (the config itself already refuses a random-at-inference model without EOT)."""
    names = cfg.attack.suite_names(models.is_random_at_inference(cfg.model))
    if num_classes is not None:
        needs = 4 if "apgd-t-dlr" in names else 3 if "apgd-dlr" in names else 2
        if num_classes < needs:
            raise ValueError(
                f"the attack suite {names} needs at least {needs} classes (DLR losses); the "
                f"data has {num_classes}: set attack.attacks to e.g. [pgd, apgd-ce, square]"
            )
    if cfg.attack.transfer_from:
        surrogate_checkpoint(Path(cfg.attack.transfer_from))


def surrogate_checkpoint(path: Path) -> Path:
    """The newest checkpoint (a folder with state.json) at or under a stored trial's folder."""
    if (path / "state.json").exists():
        return path
    found = sorted(path.glob("**/state.json"), key=lambda p: (p.stat().st_mtime, str(p)))
    if not found:
        raise ValueError(
            f"attack.transfer_from={str(path)!r} holds no trial checkpoint (no state.json at or "
            "under it); give the folder of a finished trial, e.g. runs/demo/trial_<id>"
        )
    return found[-1].parent


def load_surrogate(path: Path, input_shape, num_classes: int):
    """The model of a stored trial (for the transfer attack)."""
    ckpt = surrogate_checkpoint(path)
    saved = json.loads((ckpt / "state.json").read_text())["config"]
    cfg = TrialConfig.from_dict(saved)
    model = models.build(cfg.model, input_shape, num_classes)
    try:
        C.restore(ckpt, C.named_variables(model), prefixes=("model/",))
    except Exception as err:  # shapes of another dataset, a damaged file, ...
        raise ValueError(
            f"attack.transfer_from: cannot load {ckpt} as a {cfg.model.kind} for inputs "
            f"{tuple(input_shape)} with {num_classes} classes ({err})"
        ) from err
    return model, cfg


def original_target(cfg: TrialConfig, model, input_shape, num_classes: int) -> Target:
    """The original protocol's model: the fixed 5-gaze ensemble (same weights, logits averaged)
    for families with fixations, else the model itself."""
    if hasattr(cfg.model, "eval_gazes"):
        ensemble_cfg = dataclasses.replace(cfg.model, eval_gazes="ensemble5")
        ensemble = models.build(ensemble_cfg, input_shape, num_classes)
        ensemble.set_weights(model.get_weights())
        return Target(logits_fn(ensemble), name="5-gaze ensemble", loss_scale=fp16_loss_scale())
    return make_target(cfg, model)


_TARGETS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def make_target(cfg: TrialConfig, model) -> Target:
    """The model under attack, with EOT when the registry marks it random at inference.

    One `Target` per model and EOT setting, so the per-epoch validation attack, the checks
    and the suite share its compiled attack graphs (each graph is traced once per trial).
    """
    random = models.is_random_at_inference(cfg.model)
    key = (random, cfg.attack.eot_samples)
    targets = _TARGETS.setdefault(model, {})
    if key not in targets:
        targets[key] = Target(
            logits_fn(model),
            random=random,
            eot_samples=cfg.attack.eot_samples,
            draws=DEFAULT_DRAWS,
            name=f"model.kind={cfg.model.kind}",
            loss_scale=fp16_loss_scale(),
        )
    return targets[key]


def fp16_loss_scale() -> float:
    """2**12 under mixed float16 (input gradients would underflow), else 1."""
    return 2.0**12 if keras.mixed_precision.global_policy().name == "mixed_float16" else 1.0


def validation_attack(cfg: TrialConfig, model) -> PGD:
    """The per-epoch `val/adv_acc` attack: PGD-val_steps at the study's ε (with EOT, and scored
    over draws, when the model is random at inference)."""
    threat = ThreatModel(cfg.attack.norm, cfg.attack.eps)
    return PGD(make_target(cfg, model), threat, steps=cfg.attack.val_steps, seed=cfg.seed)

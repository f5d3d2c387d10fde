"""The typed, frozen `TrialConfig` and its one strict dict boundary.

A trial's config has four sections (`model`, `data`, `train`, `attack`) and a `seed`. The model
section is a tagged union: `model.kind` picks a registered family, whose own config class then
accepts only its own fields. `from_dict` takes nested dicts or flat dotted keys (`model.kind`),
coerces strings such as `8/255`, and rejects unknown keys with a message that names the key and
the allowed ones. `to_dict` is the flat, JSON-safe view logged to Tune and W&B.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any

import models
from attacks.config import AttackConfig
from trial.data import get as get_dataset
from trial.data import names as dataset_names
from trial.data.config import DataConfig

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")
# Keys a resumed trial may change: they shape neither training nor the per-epoch figures, only
# the final evaluation or where the data is read from. Every other difference is refused.
RESUME_MAY_CHANGE = ("attack.budget", "attack.batch_size", "data.data_dir", "data.test_size")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How a trial trains."""

    epochs: int = 8
    batch_size: int = 128
    optimizer: str = "adam"  # adam | sgd (momentum 0.9)
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"  # constant | cosine (decay to 0 over all epochs)
    weight_decay: float = 0.0  # decoupled (AdamW-style) weight decay
    augment: bool = False  # random shifts of up to 1/16 of the side (+ flips, natural images)
    adversarial: bool = False  # PGD adversarial training at attack.eps (Madry et al.)
    adv_steps: int = 5  # PGD steps per training batch when adversarial
    mixed_precision: str = "auto"  # auto (on with a GPU) | on | off; losses stay float32
    # Learning-rate multiplier of the localiser and its gaze/θ head (learned-attention families;
    # 0 freezes them). Scales the gradient step only; weight decay is unchanged.
    localiser_lr_mult: float = 1.0
    deterministic: bool = False  # TF op determinism: bitwise-reproducible runs, slower

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"train.epochs={self.epochs} must be >= 1")
        if self.batch_size < 1:
            raise ValueError(f"train.batch_size={self.batch_size} must be >= 1")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"train.optimizer={self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}"
            )
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(
                f"train.lr_schedule={self.lr_schedule!r} is not one of {', '.join(SCHEDULES)}"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"train.learning_rate={self.learning_rate} must be > 0")
        if self.weight_decay < 0:
            raise ValueError(f"train.weight_decay={self.weight_decay} must be >= 0")
        if self.adv_steps < 1:
            raise ValueError(f"train.adv_steps={self.adv_steps} must be >= 1")
        if not (math.isfinite(self.localiser_lr_mult) and self.localiser_lr_mult >= 0):
            raise ValueError(
                f"train.localiser_lr_mult={self.localiser_lr_mult} must be a finite number >= 0 "
                "(1 = the base learning rate, 0 freezes the localiser)"
            )
        if self.mixed_precision not in ("auto", "on", "off"):
            raise ValueError(
                f"train.mixed_precision={self.mixed_precision!r} is not one of auto, on, off"
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrialConfig:
    """Everything one trial needs; equal configs give the same trial."""

    model: Any = dataclasses.field(default_factory=lambda: models.get("resnet").config_cls())
    data: DataConfig = dataclasses.field(
        default_factory=lambda: get_dataset("cluttered_digits").config_cls()
    )
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    attack: AttackConfig = dataclasses.field(default_factory=AttackConfig)
    seed: int = 0

    def __post_init__(self) -> None:  # a random-at-inference model is never attacked without EOT
        gazes = getattr(self.model, "eval_gazes", "")
        kind = f"model.kind={self.model.kind}" + (f" with eval_gazes={gazes}" if gazes else "")
        self.attack.check_model(models.is_random_at_inference(self.model), kind)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialConfig:
        """Builds a config from nested dicts and/or dotted keys; unknown keys are errors."""
        tree = nest(data)
        unknown = sorted(set(tree) - {"model", "data", "train", "attack", "seed"})
        if unknown:
            raise ValueError(
                f"unknown config key(s) {unknown}; top-level keys are model, data, train, "
                "attack, seed"
            )
        model = dict(tree.get("model", {}))
        family = models.get(model.pop("kind", "resnet"))
        data = dict(tree.get("data", {}))
        dataset = get_dataset(data.pop("name", "cluttered_digits"))
        return cls(
            model=_build(family.config_cls, model, "model", fixed={"kind": family.name}),
            data=_build(dataset.config_cls, data, "data", fixed={"name": dataset.name}),
            train=_build(TrainConfig, tree.get("train", {}), "train"),
            attack=_build(AttackConfig, tree.get("attack", {}), "attack"),
            seed=_coerce(tree.get("seed", 0), int, "seed"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The flat dotted view, e.g. {"model.kind": "resnet", ..., "seed": 0}."""
        flat: dict[str, Any] = {}
        for section in ("model", "data", "train", "attack"):
            for key, value in _flatten(dataclasses.asdict(getattr(self, section))).items():
                flat[f"{section}.{key}"] = list(value) if isinstance(value, tuple) else value
        flat["seed"] = self.seed
        return flat

    def replace(self, **dotted: Any) -> TrialConfig:
        """A copy with dotted keys overridden, validated like `from_dict`."""
        return TrialConfig.from_dict({**self.to_dict(), **dotted})


def nest(data: dict[str, Any]) -> dict[str, Any]:
    """Turns dotted keys into nested dicts ({"a.b": 1} -> {"a": {"b": 1}})."""
    tree: dict[str, Any] = {}
    for key, value in data.items():
        head, _, rest = str(key).partition(".")
        if rest:
            branch = tree.setdefault(head, {})
            if not isinstance(branch, dict):
                raise ValueError(f"config key {key!r} conflicts with a value for {head!r}")
            _merge(branch, nest({rest: value}))
        elif isinstance(value, dict):
            _merge(tree.setdefault(head, {}), nest(value))
        else:
            tree[head] = value
    return tree


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    """Deep update, so `data.imagenet.root` and `data.imagenet.train_images` both survive."""
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _flatten(tree: dict[str, Any]) -> dict[str, Any]:
    """{"imagenet": {"root": x}} -> {"imagenet.root": x} (nested config groups)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in _flatten(value).items()})
        else:
            flat[key] = value
    return flat


def _build(config_cls: type, values: dict[str, Any], section: str, fixed: dict | None = None):
    if not isinstance(values, dict):
        raise ValueError(f"config section {section!r} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(config_cls)
    names = [f.name for f in dataclasses.fields(config_cls) if f.name not in (fixed or {})]
    unknown = sorted(set(values) - set(names))
    if unknown:
        where = section + "".join(f" ({k} {v!r})" for k, v in (fixed or {}).items())
        advice = "".join(_unknown_key_hint(section, k, names) for k in unknown)
        raise ValueError(
            f"unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)} for {where}"
            f"{advice}; allowed: {', '.join(f'{section}.{n}' for n in sorted(names))}"
        )
    for name in names:  # a field no coercion checks would take any value silently
        _check_hint(hints[name], f"{section}.{name}", config_cls.__name__)
    kwargs = {k: _coerce(v, hints[k], f"{section}.{k}") for k, v in values.items()}
    return config_cls(**kwargs, **(fixed or {}))


_SCALARS = (bool, int, float, str)


def _optional(hint: Any) -> Any:
    """The inner type of `X | None` (or Optional[X]), else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1 and len(typing.get_args(hint)) == 2:
            return inner[0]
    return None


def _check_hint(hint: Any, key: str, owner: str) -> None:
    """Raises TypeError for a field type `_coerce` cannot check (a config class bug, found the
    first time the class meets `from_dict`, whatever the field's value)."""
    inner = _optional(hint)
    if inner is not None:
        return _check_hint(inner, key, owner)
    origin = typing.get_origin(hint)
    if hint in _SCALARS or origin is typing.Literal or dataclasses.is_dataclass(hint):
        return None
    if origin is tuple:
        args = [a for a in typing.get_args(hint) if a is not Ellipsis] or [str]
        for arg in args:
            _check_hint(arg, key, owner)
        return None
    raise TypeError(
        f"config field {key} of {owner} has type {hint!r}, which TrialConfig.from_dict "
        "cannot check (so any value would pass); use bool, int, float, str, a Literal, a "
        "tuple of those, `X | None` or a nested config dataclass, or teach "
        "trial.config._coerce the type"
    )


def _unknown_key_hint(section: str, key: str, names: list[str]) -> str:
    """'; did you mean ...?' over this section's keys and, for model and data keys, those of
    every family or dataset, saying which kinds or datasets have the key (so a key of another
    family reads as such)."""
    owners: dict[str, list[str]] = {}
    registry = {
        "model": ("kind", models.names, lambda n: models.get(n).config_cls),
        "data": ("name", dataset_names, lambda n: get_dataset(n).config_cls),
    }
    selector = None
    if section in registry:
        selector, all_names, config_of = registry[section]
        for name in all_names():
            for field in dataclasses.fields(config_of(name)):
                if field.name != selector:
                    owners.setdefault(field.name, []).append(name)

    def owned_by(key: str) -> str:
        return f"{section}.{selector} {', '.join(owners[key])}"

    if key in owners:
        return f"; {section}.{key} is a key of {owned_by(key)}"
    close = difflib.get_close_matches(key, [*names, *owners], n=1, cutoff=0.7)
    if not close:
        return ""
    hint = f"; did you mean {section}.{close[0]}"
    if close[0] not in names:
        hint += f" (a key of {owned_by(close[0])})"
    return hint + "?"


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Converts a YAML/CLI/Tune value to the field's type, or raises naming the key."""
    inner = _optional(hint)
    if inner is not None:
        return None if value is None else _coerce(value, inner, key)
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):  # a nested group such as data.imagenet
        return _build(hint, value, key)
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ValueError(f"{key}={value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{key}={value!r} must be a list")
        (inner, *_) = typing.get_args(hint) or (Any,)
        return tuple(_coerce(v, inner, key) for v in value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if value in (0, 1, "0", "1", "true", "false", "True", "False"):
            return str(value).lower() in ("1", "true")
        raise ValueError(f"{key}={value!r} must be a boolean (true/false or 1/0)")
    if hint is int:
        if isinstance(value, bool) or not _is_integral(value):
            raise ValueError(f"{key}={value!r} must be an integer")
        return int(float(value))
    if hint is float:
        return parse_float(value, key)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{key}={value!r} must be a string")
        return value
    _check_hint(hint, key, "its config class")  # unreachable once _build checked: raises
    return value


def _is_integral(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number == int(number)


def parse_float(value: Any, key: str) -> float:
    """A number, or a fraction written as a string such as "8/255"; raises naming `key`."""
    if isinstance(value, str) and "/" in value:
        num, _, den = value.partition("/")
        try:
            return float(num) / float(den)
        except (ValueError, ZeroDivisionError):
            pass
    elif not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise ValueError(f"{key}={value!r} must be a number (a fraction like 8/255 is fine)")


def drop_inapplicable(flat: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Splits flat dotted keys into those the chosen `model.kind` and `data.name` have and those
    they lack.

    A study may vary `model.num_transformers` across kinds that include `resnet`, which has no
    such field (or set `data.imagenet.root` for a study that also runs `cifar10`); the sweeper
    drops such keys (and logs them) instead of failing the trial.
    """
    family = models.get(flat.get("model.kind", "resnet"))
    fields = {f.name for f in dataclasses.fields(family.config_cls)}
    dataset = get_dataset(flat.get("data.name", "cluttered_digits"))
    data_fields = {f.name for f in dataclasses.fields(dataset.config_cls)}
    kept, dropped = {}, []
    for key, value in flat.items():
        section, _, name = key.partition(".")
        if (section == "model" and name not in fields) or (
            section == "data" and name.partition(".")[0] not in data_fields
        ):
            dropped.append(key)
        else:
            kept[key] = value
    return kept, sorted(dropped)


def training_changes(saved: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The flat keys in which `wanted` would train differently from the `saved` config.

    Keys in RESUME_MAY_CHANGE are ignored; a key that only one side has (a config written by
    another version of the code) counts as its current default.
    """
    kind = wanted.get("model.kind", "resnet")
    defaults = TrialConfig.from_dict({"model.kind": kind}).to_dict()
    missing = object()

    def value(config: dict[str, Any], key: str) -> Any:
        return config.get(key, defaults.get(key, missing))

    return sorted(
        key
        for key in set(saved) | set(wanted)
        if key not in RESUME_MAY_CHANGE and value(saved, key) != value(wanted, key)
    )


def is_evaluation_key(key: str) -> bool:
    """Whether `python -m trial --evaluate` may override `key`: every attack setting, and which
    test examples are attacked or where the data lives (the trained model stays as it is)."""
    return key.startswith("attack.") or key in ("data.test_size", "data.data_dir")

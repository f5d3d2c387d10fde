"""The original trainer.py's flags, mapped onto dotted TrialConfig keys.

The handover's command lines (`--model=multi_gaze --dataset=imagenet10 --sampling=0 ...`) run
as written, with two differences a user is told about instead of silently served: a dataset must
be one the data registry knows (`--dataset=cluttered_digits` for the embedded data), and a flag
set to 1 that the chosen model does not have is an error naming the models that have it. A flag
at 0 is the original's "off" for every model, so it is accepted and changes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses

LEGACY_MODELS = ("resnet", "resnet_cifar", "ecnn", "parallel_transformers", "multi_gaze")
BOOL_FLAGS = (
    "sampling",
    "coarse_fixations",
    "augment",
    "auxiliary",
    "restricted_attention",
    "shared",
)
MODEL_FLAGS = ("auxiliary", "restricted_attention", "shared")  # flag -> model.<same name>


# The original's name for ImageNet10 trained on box crops, which is our imagenet10's default.
DATASET_ALIASES = {"bbox_imagenet10": "imagenet10"}


def dataset_names() -> list[str]:
    """Every dataset the data registry knows, plus the original's aliases."""
    from trial.data import names

    return sorted([*names(), *DATASET_ALIASES])


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Adds the original trainer.py flags as an argument group."""
    legacy = parser.add_argument_group(
        "original trainer.py flags (mapped onto the config; --set wins)"
    )
    legacy.add_argument("--model", help=f"one of {', '.join(LEGACY_MODELS)}")
    legacy.add_argument(
        "--dataset", help="data.name: any dataset the data registry knows (a wrong name lists them)"
    )
    for name in BOOL_FLAGS:
        legacy.add_argument(f"--{name}", metavar="0|1")
    legacy.add_argument("--epochs", type=int, help="train.epochs")
    legacy.add_argument("--num_transformers", type=int, help="model.num_transformers")


def _flag_bool(name: str, value: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError(f"--{name}={value!r}: the original trainer.py flags take 0 or 1")
    return value == "1"


def _kinds_with(field: str) -> list[str]:
    import models

    return [
        kind
        for kind in models.names()
        if field in {f.name for f in dataclasses.fields(models.get(kind).config_cls)}
    ]


def overrides(args: argparse.Namespace, kind: str | None = None) -> dict[str, object]:
    """Maps the original trainer.py flags in `args` onto dotted TrialConfig keys.

    Args:
        args: parsed arguments holding the legacy flags (None where not given).
        kind: the model kind when `--set model.kind=...` chose it (wins over `--model`).

    Raises:
        ValueError: a flag value that is not allowed, with the fix.
    """
    out: dict[str, object] = {}
    flags = {n: _flag_bool(n, getattr(args, n)) for n in BOOL_FLAGS if getattr(args, n) is not None}
    if args.model is not None:
        if args.model not in LEGACY_MODELS:
            raise ValueError(
                f"--model={args.model!r} is not an original model; choose one of "
                f"{', '.join(LEGACY_MODELS)} (or use --set model.kind=...)"
            )
        mapped = {"resnet_cifar": "resnet", "ecnn": "cortical"}.get(args.model, args.model)
        if mapped == "resnet" and flags.get("sampling") and flags.get("coarse_fixations"):
            raise ValueError("--sampling=1 and --coarse_fixations=1 are mutually exclusive")
        if mapped == "resnet" and flags.get("sampling"):
            mapped = "retinal"
        elif mapped == "resnet" and flags.get("coarse_fixations"):
            mapped = "coarse_fixations"
        out["model.kind"] = mapped
        if args.model == "resnet_cifar":
            out["model.backbone"] = "resnet20"
    kind = kind or str(out.get("model.kind", "resnet"))
    for name in ("sampling", "coarse_fixations"):
        if flags.get(name) and args.model not in ("resnet", "resnet_cifar"):
            raise ValueError(
                f"--{name}=1 selects a front-end of --model=resnet / resnet_cifar; model.kind="
                f"{kind} has none (for a fixation model use --model=resnet --{name}=1)"
            )
    if args.dataset is not None:
        known = dataset_names()
        if args.dataset not in known:
            raise ValueError(
                f"--dataset={args.dataset!r} has no loader here; available: {', '.join(known)} "
                "(the embedded data: --dataset=cluttered_digits)"
            )
        out["data.name"] = DATASET_ALIASES.get(args.dataset, args.dataset)
    for name in MODEL_FLAGS:
        if name not in flags:
            continue
        owners = _kinds_with(name)
        if kind in owners:
            out[f"model.{name}"] = flags[name]
        elif flags[name]:
            raise ValueError(
                f"--{name}=1: model.kind={kind} has no model.{name}; it is a key of model.kind "
                f"{', '.join(owners)}"
            )
    if "augment" in flags:
        out["train.augment"] = flags["augment"]
    if args.epochs is not None:
        out["train.epochs"] = args.epochs
    if args.num_transformers is not None:
        owners = _kinds_with("num_transformers")
        if kind not in owners:
            raise ValueError(
                f"--num_transformers={args.num_transformers}: model.kind={kind} has no branches; "
                f"it is a key of model.kind {', '.join(owners)}"
            )
        out["model.num_transformers"] = args.num_transformers
    return out


def given(args: argparse.Namespace) -> list[str]:
    """The legacy flags present in `args`."""
    names = ("model", "dataset", *BOOL_FLAGS, "epochs", "num_transformers")
    return [f"--{n}" for n in names if getattr(args, n, None) is not None]

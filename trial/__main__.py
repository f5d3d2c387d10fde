"""Run one trial from the command line; the result is one JSON object on the last line.

    python -m trial --set model.kind=resnet --set train.epochs=2
    python -m trial --model=resnet --dataset=cifar10 --sampling=1 --epochs=10   # legacy flags

Every flag of the original trainer.py is accepted and mapped onto the same TrialConfig; `--set`
overrides win over legacy flags. Keys the chosen model kind does not have are dropped with a note.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import yaml

LEGACY_MODELS = {"resnet", "resnet_cifar", "ecnn", "parallel_transformers", "multi_gaze"}
LEGACY_DATASETS = {
    **{d: d for d in ("cifar10", "imagenette", "imagenet10", "imagenet100", "cluttered_mnist")},
    "bbox_imagenet10": "imagenet10",  # imagenet10 trains on box crops by default, as the paper
}
LEGACY_BOOL_FLAGS = (
    "sampling",
    "coarse_fixations",
    "augment",
    "auxiliary",
    "restricted_attention",
    "shared",
)


def _flag_bool(name: str, value: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError(f"--{name}={value!r}: the original trainer.py flags take 0 or 1")
    return value == "1"


def legacy_overrides(args: argparse.Namespace) -> dict[str, object]:
    """Maps original trainer.py flags onto dotted TrialConfig keys."""
    out: dict[str, object] = {}
    flags = {
        n: _flag_bool(n, getattr(args, n))
        for n in LEGACY_BOOL_FLAGS
        if getattr(args, n) is not None
    }
    if args.model is not None:
        if args.model not in LEGACY_MODELS:
            raise ValueError(
                f"--model={args.model!r} is not an original model; choose one of "
                f"{', '.join(sorted(LEGACY_MODELS))} (or use --set model.kind=...)"
            )
        kind = {"resnet_cifar": "resnet", "ecnn": "cortical"}.get(args.model, args.model)
        if kind == "resnet" and flags.get("sampling") and flags.get("coarse_fixations"):
            raise ValueError("--sampling=1 and --coarse_fixations=1 are mutually exclusive")
        if kind == "resnet" and flags.get("sampling"):
            kind = "retinal"
        elif kind == "resnet" and flags.get("coarse_fixations"):
            kind = "coarse_fixations"
        out["model.kind"] = kind
        if args.model == "resnet_cifar":
            out["model.backbone"] = "resnet20"
    if args.dataset is not None:
        if args.dataset not in LEGACY_DATASETS:
            raise ValueError(
                f"--dataset={args.dataset!r} has no loader here; available: "
                f"{', '.join(LEGACY_DATASETS)} (or --set data.name=cluttered_digits)"
            )
        out["data.name"] = LEGACY_DATASETS[args.dataset]
    for name in ("auxiliary", "restricted_attention", "shared"):
        if name in flags:
            out[f"model.{name}"] = flags[name]
    if "augment" in flags:
        out["train.augment"] = flags["augment"]
    if args.epochs is not None:
        out["train.epochs"] = args.epochs
    if args.num_transformers is not None:
        out["model.num_transformers"] = args.num_transformers
    return out


def parse_sets(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected dotted.key=value, e.g. train.epochs=2")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trial",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a dotted TrialConfig key (repeatable)",
    )
    parser.add_argument(
        "--workdir",
        default="runs/single",
        help="checkpoint directory; a rerun resumes from it (a finished trial reports again)",
    )
    parser.add_argument("--fresh", action="store_true", help="ignore existing checkpoints")
    legacy = parser.add_argument_group("original trainer.py flags")
    legacy.add_argument("--model", help=f"one of {', '.join(sorted(LEGACY_MODELS))}")
    legacy.add_argument("--dataset", help=f"one of {', '.join(LEGACY_DATASETS)}")
    for name in LEGACY_BOOL_FLAGS:
        legacy.add_argument(f"--{name}", metavar="0|1")
    legacy.add_argument("--epochs", type=int, help="train.epochs")
    legacy.add_argument("--num_transformers", type=int, help="model.num_transformers")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    from trial.config import TrialConfig, drop_inapplicable
    from trial.run import ListReporter, run_trial

    try:
        flat = {**legacy_overrides(args), **parse_sets(args.set)}
        kept, dropped = drop_inapplicable(flat)
        cfg = TrialConfig.from_dict(kept)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if dropped:
        logging.info("ignored (model.kind=%s has no such field): %s", cfg.model.kind, dropped)
    workdir = Path(args.workdir)
    if args.fresh and workdir.exists():
        import shutil

        shutil.rmtree(workdir)
    try:
        result = run_trial(cfg, ListReporter(), checkpoint_dir=workdir / "checkpoints")
    except ValueError as err:  # bad data/config combinations found while setting up
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"config": cfg.to_dict(), **result.to_dict()}))
    return 0 if result.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())

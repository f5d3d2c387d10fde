"""`python -m trial.data`: list the datasets, their fields, where each looks and what it finds.

    python -m trial.data                                    # every dataset, defaults
    python -m trial.data --set data.imagenet.root=/data/imagenet --set data.data_dir=/data/tfds
    python -m trial.data make-tree /tmp/fake_imagenet      # a generated ImageNet10-layout tree

`--set` values apply to every dataset that has the field (the others ignore it), so one command
shows where all of them look with your folders. The presence check is the one trials and
studies run before any work: it reads folder listings, never images.
"""

from __future__ import annotations

import argparse
import sys


def _list(args: argparse.Namespace) -> int:
    from trial.config import TrialConfig, drop_inapplicable
    from trial.data import check, get, names

    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("data."):
            print(f"error: --set {item!r} must look like data.<field>=<value>", file=sys.stderr)
            return 2
        overrides[key] = value
    wanted = args.name or names()
    unknown = sorted(set(wanted) - set(names()))
    if unknown:
        print(f"error: unknown dataset(s) {unknown}; known: {', '.join(names())}", file=sys.stderr)
        return 2
    for name in wanted:
        dataset = get(name)
        kept, _ = drop_inapplicable({"data.name": name, **overrides})
        try:
            cfg = TrialConfig.from_dict(kept).data
        except ValueError as err:
            print(f"{name}: invalid --set: {err}\n")
            continue
        traits = [f"{dataset.num_classes} classes", f"{dataset.channels} channel(s)"]
        traits.append("object centres known" if dataset.centres_known else "no object centres")
        traits.append("augmentation flips" if dataset.flips else "never flipped")
        print(f"{name}: {dataset.summary}")
        print(f"  {', '.join(traits)}; {cfg.image_size}x{cfg.image_size} px")
        print(f"  splits: {dataset.splits}")
        for key, default in dataset.config_fields().items():
            value = _value(cfg, key)
            note = "" if value == default else f"  (default {default!r})"
            print(f"  data.{key} = {value!r}{note}")
        for what, where in dataset.where(cfg):
            print(f"  reads {what}: {where}")
        try:
            check(cfg)
            print("  status: found\n")
        except ValueError as err:
            print(f"  status: MISSING: {err}\n")
    return 0


def _value(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _make_tree(args: argparse.Namespace) -> int:
    from trial.data import imagenet10, imagenet100
    from trial.data.testing import make_imagenet_tree

    synsets = {"imagenet10": imagenet10.SYNSETS, "imagenet100": imagenet100.SYNSETS}[args.classes]
    root = make_imagenet_tree(
        args.root,
        synsets,
        train_per_class=args.per_class,
        val_per_class=args.val_per_class,
        size=(args.width, args.height),
        val_layout=args.val_layout,
        broken=args.broken,
        seed=args.seed,
    )
    print(f"wrote an {args.classes}-layout tree to {root}; try it with")
    print(f"  python -m trial --set data.name={args.classes} --set data.imagenet.root={root}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trial.data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE")
    parser.add_argument("--name", action="append", help="only this dataset (repeatable)")
    sub = parser.add_subparsers(dest="command")
    tree = sub.add_parser("make-tree", help="write a generated ImageNet-layout tree")
    tree.add_argument("root")
    tree.add_argument("--classes", choices=("imagenet10", "imagenet100"), default="imagenet10")
    tree.add_argument("--per-class", type=int, default=40, help="training images per class")
    tree.add_argument("--val-per-class", type=int, default=10)
    tree.add_argument("--width", type=int, default=400)
    tree.add_argument("--height", type=int, default=340)
    tree.add_argument("--val-layout", choices=("folders", "devkit"), default="folders")
    tree.add_argument("--broken", action="store_true", help="add a corrupt, a CMYK, a grey JPEG")
    tree.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "make-tree":
        return _make_tree(args)
    return _list(args)


if __name__ == "__main__":
    raise SystemExit(main())

"""Run one trial from the command line; the result is one JSON object on the last line.

    python -m trial --set model.kind=multi_gaze --set train.epochs=2
    python -m trial --model=multi_gaze --dataset=cluttered_digits --augment=1 --shared=0 \\
        --epochs=10 --num_transformers=5                            # original trainer.py flags
    python -m trial --evaluate runs/single --set attack.budget=standard   # re-attack, no training

A workdir (`--workdir`, default runs/single) holds the trial: `checkpoints/` (a rerun resumes
exactly; `--fresh` starts over), `overlays/epoch_XXXX.png` and `gaze_metrics.png` for models
with gazes, and `evaluations/` (one JSON per `--evaluate`). Every flag of the original trainer.py
is accepted; `--set` overrides win over them. A key the chosen model kind does not have is an
error; flags are never abbreviated.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
from pathlib import Path

import yaml

from trial import legacy


def parse_sets(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected dotted.key=value, e.g. train.epochs=2")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trial",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # --num_transformer must not silently mean --num_transformers
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
        help="the trial's folder; a rerun resumes from its checkpoints (a finished trial "
        "reports again)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start over: an existing workdir is renamed to WORKDIR.<time>, not deleted",
    )
    parser.add_argument(
        "--evaluate",
        metavar="RUN_DIR",
        help="re-attack a stored trial (a --workdir or a study's trial folder) without "
        "retraining; only attack.* (and data.test_size, data.data_dir) may be --set",
    )
    parser.add_argument(
        "--checkpoint",
        choices=("last", "best"),
        default="last",
        help="with --evaluate: which stored epoch to attack: last (default; the model the "
        "trial's reported figures and the leaderboard's come from) or best (by the trial's "
        "best-checkpoint metric, val/clean_acc unless its study's ASHA watched another)",
    )
    legacy.add_flags(parser)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """parse_args, but an unknown flag gets a did-you-mean instead of argparse's bare error."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        flag = unknown[0].split("=", 1)[0]
        options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
        close = difflib.get_close_matches(flag, options, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else "; see python -m trial --help"
        parser.error(f"unrecognised argument {unknown[0]!r}{hint}")
    return args


def _evaluate(args: argparse.Namespace) -> int:
    from trial import checkpoint as C
    from trial.reevaluate import describe, reevaluate

    if legacy.given(args) or args.fresh:
        flags = [*legacy.given(args), *(["--fresh"] if args.fresh else [])]
        print(
            f"error: --evaluate takes only --checkpoint and --set attack.*=...; drop "
            f"{' '.join(flags)} (the stored trial's config is used)",
            file=sys.stderr,
        )
        return 2
    try:
        checkpoint = C.find(Path(args.evaluate), args.checkpoint)
        print(f"--evaluate: {describe(checkpoint, args.checkpoint)}", file=sys.stderr)
        record, path = reevaluate(checkpoint, args.checkpoint, parse_sets(args.set))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    logging.info("recorded in %s", path)
    print(json.dumps({**record, "record": str(path)}, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(build_parser(), argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.evaluate:
        return _evaluate(args)

    from trial.config import TrialConfig

    try:
        sets = parse_sets(args.set)
        kind = sets.get("model.kind")
        flat = {**legacy.overrides(args, str(kind) if kind else None), **sets}
        cfg = TrialConfig.from_dict(flat)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from trial.run import ListReporter, run_trial

    workdir = Path(args.workdir)
    if args.fresh and workdir.exists():  # set aside, never deleted: it may hold evaluations
        import time

        aside = workdir.with_name(f"{workdir.name}.{time.strftime('%Y%m%dT%H%M%S')}")
        workdir.rename(aside)
        logging.info("--fresh: the previous trial in %s is now %s", workdir, aside)
    try:
        result = run_trial(
            cfg,
            ListReporter(),
            checkpoint_dir=workdir / "checkpoints",
            artifacts_dir=workdir,
            progress=True,
        )
    except ValueError as err:  # bad data/config combinations, a checkpoint of another config
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"interrupted: the last finished epoch is kept in {workdir / 'checkpoints'}; run the "
            "same command again to resume it",
            file=sys.stderr,
        )
        return 130
    print(json.dumps({"config": cfg.to_dict(), **result.to_dict()}))
    return 0 if result.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())

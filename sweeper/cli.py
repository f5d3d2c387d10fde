"""The study command line (`python sweeper/run.py STUDY.yaml ...`).

Everything that can be checked is checked before Ray starts: the study file, every trial config
it implies (bayes: a probe sample, built as tiny models), each dataset's presence, the W&B mode
and the storage location (shared storage for a study on a cluster). `--dry-run` stops there and
prints one JSON object per trial (bayes: the space and its trial count). At the end of a study
its report (report.md/.csv/.html) is written into the study folder. `--extend runs/<study>` runs
only the trials of STUDY that the finished study in that folder has not run, into that folder,
e.g. `sweeper/run.py demo_plus.yaml --extend runs/demo` (with --dry-run: lists them). Exit codes:
0 every trial completed, diverged or was stopped (ASHA, a time budget), 1 a trial errored, 2 bad
input, 130 interrupted (Ctrl-C; 143 SIGTERM).
"""

from __future__ import annotations

import argparse
import logging
import sys

from sweeper.tune_defaults import DEFAULT_MAX_FAILURES

log = logging.getLogger("sweeper")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not in [0, 1] (a clean-accuracy loss, e.g. 0.05)"
        )
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sweeper/run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.add_argument("study", nargs="?", help="study file, e.g. search_spaces/demo.yaml")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and print one JSON object per trial; start nothing",
    )
    p.add_argument(
        "--smoke-test",
        action="store_true",
        help="tiny data, 2 epochs, smoke attack budget, at most 2 trials, in <study>-smoke/",
    )
    p.add_argument(
        "--storage",
        default=None,
        help="directory or URI (s3://, gs://, file://, any pyarrow filesystem) for results "
        "(default: ./runs)",
    )
    p.add_argument(
        "--shared-storage",
        action="store_true",
        help="declare that every node of the cluster reaches the --storage path (e.g. NFS); "
        "needed with --address unless --storage is a cloud URI",
    )
    p.add_argument(
        "--wandb",
        default="auto",
        choices=("auto", "online", "offline", "disabled"),
        help="W&B mode; auto = online with an API key, else offline",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the study in its run folder (start it if there is none)",
    )
    p.add_argument(
        "--extend",
        metavar="RUN_DIR",
        help="run only the trials of the study file that the study in RUN_DIR (e.g. runs/demo) "
        "has not run, into that folder; the report covers both (bayes: the earlier results seed "
        "the search)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="attach to this Ray cluster (`auto` on a cluster head); default: a Ray of its own "
        "(inside a Ray job: the job's cluster)",
    )
    p.add_argument(
        "--max-failures",
        type=_non_negative,
        default=DEFAULT_MAX_FAILURES,
        help="times a failed trial (error, lost node, preempted worker) is retried from its "
        f"last checkpoint (default {DEFAULT_MAX_FAILURES}: spot workers come and go)",
    )
    p.add_argument(
        "--report",
        metavar="RUN_DIR",
        help="only (re)build the report (report.md/.csv/.html) of a study folder, local or URI",
    )
    p.add_argument(
        "--max-clean-loss",
        type=_fraction,
        default=0.05,
        metavar="X",
        help="report's best trial: highest adv_acc within X clean accuracy of the best clean "
        "trial (default 0.05)",
    )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="show Ray Tune's own progress table instead of the compact progress lines",
    )
    return p


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = parser()
    args = p.parse_args(argv)
    if not args.study and not args.report:
        p.error("give a study file (e.g. search_spaces/demo.yaml) or --report RUN_DIR")
    if args.extend is not None:
        if args.report or not args.study:
            p.error(
                "--extend RUN_DIR needs the study file to extend it with, e.g. "
                "sweeper/run.py demo_plus.yaml --extend runs/demo (and no --report)"
            )
        if args.storage is not None:
            p.error(f"--extend {args.extend} runs in that folder: drop --storage")
    args.storage = args.storage or "runs"
    return args


def main(argv: list[str] | None = None) -> int:
    """Parses the command line and runs one of its commands: report, dry run, or the study."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        from sweeper import commands, study_run

        if args.report:
            return commands.report(args)
        if args.dry_run:
            return commands.dry_run(args)
        return study_run.run(args)  # which says itself how to continue an interrupted study
    except KeyboardInterrupt:
        print("interrupted; nothing was started", file=sys.stderr)
        return 130

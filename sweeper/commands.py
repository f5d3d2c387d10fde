"""The two commands that start no Ray: `--report RUN_DIR` and `--dry-run`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sweeper.outcome import EXIT_BAD_INPUT, EXIT_OK
from sweeper.study import Study


def error(message: str) -> int:
    """Prints one `error: ...` line and returns the bad-input exit code."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def load(args: argparse.Namespace) -> Study:
    """The study the command line names (its smoke variant with --smoke-test); StudyError."""
    from sweeper.space import load_study

    roots = project_dirs()
    study = load_study(args.study, roots[0] if roots else None)
    return study.smoke() if args.smoke_test else study


def report(args: argparse.Namespace) -> int:
    """(Re)builds the report of a study folder, local or URI, from its stored results alone
    (ranked by the study's metric if a study file is given, else by the folder's study.json)."""
    from sweeper import report as rep
    from sweeper.space import StudyError

    try:
        study = load(args) if args.study else None
    except StudyError as err:
        return error(str(err))
    metric, mode = (study.metric, study.mode) if study else (None, None)
    try:
        print(rep.write(args.report, metric, mode, max_clean_loss=args.max_clean_loss))
    except (OSError, ValueError) as err:  # no such folder, no trials, an unreadable URI
        return error(f"--report: {err}")
    return EXIT_OK


def dry_run(args: argparse.Namespace) -> int:
    """Validates everything a run would check before Ray and prints the trials; starts nothing.
    Missing data is a warning here (a dry run may happen away from the data)."""
    from sweeper.space import StudyError, check_before_ray, plan

    if args.extend:
        return _dry_run_extension(args)
    try:
        study = load(args)
        trials = plan(study)
        if study.method == "bayes":
            space = {p.path: p.describe() for p in study.params}
            print(json.dumps({"method": "bayes", "trials": study.num_samples, "space": space}))
        else:
            for point in trials.points:
                print(json.dumps(point, sort_keys=True))
        for note in trials.notes:
            print(f"note: {note}", file=sys.stderr)
        problems = check_before_ray(study)
    except StudyError as err:
        return error(str(err))
    for problem in problems:
        print(f"warning: {problem} (a run would stop here)", file=sys.stderr)
    if study.method == "bayes":
        print(
            f"bayes study {study.name!r}: {study.num_samples} trial(s); {len(trials.points)} "
            "probe configuration(s) validated and built as tiny models",
            file=sys.stderr,
        )
    else:
        print(f"{len(trials.points)} trial(s) in study {study.name!r}", file=sys.stderr)
    return EXIT_OK


def _dry_run_extension(args: argparse.Namespace) -> int:
    """`--dry-run --extend RUN_DIR`: the trials the extension would run, and how many of the
    study's trials the folder already holds."""
    from sweeper.extend import prepare
    from sweeper.space import StudyError, check_before_ray

    try:
        study = load(args)
        extension = prepare(study, args.extend, shared=args.shared_storage, resume=args.resume)
        problems = check_before_ray(study)
    except (StudyError, ValueError) as err:
        return error(str(err))
    for problem in problems:
        print(f"warning: {problem} (a run would stop here)", file=sys.stderr)
    if not extension.remaining and not extension.resume:
        print(extension.nothing_to_do(), file=sys.stderr)
        return EXIT_OK
    lines, closing = extension.describe()
    for line in lines:
        print(line)
    print(closing, file=sys.stderr)
    return EXIT_OK


def project_dirs() -> list[Path]:
    """Where a study path is looked up after the working directory."""
    import sweeper

    here = Path(sweeper.__file__).resolve().parent.parent
    return [here] if (here / "search_spaces").is_dir() else []

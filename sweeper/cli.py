"""The study command line (`python sweeper/run.py STUDY.yaml ...`).

Everything that can be checked is checked before Ray starts: the study file, every trial config
it implies, the W&B mode and the storage location. `--dry-run` stops there and prints one JSON
object per trial (bayes: the space and its trial count).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger("sweeper")


def project_dirs() -> list[Path]:
    """Where a study path is looked up after the working directory."""
    import sweeper

    here = Path(sweeper.__file__).resolve().parent.parent
    return [here] if (here / "search_spaces").is_dir() else []


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="sweeper/run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        default="runs",
        help="directory or URI (s3://, gs://) for results (default: ./runs)",
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
        "--address",
        default=None,
        help="Ray cluster address (`auto` on a cluster head); default: local Ray",
    )
    p.add_argument(
        "--report",
        metavar="RUN_DIR",
        help="only (re)build the report (report.md/.csv/.html) of a study folder, local or URI",
    )
    p.add_argument(
        "--max-clean-loss",
        type=float,
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
    args = p.parse_args(argv)
    if not args.study and not args.report:
        p.error("give a study file (e.g. search_spaces/demo.yaml) or --report RUN_DIR")
    return args


STUDY_RECORD = "study.json"  # the study a run folder was started from, for --resume


def check_run_dir(run_dir: Path, study, resume: bool) -> str | None:
    """Refuses to overwrite a run, or to resume one started from a different study; records the
    study in a new run folder. Returns the problem, or None."""
    record = run_dir / STUDY_RECORD
    wanted = json.loads(json.dumps(study.fingerprint(), default=str))
    if run_dir.exists():
        if not resume:
            return (
                f"{run_dir} already holds a run of study {study.name!r}; pass --resume to "
                "continue it (finished trials are kept), or --storage to start elsewhere"
            )
        if record.exists():
            saved = json.loads(record.read_text())
            changed = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
            if changed:
                return (
                    f"{run_dir} was started from a different version of study "
                    f"{study.name!r} (changed: {', '.join(changed)}); --resume would rerun "
                    "the old trials. Start it elsewhere with --storage, or give the study a "
                    "new `name`"
                )
            return None
    run_dir.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(wanted, indent=1, sort_keys=True))
    return None


def _storage(raw: str) -> str:
    if "://" in raw:
        return raw
    return str(Path(raw).expanduser().resolve())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from sweeper import report
    from sweeper.space import StudyError, load_study, trial_points
    from sweeper.wandb_run import resolve_mode

    study = None
    try:
        if args.study:
            roots = project_dirs()
            study = load_study(args.study, roots[0] if roots else None)
            if args.smoke_test:
                study = study.smoke()
        wandb_mode = resolve_mode(args.wandb)
        if not 0 <= args.max_clean_loss <= 1:  # checked before Ray starts
            raise ValueError(f"--max-clean-loss={args.max_clean_loss} is not in [0, 1]")
    except (StudyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    if args.report:
        # With a study file, rank by its metric; without one, by the folder's own (study.json).
        metric, mode = (study.metric, study.mode) if study else (None, None)
        try:
            print(report.write(args.report, metric, mode, max_clean_loss=args.max_clean_loss))
        except (FileNotFoundError, ValueError) as err:
            print(f"error: --report: {err}", file=sys.stderr)
            return 2
        return 0

    if args.dry_run:
        if study.method == "bayes":
            space = {p.path: {"distribution": p.distribution, **p.spec} for p in study.params}
            print(json.dumps({"method": "bayes", "trials": study.run_cap or 8, "space": space}))
        else:
            points = trial_points(study)
            for point in points:
                print(json.dumps(point, sort_keys=True))
            print(f"{len(points)} trial(s) in study {study.name!r}", file=sys.stderr)
        return 0

    try:  # the data every trial reads is there (fast, nothing decoded) before Ray starts
        from trial.config import TrialConfig
        from trial.data import check

        for point in trial_points(study) if study.method != "bayes" else []:
            check(TrialConfig.from_dict(point).data)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    storage = _storage(args.storage)
    run_dir = f"{storage}/{study.name}"
    if "://" not in storage:
        problem = check_run_dir(Path(run_dir), study, args.resume)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2

    import ray

    from sweeper.tune import run_study

    ray.init(
        address=args.address, include_dashboard=False, log_to_driver=True, configure_logging=False
    )
    log.info(
        "study %s: %s search, W&B %s, results in %s", study.name, study.method, wandb_mode, run_dir
    )
    try:
        results = run_study(
            study, storage=storage, wandb_mode=wandb_mode, resume=args.resume, verbose=args.verbose
        )
    finally:
        ray.shutdown()
    errors = [r for r in results if r.error]
    rendered = report.build(run_dir, study.metric, study.mode, max_clean_loss=args.max_clean_loss)
    print(report.save(rendered, run_dir))
    if wandb_mode != "disabled":
        from sweeper.wandb_run import log_study

        local = Path(run_dir) if "://" not in storage else Path.cwd()
        log_study(rendered, mode=wandb_mode, directory=local, project=study.project)
    if errors:
        print(f"{len(errors)} trial(s) failed; see error.txt in their folders", file=sys.stderr)
    return 1 if errors and len(errors) == len(results) else 0

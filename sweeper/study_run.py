"""Running a study: the checks before Ray, the Ray it runs on, and how it ends.

Order matters: everything that can fail on the user's input fails before Ray starts (exit 2),
the cluster's capacity is checked before any trial is submitted, and whatever happens next
(a trial error, Ctrl-C, SIGTERM, the time budget) ends with a one-line summary, the exact
`--resume` command where there is something left to continue, and a non-zero exit code unless
every trial ended on its own terms.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

from sweeper import outcome
from sweeper.commands import error, load
from sweeper.lock import FolderBusy, StudyLock
from sweeper.storage import in_ray_job

log = logging.getLogger("sweeper")


class _Signals:
    """Turns SIGTERM on the driver into Ctrl-C (Tune's graceful stop, or KeyboardInterrupt
    outside `fit`) and remembers it, so the exit code can say which one ended the study."""

    def __init__(self) -> None:
        self.terminated = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame) -> None:
        self.terminated = True
        # Whatever Ctrl-C does now (Tune's handler inside `fit`), even when the driver was
        # started with SIGINT ignored (`cmd &` in a script): then it ends the study directly.
        on_ctrl_c = signal.getsignal(signal.SIGINT)
        if not callable(on_ctrl_c):
            raise KeyboardInterrupt
        on_ctrl_c(signal.SIGINT, frame)

    @property
    def code(self) -> int:
        return outcome.EXIT_TERMINATED if self.terminated else outcome.EXIT_INTERRUPTED


def run(args: argparse.Namespace) -> int:
    """Runs (or resumes) the study; see the module docstring for how it ends."""
    signals = _Signals()
    signals.install()
    try:
        return _run(args, signals)
    except KeyboardInterrupt:
        print(
            f"interrupted; nothing finished is lost. Continue with:\n  {outcome.resume_command()}",
            file=sys.stderr,
        )
        return signals.code


def _preflight(args: argparse.Namespace):
    """Every check that needs no Ray; returns (study, wandb mode, storage, extension or None)
    or an exit code."""
    from sweeper import cluster
    from sweeper.extend import extended_since, prepare
    from sweeper.space import StudyError, check_before_ray
    from sweeper.storage import StorageError, check_run_dir, parse_storage, require_shared
    from sweeper.wandb_run import resolve_mode

    try:
        study = load(args)
        wandb_mode = resolve_mode(args.wandb)
        extension = None
        if args.extend:
            extension = prepare(study, args.extend, shared=args.shared_storage, resume=args.resume)
            storage = extension.storage
        else:
            storage = parse_storage(args.storage, shared=args.shared_storage)
            if args.resume and extended_since(storage, study):
                # e.g. `make sweep` after the demo was extended: run what this version lacks
                folder = storage.study_uri(study.name)
                print(
                    f"note: {folder} was extended since {study.path.name} ran in it; --resume "
                    "runs only its trials the folder lacks, as --extend would",
                    file=sys.stderr,
                )
                extension = prepare(study, folder, shared=args.shared_storage)
        if cluster.attaching(args.address):
            why = (
                f"--address {args.address} attaches to a Ray cluster"
                if args.address
                else "RAY_ADDRESS is set (a Ray job), so the study runs on that cluster"
            )
            require_shared(storage, why)
        study_lock(storage, study.name).check()  # another driver runs it: the first refusal
        problems = check_before_ray(study)
    except (StudyError, StorageError, ValueError) as err:  # (FolderBusy is a ValueError)
        return error(str(err))
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return outcome.EXIT_BAD_INPUT
    if extension is not None:
        if not extension.remaining and not extension.resume:
            print(extension.nothing_to_do(), file=sys.stderr)
            return outcome.EXIT_OK
        return study, wandb_mode, storage, extension
    problem = check_run_dir(storage, study, args.resume, record=False)
    if problem:
        return error(problem)
    return study, wandb_mode, storage, None


def study_lock(storage, name: str) -> StudyLock:
    """The driver lock of a study folder (a no-op one for URI storage, which has no path)."""
    folder = storage.study_dir(name)
    return StudyLock(folder, storage.study_uri(name)) if folder is not None else _NoLock()


class _NoLock:
    took_over = None

    def check(self) -> None:
        pass

    def acquire(self) -> None:
        log.info("the study folder is a URI: no driver lock; run one driver per study")

    def release(self) -> None:
        pass


def _run(args: argparse.Namespace, signals: _Signals) -> int:
    checked = _preflight(args)
    if isinstance(checked, int):
        return checked
    study, wandb_mode, storage, extension = checked
    lock = study_lock(storage, study.name)
    try:
        return _run_locked(args, signals, study, wandb_mode, storage, extension, lock)
    finally:
        lock.release()


def _run_locked(args, signals, study, wandb_mode, storage, extension, lock) -> int:
    """The study on its Ray, once every check passed; takes the folder's lock before Ray's
    first write to it (the caller releases it)."""
    if in_ray_job():
        # The job runs in Ray's copy of its --working-dir, which Ray may unpack afresh while
        # the study runs (nodes that share a machine share that copy); Tune resolves paths
        # against the working directory, so the driver leaves it once everything is resolved.
        os.chdir(Path.home())

    import ray

    from sweeper import cluster, extend
    from sweeper.storage import check_run_dir
    from sweeper.tune import run_study

    # Tune warns about every trial without results yet when it collects them (after Ctrl-C).
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    started = time.monotonic()
    try:
        cluster.connect(args.address)
    except cluster.ClusterError as err:
        return error(str(err))
    signals.install()  # after ray.init, which may install its own
    try:
        problem = cluster.infeasible(study.resources, attached=cluster.attaching(args.address))
        if problem:
            return error(problem)
        try:
            stale = lock.acquire()
        except FolderBusy as err:  # started at the same moment as another driver
            return error(str(err))
        if stale is not None:
            print(
                f"note: {storage.study_uri(study.name)} was held by a driver that is gone "
                f"({stale.describe()}); taking it over",
                file=sys.stderr,
            )
        if extension is None:
            problem = check_run_dir(storage, study, args.resume, record=True)
            if problem:  # another driver recorded it since the preflight looked
                return error(problem)
        elif not extension.resume:
            extend.record(extension)
            log.info(
                "extending %s: %d new trial(s) beside %d earlier one(s)",
                extension.shown,
                extension.remaining,
                extension.earlier,
            )
        log.info(
            "study %s: %s search, W&B %s, results in %s",
            study.name,
            study.method,
            wandb_mode,
            storage.study_uri(study.name),
        )
        run_study(
            study,
            storage=storage,
            wandb_mode=wandb_mode,
            resume=args.resume if extension is None else extension.resume,
            max_failures=args.max_failures,
            verbose=args.verbose,
            space=extension.space() if extension is not None else None,
        )
    finally:
        ray.shutdown()
    trials = outcome.of_experiment(*storage.tune_experiment(study.name))
    code = outcome.exit_code(trials, signal_code=signals.code if signals.terminated else None)
    budget = study.study_time_budget_s
    ran_out = budget is not None and time.monotonic() - started >= budget
    _report(storage, study, wandb_mode, args.max_clean_loss)
    print(outcome.summary(study.name, trials, budget_ran_out=ran_out), file=sys.stderr)
    if extension is not None and extension.earlier:
        print(
            f"(the extension's trials; the report covers them and the {extension.earlier} "
            f"earlier trial(s) in {extension.shown})",
            file=sys.stderr,
        )
    if code != outcome.EXIT_OK:
        what = "interrupted" if code != outcome.EXIT_ERRORED else "errored trials are retried"
        print(f"{what}; Continue with:\n  {outcome.resume_command()}", file=sys.stderr)
    return code


def _report(storage, study, wandb_mode: str, max_clean_loss: float) -> None:
    """Writes the study's report (report.md/.csv/.html) into its folder, local or URI, and its
    study-level W&B run (leaderboard table, plots). Whatever goes wrong here is said and the
    study still ends with its summary and exit code: the report can be rebuilt from the stored
    results with `--report`."""
    from sweeper import report

    location = storage.study_uri(study.name)
    local = storage.study_dir(study.name)
    try:
        rendered = report.build(location, study.metric, study.mode, max_clean_loss=max_clean_loss)
        print(report.save(rendered, location))
    except FileNotFoundError:
        print(f"no trial has results in {location} yet: no report", file=sys.stderr)
        return
    except Exception as err:
        log.warning(
            "the report of %s failed (%s); rebuild it with: python sweeper/run.py --report %s",
            location,
            err,
            location,
            exc_info=True,
        )
        return
    if wandb_mode != "disabled":  # with remote storage, its W&B files stay in the working dir
        from sweeper.wandb_run import log_study

        directory = local if local is not None else Path.cwd()
        log_study(
            rendered,
            mode=wandb_mode,
            directory=directory,
            project=study.project,
            entity=study.entity,
        )

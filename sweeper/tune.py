"""Runs a validated study with Ray Tune: resources, scheduler, search, failures, resume.

Grid and random studies hand Tune the materialised, deduplicated trial list (so Tune runs
exactly what `--dry-run` printed); bayes studies hand Optuna the space, built from the same
`Param` objects. ASHA stops hopeless trials early. Every trial checkpoints every epoch into the
study storage, so a trial whose node dies (or whose worker is preempted) resumes elsewhere from
its last epoch, up to `max_failures` times.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from ray import tune
from ray.tune.search.optuna import OptunaSearch

from sweeper.history import KeepHistory
from sweeper.points import plan, trial_points
from sweeper.storage import Storage
from sweeper.study import Study
from sweeper.trainable import EpochTrainable, trial_dirname
from sweeper.tune_defaults import DEFAULT_MAX_FAILURES
from trial import metrics as M

log = logging.getLogger(__name__)

# Metrics that only the last step reports (the study metric, e.g. adv_acc) would trip Tune's
# strict check that every result carries the searcher's metric.
os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")

__all__ = ["DEFAULT_MAX_FAILURES", "EpochTrainable", "run_study", "trial_dirname"]


class FinalMetricOptuna(OptunaSearch):
    """Optuna for a study metric that only a trial's final result carries (adv_acc): Ray's
    OptunaSearch reads the metric from every result, and the per-epoch ones lack it (a KeyError
    that ended every bayes study at its first epoch). Optuna gets the final value when the trial
    completes; a trial stopped before it counts as pruned."""

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if self.metric in result:
            super().on_trial_result(trial_id, result)


def _scheduler(study: Study, max_epochs: int):
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    class FinishingASHA(ASHAScheduler):
        """ASHA that never stops a trial that has trained to max_t: its final evaluation runs
        as steps after that epoch. (`stop_last_trials=False` drops ASHA's own stop at max_t, but
        when max_t is itself a rung, min_t * eta**k, the rung's cut-off could still stop it.)"""

        def on_trial_result(self, tune_controller, trial, result):
            action = super().on_trial_result(tune_controller, trial, result)
            if action == TrialScheduler.STOP and result.get(self._time_attr, 0) >= self._max_t:
                self._num_stopped -= 1
                return TrialScheduler.CONTINUE
            return action

    et = study.early_terminate
    if et is None:
        return None
    return FinishingASHA(
        time_attr="training_iteration",
        metric=et.metric,
        mode=et.mode,  # the metric's defined direction (trial.metrics), never a guess
        max_t=et.max_t or max_epochs,
        grace_period=et.grace_period,
        reduction_factor=et.reduction_factor,
        brackets=et.brackets,
        stop_last_trials=False,  # the evaluation steps come after max_t
    )


def search_space(
    study: Study,
    *,
    points: list[dict[str, Any]] | None = None,
    seeds: list[tuple[dict[str, Any], float]] = (),
    num_samples: int | None = None,
    search_seed: int | None = None,
) -> tuple[dict[str, Any], Any, int, int]:
    """Tune's param_space, search algorithm, sample count and the longest trial's epochs. An
    extension (`sweeper.extend`) passes its own grid/random `points`, or a bayes study's
    `num_samples`, `seeds` ((Optuna point, metric) pairs of earlier trials) and a sampler seed
    of its own (with the study's, Optuna's first random draws would repeat the earlier ones)."""
    from trial.config import TrialConfig

    if study.method == "bayes":
        domains = {p.path: p.tune_domain() for p in study.params}
        search = FinalMetricOptuna(
            metric=study.metric,
            mode=study.mode,
            seed=study.seed if search_seed is None else search_seed,
            points_to_evaluate=[point for point, _ in seeds] or None,
            evaluated_rewards=[value for _, value in seeds] or None,
        )
        probes = plan(study).points  # the ends of every range: the most epochs any trial has
        epochs = max(TrialConfig.from_dict(p).train.epochs for p in probes)
        samples = study.num_samples if num_samples is None else num_samples
        return {"trial": {**domains, **study.overrides}}, search, samples, epochs
    points = trial_points(study) if points is None else points
    epochs = max(TrialConfig.from_dict(p).train.epochs for p in points)
    return {"trial": tune.grid_search(points)}, None, 1, epochs


def varied(study: Study) -> tuple[str, ...]:
    """The study's varied parameters (what tells its trials apart in run names)."""
    return tuple(p.path for p in study.params if p.values is None or len(p.values) > 1)


def _saved_state(storage: Storage, name: str) -> bool:
    """Whether Tune saved the study's state: its tuner.pkl and an experiment state. A study
    interrupted after Tune wrote tuner.pkl but before its first experiment state has nothing to
    restore (Tune would log a traceback and run an empty config): it starts afresh."""
    import pyarrow.fs

    fs, folder = storage.study_fs(name)
    found = fs.get_file_info(pyarrow.fs.FileSelector(folder, allow_not_found=True))
    names = {info.base_name for info in found}
    return "tuner.pkl" in names and any(n.startswith("experiment_state-") for n in names)


def run_study(
    study: Study,
    *,
    storage: Storage,
    wandb_mode: str,
    resume: bool = False,
    max_failures: int = DEFAULT_MAX_FAILURES,
    verbose: bool = False,
    callbacks: list | None = None,
    space: tuple | None = None,
):
    """Runs (or resumes) the study, or the `space` of an extension (`search_space`'s result);
    returns Tune's ResultGrid. Progress: compact lines (`sweeper.progress`), or Ray's wide table
    with `verbose`."""
    from sweeper.progress import Progress

    local = storage.local
    et = study.early_terminate
    progress = Progress(study.name, study.metric, study.mode, varied=varied(study))
    trainable = tune.with_resources(
        tune.with_parameters(
            EpochTrainable,
            study=study.name,
            project=study.project,
            entity=study.entity,
            wandb_mode=wandb_mode,
            wandb_root=str(local) if local is not None else None,
            cpus=study.resources["cpu"],
            varied=varied(study),
            best_metric=et.metric if et else M.VAL_CLEAN_ACC,
            best_goal=et.goal if et else None,  # the way ASHA reads it
            trial_budget_s=study.trial_time_budget_s,
            study_deadline=time.time() + study.study_time_budget_s
            if study.study_time_budget_s
            else None,
        ),
        {"cpu": study.resources["cpu"], "gpu": study.resources["gpu"]},
    )
    root, fs = storage.for_tune()
    experiment, _ = storage.tune_experiment(study.name)
    param_space, search_alg, num_samples, max_epochs = space or search_space(study)
    if resume and _saved_state(storage, study.name):
        log.info("resuming study from %s", experiment)
        tuner = tune.Tuner.restore(
            experiment,
            trainable=trainable,
            param_space=param_space,  # tuner.pkl does not hold it
            resume_errored=True,
            storage_filesystem=fs,
        )
        return tuner.fit()

    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            scheduler=_scheduler(study, max_epochs),
            search_alg=search_alg,
            num_samples=num_samples,
            max_concurrent_trials=study.max_concurrent_trials,
            time_budget_s=study.study_time_budget_s,
            trial_dirname_creator=lambda trial: trial_dirname(trial.trial_id),
            reuse_actors=True,  # a worker runs trial after trial: one TensorFlow start each
        ),
        run_config=tune.RunConfig(
            name=study.name,
            storage_path=root,
            storage_filesystem=fs,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2, checkpoint_frequency=1),
            failure_config=tune.FailureConfig(max_failures=max_failures),
            sync_config=tune.SyncConfig(sync_artifacts=True),
            callbacks=[progress, KeepHistory(), *(callbacks or [])],
            verbose=1 if verbose else 0,  # Ray's wide table only with --verbose
        ),
    )
    return tuner.fit()

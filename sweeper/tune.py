"""Runs a validated study with Ray Tune: trainable adapter, scheduler, search, resume.

The trainable is a thin class adapter around `trial.run.Trial`: `setup` turns Tune's config into
a `TrialConfig` (dropping, and logging, keys the trial's model kind lacks) and opens the trial's
W&B run, `step` runs one epoch and logs it, `save_checkpoint`/`load_checkpoint` hand the epoch
checkpoints to Tune and back, and `cleanup` closes W&B in the trial's own thread, so a trial
that ASHA stops still leaves a complete, closed W&B run.
Grid and random studies hand Tune the materialised trial list (so Tune runs exactly what
`--dry-run` printed); bayes studies hand Optuna the space. ASHA stops hopeless trials early.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from ray import tune

from sweeper.space import Study, trial_points

log = logging.getLogger(__name__)

# Metrics that only the last epoch reports (the study metric, e.g. adv_acc) would trip Tune's
# strict check that every result carries the searcher's metric.
os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")


def _threads(cpus: float) -> None:
    import tensorflow as tf

    n = max(1, int(cpus))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # TF already initialised in this worker: keep its settings
        pass


def trial_dirname(trial_id: str) -> str:
    """A trial's folder name inside the study folder."""
    return f"trial_{trial_id}"


def _exit_quietly(signum, frame) -> None:
    """SIGTERM in a trial's worker: Ray's own handler raises SystemExit wherever Python happens
    to be, e.g. inside a garbage-collection callback, which prints an "Exception ignored ...
    Traceback" when `ray.shutdown()` ends the study. By then `cleanup` has closed W&B, and every
    result and checkpoint has been handed to Tune, so the worker just leaves."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class EpochTrainable(tune.Trainable):
    """One trial as a Tune class trainable: one `step` per epoch."""

    def setup(
        self,
        config: dict[str, Any],
        *,
        study: str,
        project: str,
        wandb_mode: str,
        storage: str,
        cpus: float,
        varied: tuple[str, ...] = (),
        best_metric: str = "val/clean_acc",
    ) -> None:
        signal.signal(signal.SIGTERM, _exit_quietly)
        _threads(cpus)
        from sweeper.wandb_run import TrialRun, run_name
        from trial.config import TrialConfig, drop_inapplicable
        from trial.run import Trial

        kept, dropped = drop_inapplicable(config["trial"])
        if dropped:
            log.info("model.kind=%s has no %s; dropped", kept.get("model.kind"), dropped)
        cfg = TrialConfig.from_dict(kept)
        # W&B files go straight into the trial's folder of a local (or shared) study folder;
        # with remote storage they go to the trial's working directory, which Tune uploads.
        directory = Path.cwd()
        if "://" not in storage:
            directory = Path(storage) / study / trial_dirname(self.trial_id)
        self.run = TrialRun(
            mode=wandb_mode,
            directory=directory,
            project=project,
            group=study,
            name=run_name(kept, varied),
            run_id=f"{study}-{self.trial_id}",
            config=cfg.to_dict(),
            tags=(f"study:{study}", f"family:{cfg.model.kind}"),
        )
        # Checkpoints (the last two and the best), overlays and plots live in the trial's folder
        # (remote storage: its working directory, which Tune syncs), so they outlive the trial.
        self.trial = Trial(
            cfg,
            checkpoint_dir=directory / "checkpoints",
            artifacts_dir=directory,
            best_metric=best_metric,
        )
        self.latest: Path | None = None

    def step(self) -> dict[str, Any]:
        try:
            metrics, self.latest = self.trial.step()
        except Exception:
            self.run.finish("errored")
            raise
        self.run.log(metrics, step=int(metrics["epoch"]))
        if self.trial.done:  # W&B is closed before Tune sees the last result
            self.run.finish(self.trial.result.status)
        return {**metrics, "done": self.trial.done}

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        if self.latest is not None:
            shutil.copytree(self.latest, checkpoint_dir, dirs_exist_ok=True)

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        self.trial.restore(checkpoint_dir)

    def cleanup(self) -> None:  # also runs when ASHA stops the trial
        self.run.finish("stopped")  # no-op if the trial already finished its run


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
    mode = "min" if "loss" in et.metric else "max"
    return FinishingASHA(
        time_attr="training_iteration",
        metric=et.metric,
        mode=mode,
        max_t=et.max_t or max_epochs,
        grace_period=et.grace_period,
        reduction_factor=et.reduction_factor,
        brackets=et.brackets,
        stop_last_trials=False,  # the evaluation steps come after max_t
    )


def _bayes_space(study: Study) -> dict[str, Any]:

    space: dict[str, Any] = {}
    for p in study.params:
        s, d = p.spec, p.distribution
        if p.values is not None:
            space[p.path] = tune.choice(p.values)
        elif d == "int_uniform":
            space[p.path] = tune.randint(s["min"], s["max"] + 1)
        elif d in ("uniform", "q_uniform"):
            space[p.path] = (
                tune.quniform(s["min"], s["max"], s["q"])
                if "q" in s
                else (tune.uniform(s["min"], s["max"]))
            )
        elif d in ("log_uniform_values", "q_log_uniform_values"):
            space[p.path] = (
                tune.qloguniform(s["min"], s["max"], s["q"])
                if "q" in s
                else (tune.loguniform(s["min"], s["max"]))
            )
        elif d == "log_uniform":
            import math

            space[p.path] = tune.loguniform(math.exp(s["min"]), math.exp(s["max"]))
        else:
            space[p.path] = (
                tune.qrandn(s["mu"], s["sigma"], s["q"])
                if "q" in s
                else (tune.randn(s["mu"], s["sigma"]))
            )
    return space


def _longest_epochs(study: Study) -> int:
    """The most epochs any trial of a bayes study can run (ASHA's max_t)."""
    from trial.config import TrainConfig

    for p in study.params:
        if p.path == "train.epochs":
            return int(max(p.values) if p.values is not None else p.spec.get("max", 1))
    return TrainConfig().epochs


def run_study(
    study: Study,
    *,
    storage: str,
    wandb_mode: str,
    resume: bool = False,
    verbose: bool = False,
):
    """Runs (or resumes) the study; returns Tune's ResultGrid."""
    from sweeper.progress import Progress

    varied = tuple(p.path for p in study.params if p.values is None or len(p.values) > 1)
    progress = Progress(study.name, study.metric, study.mode, varied=varied)

    trainable = tune.with_resources(
        tune.with_parameters(
            EpochTrainable,
            study=study.name,
            project=study.project,
            wandb_mode=wandb_mode,
            storage=storage,
            cpus=study.resources["cpu"],
            varied=varied,
            best_metric=study.early_terminate.metric if study.early_terminate else "val/clean_acc",
        ),
        {"cpu": study.resources["cpu"], "gpu": study.resources["gpu"]},
    )
    experiment = f"{storage.rstrip('/')}/{study.name}"
    if resume and tune.Tuner.can_restore(experiment):
        log.info("resuming study from %s", experiment)
        tuner = tune.Tuner.restore(experiment, trainable=trainable, resume_errored=True)
        return tuner.fit()

    search_alg = None
    if study.method == "bayes":
        from ray.tune.search.optuna import OptunaSearch

        param_space = {"trial": {**_bayes_space(study), **study.overrides}}
        search_alg = OptunaSearch(metric=study.metric, mode=study.mode, seed=study.seed)
        num_samples = study.run_cap or 8
        max_epochs = int(study.overrides.get("train.epochs", 0)) or _longest_epochs(study)
    else:
        points = trial_points(study)
        param_space = {"trial": tune.grid_search(points)}
        num_samples = 1
        from trial.config import TrialConfig

        max_epochs = max(TrialConfig.from_dict(p).train.epochs for p in points)
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            scheduler=_scheduler(study, max_epochs),
            search_alg=search_alg,
            num_samples=num_samples,
            trial_dirname_creator=lambda trial: trial_dirname(trial.trial_id),
        ),
        run_config=tune.RunConfig(
            name=study.name,
            storage_path=storage,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2, checkpoint_frequency=1),
            failure_config=tune.FailureConfig(max_failures=1),
            sync_config=tune.SyncConfig(sync_artifacts=True),
            callbacks=[progress],  # compact progress lines
            verbose=1 if verbose else 0,  # Ray's wide table only with --verbose
        ),
    )
    return tuner.fit()

"""Runs a validated study with Ray Tune: trainable adapter, scheduler, search, resume.

The trainable is a thin adapter around `trial.run.run_trial`: it turns Tune's config into a
`TrialConfig` (dropping, and logging, keys the trial's model kind lacks), restores from Tune's
checkpoint when a trial is resumed, and forwards every epoch's report to Tune and to W&B.
Grid and random studies hand Tune the materialised trial list (so Tune runs exactly what
`--dry-run` printed); bayes studies hand Optuna the space. ASHA stops hopeless trials early.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sweeper.space import Study, trial_points

log = logging.getLogger(__name__)

# Metrics that only the last epoch reports (the study metric, e.g. adv_acc) would trip Tune's
# strict check that every result carries the searcher's metric.
os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")

SMOKE_OVERRIDES: dict[str, Any] = {
    "data.train_size": 512,
    "data.val_size": 128,
    "data.test_size": 64,
    "train.epochs": 2,
    "train.batch_size": 64,
    "attack.budget": "smoke",
    "attack.val_examples": 64,
}
SMOKE_MAX_TRIALS = 2


class TuneReporter:
    """Forwards a trial's reports to its W&B run and to Tune (metrics + checkpoint).

    W&B comes first, and the run is closed before the last report: Tune may stop the trial's
    process as soon as it has the final result (ASHA at max_t), and W&B must be done by then.
    """

    def __init__(self, wandb_run) -> None:
        self.wandb_run = wandb_run

    def report(self, metrics: dict[str, Any], checkpoint: Path | None) -> None:
        from ray import tune

        self.wandb_run.log(metrics, step=int(metrics.get("epoch", 0)))
        if metrics.get("status") in ("completed", "diverged"):
            self.wandb_run.finish(0 if metrics["status"] == "completed" else 1)
        ckpt = tune.Checkpoint.from_directory(str(checkpoint)) if checkpoint else None
        tune.report(dict(metrics), checkpoint=ckpt)


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


def make_trainable(study: Study, wandb_mode: str, storage: str):
    """The function Tune runs once per trial (config = {"trial": flat dotted dict})."""
    name, project, cpus = study.name, study.project, study.resources["cpu"]
    local_storage = None if "://" in storage else Path(storage) / name

    def trainable(config: dict[str, Any]) -> None:
        logging.basicConfig(level=logging.INFO)
        _threads(cpus)
        from ray import tune

        from sweeper.wandb_run import TrialRun
        from trial.config import TrialConfig, drop_inapplicable
        from trial.run import run_trial

        kept, dropped = drop_inapplicable(config["trial"])
        if dropped:
            log.info("model.kind=%s has no %s; dropped", kept.get("model.kind"), dropped)
        cfg = TrialConfig.from_dict(kept)
        context = tune.get_context()
        # W&B files go straight into the trial's folder of a local (or shared) study folder,
        # so they are complete even for trials that ASHA stops. With remote storage they go to
        # the trial's working directory, which Tune uploads (sync_artifacts) on every report.
        directory = Path.cwd()
        if local_storage is not None:
            directory = local_storage / trial_dirname(context.get_trial_id())
        run = TrialRun(
            mode=wandb_mode,
            directory=directory,
            project=project,
            group=name,
            name=context.get_trial_name(),
            run_id=f"{name}-{context.get_trial_id()}",
            config=cfg.to_dict(),
        )
        scratch = Path(tempfile.mkdtemp(prefix="ckpt-"))
        resume_from = None
        restored = tune.get_checkpoint()
        if restored is not None:
            resume_from = Path(restored.to_directory(str(scratch / "restored")))
        try:
            run_trial(
                cfg, TuneReporter(run), checkpoint_dir=scratch / "epochs", resume_from=resume_from
            )
        except SystemExit:  # Tune stopping the trial (ASHA): not a failure
            run.finish(0)
            raise
        except BaseException:
            run.finish(1)
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return trainable


def _scheduler(study: Study, max_epochs: int):
    from ray.tune.schedulers import ASHAScheduler

    et = study.early_terminate
    if et is None:
        return None
    mode = "min" if "loss" in et.metric else "max"
    return ASHAScheduler(
        time_attr="training_iteration",
        metric=et.metric,
        mode=mode,
        max_t=et.max_t or max_epochs,
        grace_period=et.grace_period,
        reduction_factor=et.reduction_factor,
        brackets=et.brackets,
    )


def _bayes_space(study: Study) -> dict[str, Any]:
    from ray import tune

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
    smoke: bool = False,
    resume: bool = False,
):
    """Runs (or resumes) the study; returns Tune's ResultGrid."""
    from ray import tune

    overrides = dict(SMOKE_OVERRIDES) if smoke else {}
    trainable = tune.with_resources(
        make_trainable(study, wandb_mode, storage),
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

        param_space = {"trial": {**_bayes_space(study), **overrides}}
        search_alg = OptunaSearch(metric=study.metric, mode=study.mode, seed=study.seed)
        num_samples = study.run_cap or 8
        max_epochs = int(overrides.get("train.epochs", 0)) or _longest_epochs(study)
    else:
        points = [{**p, **overrides} for p in trial_points(study)]
        if smoke:
            points = points[:SMOKE_MAX_TRIALS]
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
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            failure_config=tune.FailureConfig(max_failures=1),
            sync_config=tune.SyncConfig(sync_artifacts=True),
            verbose=1,
        ),
    )
    return tuner.fit()

"""One trial: train a model, attack it, report. No Ray and no W&B in here.

`run_trial(cfg, reporter)` is a function of its config plus injected I/O: the reporter receives
one metrics dict per step (with the checkpoint written for it): one step per epoch, then the
final evaluation (`trial.evaluation`) as steps of its own, tagged `phase: "evaluation"` and
without per-epoch `val/` metrics (so a scheduler watching those ignores them); the last step
carries the final metrics and the status. Each evaluation step stores its finished unit inside the
last epoch's checkpoint, so an interrupted evaluation resumes from there. A diverged trial (NaN
loss) ends with status `diverged` instead of raising.

A trial writes into its folder (`artifacts_dir`): epoch checkpoints (see `trial.checkpoint`;
a trial resumes from the latest one exactly as if it had not stopped), an overlay PNG per epoch
for models with gazes or boxes (`overlays/epoch_XXXX.png`, reported as `artifact/overlay`) and
the gaze metrics over epochs (`gaze_metrics.png`, reported as `artifact/gaze_metrics`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np

import models
from attacks import evaluate, predict
from trial import checkpoint as C
from trial import evaluation as E
from trial import metrics as M
from trial import train as T
from trial.config import TrialConfig, training_changes
from trial.data import SKIPPED, load
from trial.devices import configure_determinism, configure_precision
from trial.evaluation import final_evaluation  # noqa: F401  (re-exported for callers)
from trial.overlay import look, plot_gaze_metrics
from trial.progress import EpochProgress

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """Where a trial sends its per-epoch metrics and checkpoints."""

    def report(self, metrics: dict[str, Any], checkpoint: Path | None) -> None: ...


class ListReporter:
    """Keeps every report in memory (tests) and logs a progress line per epoch."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []
        self.checkpoints: list[Path | None] = []

    def report(self, metrics: dict[str, Any], checkpoint: Path | None) -> None:
        self.reports.append(dict(metrics))
        self.checkpoints.append(checkpoint)
        shown = {k: v for k, v in metrics.items() if isinstance(v, float | int)}
        log.info("epoch %s: %s", metrics.get(M.EPOCH), shown)


@dataclasses.dataclass(frozen=True)
class TrialResult:
    """The outcome of a trial: its status, epochs run and the final metrics."""

    status: str  # completed | diverged
    epochs_run: int
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "epochs_run": self.epochs_run, **self.metrics}


class Trial:
    """One trial, advanced an epoch at a time (`run_trial` loops; Tune's trainable steps it).

    Args:
        cfg: the trial's config.
        checkpoint_dir: where epoch checkpoints go (the last two and the best are kept).
        artifacts_dir: the trial's folder for overlays and plots (default: checkpoint_dir).
        resume_from: a checkpoint to continue from; by default the latest one in
            `checkpoint_dir`, if any.
        best_metric: the per-epoch metric that picks the best checkpoint.
        best_goal: which way it is better (maximize | minimize); by default the direction its
            definition states (`trial.metrics.DEFINITIONS`).
        progress: log images/s and the time left while an epoch trains.
    """

    def __init__(
        self,
        cfg: TrialConfig,
        *,
        checkpoint_dir: Path | str,
        artifacts_dir: Path | str | None = None,
        resume_from: Path | str | None = None,
        best_metric: str = M.VAL_CLEAN_ACC,
        best_goal: str | None = None,
        progress: bool = False,
    ) -> None:
        self.cfg = cfg
        self.best_goal = _best_goal(best_metric, best_goal)
        self.checkpoint_dir = Path(checkpoint_dir)
        self.artifacts_dir = Path(artifacts_dir) if artifacts_dir else self.checkpoint_dir
        self.best_metric, self.progress = best_metric, progress
        resume = Path(resume_from) if resume_from else C.latest(self.checkpoint_dir)
        if resume is not None:  # a checkpoint of another config fails before any work
            self._check_config(resume)
        configure_determinism(cfg)
        configure_precision(cfg)
        keras.utils.set_random_seed(cfg.seed)
        self.data = load(cfg.data)
        E.check_config(cfg, self.data.num_classes)  # fails before any training
        self.model = models.build(cfg.model, self.data.input_shape, self.data.num_classes)
        self.steps = self.data.train_size // cfg.train.batch_size  # Data: train_size >= 1
        if self.steps < 1:
            raise ValueError(
                f"train.batch_size={cfg.train.batch_size} exceeds data.train_size="
                f"{self.data.train_size}: no full batch to train on; lower the batch size"
            )
        self.optimizer = T.make_optimizer(cfg, self.steps)
        self.trainer = T.Trainer(self.model, self.optimizer, cfg)
        self.logits = T.logits_fn(self.model)
        self.val_batch = self.data.val.take(cfg.attack.val_examples)
        self.val_attack = E.validation_attack(cfg, self.model)
        self.learned_gazes = models.get(cfg.model.kind).learned_gazes
        self.state: dict[str, Any] = {
            "epoch": 0,
            "best_epoch": None,
            "best": None,
            "best_metric": best_metric,
            "history": [],
            "status": "running",
            "config": cfg.to_dict(),
        }
        self._evaluator: E.Evaluator | None = None
        self._stored_evaluation: Path | None = None  # finished units of a restored checkpoint
        if resume is not None:
            self.restore(resume)

    def variables(self) -> dict[str, Any]:
        """Everything a checkpoint holds (see `trial.checkpoint.named_variables`)."""
        return C.named_variables(
            self.model,
            self.optimizer,
            train_adversary=self.trainer.adversary,
            val_attack=self.val_attack,
        )

    def restore(self, path: Path | str) -> None:
        """Continues exactly from a checkpoint written by `step` for a config that trains the
        same way (only the keys in `trial.config.RESUME_MAY_CHANGE` may differ)."""
        path = Path(path)
        saved = self._check_config(path)
        C.restore(path, self.variables())
        self.state = {**saved, "config": self.cfg.to_dict()}
        self.state.setdefault("status", "running")
        if (path / "evaluation").is_dir():
            self._stored_evaluation = path / "evaluation"
        log.info("resumed from %s at epoch %d", path, self.state["epoch"])

    def _check_config(self, path: Path) -> dict[str, Any]:
        """The checkpoint's saved state, if its config trains like this trial's; else raises."""
        saved = C.read_state(path)
        wanted = self.cfg.to_dict()
        changed = training_changes(saved.get("config", {}), wanted)
        if changed:
            old = saved.get("config", {})
            diffs = ", ".join(f"{k}: {old.get(k)!r} -> {wanted.get(k)!r}" for k in changed)
            raise ValueError(
                f"checkpoint {path} was written for another config ({diffs}); a resumed trial "
                "must train as it started (a changed train.epochs would change the learning-rate "
                "schedule). Start in a fresh directory (python -m trial: --fresh or another "
                "--workdir)"
            )
        return saved

    @property
    def done(self) -> bool:
        """Diverged, or trained every epoch and evaluated."""
        if self.state["status"] == "diverged":
            return True
        return self.state["epoch"] >= self.cfg.train.epochs and self.state["status"] == "completed"

    @property
    def result(self) -> TrialResult:
        """The status and the final metrics: the last epoch's, updated with the evaluation's."""
        history = self.state["history"]
        metrics: dict[str, Any] = dict(history[-1]) if history else {}
        if metrics.get(M.PHASE) == M.EVALUATION and len(history) > 1:
            metrics = {**history[-2], **metrics}
        status = "diverged" if self.state["status"] == "diverged" else "completed"
        return TrialResult(status, self.state["epoch"], metrics)

    def step(self) -> tuple[dict[str, Any], Path | None]:
        """Trains and validates one epoch or, once every epoch is trained, runs one unit of the
        final evaluation (`_evaluation_step`).

        Returns:
            The step's metrics and the checkpoint written for it (None if training diverged).
        """
        if self.state["epoch"] >= self.cfg.train.epochs:
            return self._evaluation_step()
        self.state["status"] = "running"
        cfg, epoch = self.cfg, self.state["epoch"] + 1
        started = time.perf_counter()
        batches = self.data.train_batches(cfg.train.batch_size, cfg.seed + epoch, cfg.train.augment)
        progress = None
        if self.progress:
            total = self.steps * cfg.train.batch_size
            progress = EpochProgress(epoch, cfg.train.epochs, total)
        terms = self.trainer.train_epoch(batches, progress)
        loss = terms.pop("total")
        metrics: dict[str, Any] = {M.EPOCH: epoch, M.TRAIN_LOSS: loss}
        metrics.update({M.loss_key(k): v for k, v in sorted(terms.items())})
        if not math.isfinite(loss):
            metrics[M.STATUS] = self.state["status"] = "diverged"
            self.state["epoch"] = epoch
            self.state["history"].append(metrics)
            return metrics, None
        correct = [
            predict(self.logits, b.images) == b.labels
            for b in self.data.val.batches(cfg.attack.batch_size)
        ]
        metrics[M.VAL_CLEAN_ACC] = float(np.mean(np.concatenate(correct)))
        batch = self.val_batch
        adv = evaluate(self.logits, self.val_attack, batch.images, batch.labels, len(batch))
        metrics[M.VAL_ADV_ACC] = adv.adv_acc
        metrics.update(self.look(epoch))
        metrics[M.TIME_EPOCH] = time.perf_counter() - started
        metrics[SKIPPED] = self.data.skipped  # unreadable images left out of the data
        self._track_best(metrics, epoch)
        self.state["epoch"] = epoch
        self.state["history"].append(metrics)
        plot = plot_gaze_metrics(
            self.state["history"],
            self.artifacts_dir / "gaze_metrics.png",
            title=f"{cfg.model.kind}: gaze metrics on {len(batch)} validation images",
        )
        if plot is not None:
            metrics[M.ARTIFACT_GAZE_METRICS] = str(plot)
        path = C.save(self.checkpoint_dir, epoch, self.variables(), self.state)
        return metrics, path

    def _evaluation_step(self) -> tuple[dict[str, Any], Path]:
        """Runs the next unit of the final evaluation (the checks, or one test batch).

        Its finished units live in `evaluation/` inside the last epoch's checkpoint, which is the
        checkpoint every evaluation step returns: a Tune checkpoint of it (or a rerun of
        `python -m trial`) resumes the evaluation from them. The last step adds the final
        metrics and the status, and records both in that checkpoint's state.
        """
        started = time.perf_counter()
        epoch = self.state["epoch"]
        ckpt = C.latest(self.checkpoint_dir)
        if ckpt is None or C.read_state(ckpt).get("epoch") != epoch:  # restored elsewhere
            ckpt = C.save(self.checkpoint_dir, epoch, self.variables(), self.state)
        stored, self._stored_evaluation = self._stored_evaluation, None
        if stored is not None and stored.resolve() != (ckpt / "evaluation").resolve():
            shutil.copytree(stored, ckpt / "evaluation", dirs_exist_ok=True)
        if self._evaluator is None or self._evaluator.state_dir != ckpt / "evaluation":
            self._evaluator = E.Evaluator(
                self.cfg, self.model, self.data, state_dir=ckpt / "evaluation"
            )
        evaluator = self._evaluator
        evaluator.run_unit(evaluator.next_unit())
        metrics: dict[str, Any] = {
            M.EPOCH: epoch,
            M.PHASE: M.EVALUATION,
            M.EVAL_DONE: len(evaluator.done_units()),
            M.EVAL_TOTAL: evaluator.total,
            M.TIME_EVAL_STEP: time.perf_counter() - started,
        }
        if evaluator.finished:
            metrics.update(evaluator.result())
            metrics[M.STATUS] = self.state["status"] = "completed"
            self.state["history"].append(metrics)
            C.write_state(ckpt, self.state)
        return metrics, ckpt

    def look(self, epoch: int) -> dict[str, Any]:
        """Where the model looks on the fixed validation batch: the gaze metrics (learned gazes)
        and the epoch's overlay (any model with gazes or boxes)."""
        return look(
            self.model,
            self.val_batch,
            epoch=epoch,
            folder=self.artifacts_dir,
            learned=self.learned_gazes,
            title=f"{self.cfg.model.kind}, epoch {epoch}: gazes (dots) and boxes per slot",
            batch_size=self.cfg.attack.batch_size,
        )

    def _track_best(self, metrics: dict[str, Any], epoch: int) -> None:
        value = metrics.get(self.best_metric)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return
        best = self.state.get("best")
        if best is None or M.better(self.best_goal, value, best):
            self.state["best"], self.state["best_epoch"] = float(value), epoch


def _best_goal(metric: str, goal: str | None) -> str:
    """The direction that picks the best checkpoint: `goal`, else the metric's definition's."""
    found = M.definition(metric)
    if found is None or not found.per_epoch:
        raise ValueError(
            f"best checkpoint metric {metric!r} is not a per-epoch metric; use one of "
            f"{', '.join(k for k, d in M.DEFINITIONS.items() if d.per_epoch)}"
        )
    goal = goal or found.goal
    if goal not in M.GOALS:
        raise ValueError(
            f"best checkpoint metric {metric!r} has no direction of its own ({found.meaning}); "
            "say which way is better (maximize or minimize)"
        )
    return goal


def run_trial(
    cfg: TrialConfig,
    reporter: Reporter,
    *,
    checkpoint_dir: Path | str,
    artifacts_dir: Path | str | None = None,
    resume_from: Path | str | None = None,
    progress: bool = False,
) -> TrialResult:
    """Trains, attacks and reports one trial (a report per epoch, then per evaluation unit)."""
    trial = Trial(
        cfg,
        checkpoint_dir=checkpoint_dir,
        artifacts_dir=artifacts_dir,
        resume_from=resume_from,
        progress=progress,
    )
    while not trial.done:
        reporter.report(*trial.step())
    return trial.result

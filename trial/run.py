"""One trial: train a model, attack it, report. No Ray and no W&B in here.

`run_trial(cfg, reporter)` is a function of its config plus injected I/O: the reporter receives
one metrics dict per step (with the checkpoint written for it): one step per epoch, then the
final evaluation (`trial.evaluation`) as steps of its own, tagged `phase: "evaluation"` and
without per-epoch `val/` metrics (so a scheduler watching those ignores them); the last step
carries the final metrics and the status. Each evaluation step stores its finished unit inside the
last epoch's checkpoint, so an interrupted evaluation resumes from there. A diverged trial (NaN
loss) ends with status `diverged` instead of raising.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np
import tensorflow as tf

import models
from attacks import evaluate, predict
from trial import evaluation as E
from trial import metrics as M
from trial import train as T
from trial.config import TrialConfig
from trial.data import Split, load
from trial.evaluation import final_evaluation  # noqa: F401  (python -m trial --evaluate uses it)
from trial.gaze_metrics import gaze_metrics, stn_metrics

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


def configure_devices() -> list:
    """Lets TensorFlow grow GPU memory on demand, so trials sharing a GPU (fractional
    `resources.gpu`) do not each grab all of it. Ray sets CUDA_VISIBLE_DEVICES per trial."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # RuntimeError: already initialised in this process; keep its setting.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    return gpus


def configure_precision(cfg: TrialConfig) -> str:
    """Sets the Keras dtype policy; `auto` means mixed float16 only when a GPU is present.
    Logits stay float32 (every family's head is float32) and so do all losses."""
    wanted = cfg.train.mixed_precision
    on = wanted == "on" or (wanted == "auto" and bool(configure_devices()))
    policy = "mixed_float16" if on else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def attention_metrics(model, split: Split, batch_size: int = 256) -> dict[str, float]:
    """Gaze-collapse metrics of a model that predicts gazes, on a fixed batch of images."""
    outputs: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(split), batch_size):
        out = model(split.images[start : start + batch_size], training=False)
        for key in ("gazes", "theta", "boxes"):
            if key in out:
                outputs.setdefault(key, []).append(np.asarray(out[key]))
    arrays = {k: np.concatenate(v) for k, v in outputs.items()}
    metrics = gaze_metrics(arrays["gazes"], split.centres) if "gazes" in arrays else {}
    if "theta" in arrays and "boxes" in arrays:
        metrics.update(stn_metrics(arrays["theta"], arrays["boxes"]))
    return metrics


class Trial:
    """One trial, advanced an epoch at a time (`run_trial` loops; Tune's trainable steps it).

    Args:
        cfg: the trial's config.
        checkpoint_dir: where epoch checkpoints go (last two and the best are kept).
        resume_from: a checkpoint to continue from; by default the latest one in
            `checkpoint_dir`, if any.
    """

    def __init__(
        self,
        cfg: TrialConfig,
        *,
        checkpoint_dir: Path | str,
        resume_from: Path | str | None = None,
    ) -> None:
        self.cfg = cfg
        self.checkpoint_dir = Path(checkpoint_dir)
        keras.utils.set_random_seed(cfg.seed)
        configure_precision(cfg)
        self.data = load(cfg.data)
        E.check_config(cfg, self.data.num_classes)  # fails before any training
        self.model = models.build(cfg.model, self.data.input_shape, self.data.num_classes)
        steps = (self.data.train_size or 50_000) // cfg.train.batch_size
        if steps < 1:
            raise ValueError(
                f"train.batch_size={cfg.train.batch_size} exceeds data.train_size="
                f"{self.data.train_size}: no full batch to train on; lower the batch size"
            )
        self.optimizer = T.make_optimizer(cfg, steps)
        self.trainer = T.Trainer(self.model, self.optimizer, cfg)
        self.state: dict[str, Any] = {
            "epoch": 0,
            "best_epoch": None,
            "best": -1.0,
            "history": [],
            "status": "running",
            "config": cfg.to_dict(),
        }
        self._evaluator: E.Evaluator | None = None
        self._stored_evaluation: Path | None = None  # finished units of a restored checkpoint
        resume = Path(resume_from) if resume_from else T.latest_checkpoint(self.checkpoint_dir)
        if resume is not None:
            self.restore(resume)
        self.logits = T.logits_fn(self.model)
        self.val_batch = self.data.val.take(cfg.attack.val_examples)
        self.val_attack = E.validation_attack(cfg, self.model)
        self.learned_gazes = models.get(cfg.model.kind).learned_gazes

    def restore(self, path: Path | str) -> None:
        """Continues from a checkpoint written by `step` for the same config (more or fewer
        epochs are fine)."""
        saved = T.read_state(Path(path)).get("config", {})
        wanted = self.cfg.to_dict()
        changed = sorted(
            k
            for k in set(saved) | set(wanted)
            if k != "train.epochs" and saved.get(k) != wanted.get(k)
        )
        if changed:
            raise ValueError(
                f"checkpoint {path} was written for another config (differs in "
                f"{', '.join(changed)}); start in a fresh directory (python -m trial: --fresh or "
                "another --workdir)"
            )
        self.state = T.restore_checkpoint(Path(path), self.model, self.optimizer)
        self.state.setdefault("status", "running")
        self.state["config"] = wanted
        if (Path(path) / "evaluation").is_dir():
            self._stored_evaluation = Path(path) / "evaluation"
        log.info("resumed from %s at epoch %d", path, self.state["epoch"])

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
        loss = self.trainer.train_epoch(batches)
        metrics: dict[str, Any] = {M.EPOCH: epoch, M.TRAIN_LOSS: loss}
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
        if self.learned_gazes:
            metrics.update(attention_metrics(self.model, batch))
        metrics["time/epoch_s"] = time.perf_counter() - started
        if metrics[M.VAL_CLEAN_ACC] > self.state["best"]:
            self.state["best"], self.state["best_epoch"] = metrics[M.VAL_CLEAN_ACC], epoch
        self.state["epoch"] = epoch
        self.state["history"].append(metrics)
        path = T.save_checkpoint(self.checkpoint_dir, epoch, self.model, self.optimizer, self.state)
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
        ckpt = T.latest_checkpoint(self.checkpoint_dir)
        if ckpt is None or T.read_state(ckpt).get("epoch") != epoch:  # restored elsewhere
            ckpt = T.save_checkpoint(
                self.checkpoint_dir, epoch, self.model, self.optimizer, self.state
            )
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
            "time/eval_step_s": time.perf_counter() - started,
        }
        if evaluator.finished:
            metrics.update(evaluator.result())
            metrics[M.STATUS] = self.state["status"] = "completed"
            self.state["history"].append(metrics)
            state = json.dumps(self.state, indent=1)
            (ckpt / ".state.json.tmp").write_text(state)
            os.replace(ckpt / ".state.json.tmp", ckpt / "state.json")
        return metrics, ckpt


def run_trial(
    cfg: TrialConfig,
    reporter: Reporter,
    *,
    checkpoint_dir: Path | str,
    resume_from: Path | str | None = None,
) -> TrialResult:
    """Trains, attacks and reports one trial (a report per epoch, then per evaluation unit)."""
    trial = Trial(cfg, checkpoint_dir=checkpoint_dir, resume_from=resume_from)
    while not trial.done:
        reporter.report(*trial.step())
    return trial.result

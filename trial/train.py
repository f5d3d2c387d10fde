"""The compiled training loop: optimiser and schedule, one train step, checkpoints.

`train_step` is one `tf.function`: optional PGD adversarial examples, the forward pass, the
float32 cross-entropy on logits (plus the sum of per-scale cross-entropies when the model has
auxiliary heads) plus any losses the model adds (e.g. a gaze prior), and the update.
Checkpoints hold the model weights, the optimiser state and the trial's history; the directory
keeps the last two epochs and the best one.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from attacks import PGD, Target, ThreatModel
from trial.config import TrialConfig

KEEP_LAST = 2


def make_optimizer(cfg: TrialConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimiser with its learning-rate schedule (loss-scaled under mixed precision)."""
    train = cfg.train
    lr: Any = train.learning_rate
    if train.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=train.epochs * steps_per_epoch)
    decay = train.weight_decay or None
    if train.optimizer == "adam":
        opt = keras.optimizers.AdamW(lr, weight_decay=decay) if decay else keras.optimizers.Adam(lr)
    else:
        opt = keras.optimizers.SGD(lr, momentum=0.9, weight_decay=decay)
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


def cross_entropy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Mean softmax cross-entropy, always computed in float32."""
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=tf.cast(logits, tf.float32)
        )
    )


def logits_fn(model: keras.Model):
    """Inference-mode logits in float32 (what attacks and evaluation call)."""

    def call(x):
        return tf.cast(model(x, training=False)["logits"], tf.float32)

    return call


class TrainingAdversary:
    """PGD at the study's norm and ε against the very forward pass the loss is about to take.

    The attack calls the model in training mode through `stateless_call` on the current
    variable values: batch-norm uses the batch's statistics (and no moving average is updated),
    and every random layer (the fixation families' training gazes and crops) reads the same
    seed-generator state as the loss's forward pass that follows, so the adversary attacks the
    same random draw the model is trained on, not the inference-mode centre gaze.
    """

    def __init__(self, model: keras.Model, cfg: TrialConfig) -> None:
        self.model = model
        threat = ThreatModel(cfg.attack.norm, cfg.attack.eps)
        scale = 2.0**12 if keras.mixed_precision.global_policy().name == "mixed_float16" else 1.0
        target = Target(self._logits, loss_scale=scale)  # float16 input gradients underflow
        self.pgd = PGD(target, threat, steps=cfg.train.adv_steps, seed=cfg.seed, early_exit=False)

    def _logits(self, x: tf.Tensor) -> tf.Tensor:
        model = self.model
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        outputs, _ = model.stateless_call(trainable, non_trainable, x, training=True)
        return tf.cast(outputs["logits"], tf.float32)

    def __call__(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        """Adversarial images for the train step (traced inside it); no gradient flows back."""
        return tf.stop_gradient(self.pgd.perturb(images, labels))


class Trainer:
    """Owns the compiled train step of one model."""

    def __init__(self, model: keras.Model, optimizer, cfg: TrialConfig) -> None:
        self.model = model
        self.optimizer = optimizer
        self.adversary = TrainingAdversary(model, cfg) if cfg.train.adversarial else None
        self.step = tf.function(self._step, reduce_retracing=True)

    def _step(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        if self.adversary is not None:
            images = self.adversary(images, labels)
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.model(images, training=True)
            loss = cross_entropy(outputs["logits"], labels)
            if "aux_logits" in outputs:  # (B, S, classes): one auxiliary head per scale
                aux = tf.cast(outputs["aux_logits"], tf.float32)
                scales = tf.shape(aux)[1]
                loss += tf.cast(scales, tf.float32) * cross_entropy(
                    tf.reshape(aux, [-1, tf.shape(aux)[-1]]), tf.repeat(labels, scales)
                )
            if self.model.losses:
                loss += tf.add_n([tf.cast(x, tf.float32) for x in self.model.losses])
            scaled = (
                self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
            )
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply(grads, variables)
        return loss

    def train_epoch(self, batches: tf.data.Dataset) -> float:
        """Runs one epoch; returns the mean loss (NaN if training diverged)."""
        total, count = 0.0, 0
        for images, labels in batches:
            loss = float(self.step(images, labels))
            if not math.isfinite(loss):
                return float("nan")
            total += loss
            count += 1
        return total / max(count, 1)


# ---------------------------------------------------------------------------- checkpoints


def save_checkpoint(root: Path, epoch: int, model, optimizer, state: dict[str, Any]) -> Path:
    """Writes `root/epoch_XXXX/` and prunes to the last KEEP_LAST epochs plus the best one."""
    path = root / f"epoch_{epoch:04d}"
    tmp = root / f".tmp_epoch_{epoch:04d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_weights(tmp / "model.weights.h5")
    np.savez(tmp / "optimizer.npz", *[v.numpy() for v in optimizer.variables])
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)  # atomic: a crash never leaves a half-written epoch directory
    _prune(root, best_epoch=state.get("best_epoch"))
    return path


def _prune(root: Path, best_epoch: int | None) -> None:
    epochs = sorted(root.glob("epoch_*"))
    keep = set(epochs[-KEEP_LAST:])
    if best_epoch is not None:
        keep.add(root / f"epoch_{best_epoch:04d}")
    for path in epochs:
        if path not in keep:
            shutil.rmtree(path, ignore_errors=True)


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete epoch directory under `root`, if any."""
    done = [p for p in sorted(root.glob("epoch_*")) if (p / "state.json").exists()]
    return done[-1] if done else None


def read_state(path: Path) -> dict[str, Any]:
    """The trial state saved with a checkpoint (epoch, history, config, ...)."""
    return json.loads((path / "state.json").read_text())


def restore_checkpoint(path: Path, model, optimizer) -> dict[str, Any]:
    """Loads weights and optimiser state from `path`; returns the saved trial state."""
    model.load_weights(path / "model.weights.h5")
    optimizer.build(model.trainable_variables)
    with np.load(path / "optimizer.npz") as saved:
        values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    if len(values) != len(optimizer.variables):
        raise RuntimeError(
            f"checkpoint {path} holds {len(values)} optimiser variables but this optimiser has "
            f"{len(optimizer.variables)}: the config changed since it was written; "
            "start the trial in a fresh directory"
        )
    for var, value in zip(optimizer.variables, values, strict=True):
        var.assign(value)
    return read_state(path)

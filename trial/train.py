"""The compiled training loop: optimiser with learning-rate groups, schedule, named loss terms.

`Trainer.step` is one `tf.function`: optional PGD adversarial examples, the forward pass, the
loss as named float32 terms, and the update. The terms are `ce` (cross-entropy on the logits),
`aux` (the per-scale heads' cross-entropies, for models with auxiliary heads) and one term per
name that a layer adding a loss declares in its `loss_name` attribute (e.g. `gaze_l2`, the gaze
prior); anything a model adds without a name is `other`. The epoch reports each term's mean as
`train/loss/<term>` and their sum as `train/loss`.

Learning-rate groups: a layer (or sub-model) with a `param_group` attribute puts its weights in
that group, and `train.<group>_lr_mult` scales the group's learning rate (LR_GROUPS lists the
groups; a new one is a config field plus a line there). One optimiser holds every slot, so loss
scaling and checkpoints see one optimiser.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from attacks import PGD, Target, ThreatModel
from trial.config import TrialConfig

LR_GROUPS = {"localiser": "localiser_lr_mult"}  # param_group -> TrainConfig field
OPTIMIZER_NAME = "optimizer"  # fixed, so checkpointed slot names do not depend on the process


class _GroupLearningRates:
    """Optimiser mixin: scales the learning rate of some variables by a per-variable factor.

    `update_step(gradient, variable, learning_rate)` is where every Keras optimiser applies its
    rule for one variable; scaling its learning rate there gives Adam, AdamW and SGD alike a true
    per-group learning rate (scaling the gradient would not: Adam is invariant to it).
    """

    _lr_factors: dict[int, float]

    def set_lr_factors(self, factors: dict[str, float]) -> None:
        """Sets factor per variable path; the optimiser must be built."""
        self._lr_factors = {
            i: factors[v.path]
            for i, v in enumerate(self._trainable_variables)
            if factors.get(v.path, 1.0) != 1.0
        }

    def update_step(self, gradient, variable, learning_rate):
        factor = getattr(self, "_lr_factors", {}).get(self._get_variable_index(variable))
        if factor is not None:
            learning_rate = learning_rate * factor
        return super().update_step(gradient, variable, learning_rate)


def _grouped(cls: type) -> type:
    return type(f"Grouped{cls.__name__}", (_GroupLearningRates, cls), {})


GroupedAdam, GroupedAdamW, GroupedSGD = (
    _grouped(c) for c in (keras.optimizers.Adam, keras.optimizers.AdamW, keras.optimizers.SGD)
)


def make_optimizer(cfg: TrialConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimiser with its learning-rate schedule (loss-scaled under mixed precision)."""
    train = cfg.train
    lr: Any = train.learning_rate
    if train.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=train.epochs * steps_per_epoch)
    decay = train.weight_decay or None
    if train.optimizer == "adam":
        opt = (
            GroupedAdamW(lr, weight_decay=decay, name=OPTIMIZER_NAME)
            if decay
            else GroupedAdam(lr, name=OPTIMIZER_NAME)
        )
    else:
        opt = GroupedSGD(lr, momentum=0.9, weight_decay=decay, name=OPTIMIZER_NAME)
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt, name="loss_scale")
    return opt


def param_groups(model: keras.Model) -> dict[str, list]:
    """Trainable variables per learning-rate group (outermost `param_group` declaration wins)."""
    groups: dict[str, list] = {}
    seen: set[int] = set()

    def walk(layer) -> None:
        for sub in getattr(layer, "layers", None) or []:
            group = getattr(sub, "param_group", None)
            if group is None:
                walk(sub)
                continue
            for var in sub.trainable_variables:
                if id(var) not in seen:
                    seen.add(id(var))
                    groups.setdefault(group, []).append(var)

    walk(model)
    return groups


def build_optimizer(optimizer, model: keras.Model, cfg: TrialConfig) -> None:
    """Creates the optimiser's slots for `model` and applies the groups' learning rates."""
    optimizer.build(model.trainable_variables)
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    factors = {}
    for group, variables in param_groups(model).items():
        if group not in LR_GROUPS:
            raise ValueError(
                f"a layer declares param_group={group!r}, which has no learning-rate field; "
                f"known groups: {', '.join(LR_GROUPS)} (add it to trial.train.LR_GROUPS)"
            )
        factor = float(getattr(cfg.train, LR_GROUPS[group]))
        factors.update({v.path: factor for v in variables})
    inner.set_lr_factors(factors)


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


def loss_layers(model: keras.Model) -> list:
    """The layers that declare a `loss_name` for the losses they add."""
    found = []

    def walk(layer) -> None:
        for sub in getattr(layer, "layers", None) or []:
            if getattr(sub, "loss_name", None):
                found.append(sub)
            walk(sub)

    walk(model)
    return found


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
    """Owns the compiled train step of one model.

    Args:
        model: the Keras model (outputs a dict with float32 `logits`).
        optimizer: from `make_optimizer`; built here (with its learning-rate groups).
        cfg: the trial's config.
    """

    def __init__(self, model: keras.Model, optimizer, cfg: TrialConfig) -> None:
        self.model = model
        self.optimizer = optimizer
        build_optimizer(optimizer, model, cfg)
        self.adversary = TrainingAdversary(model, cfg) if cfg.train.adversarial else None
        self.loss_layers = loss_layers(model)
        self.step = tf.function(self._step, reduce_retracing=True)

    def loss_terms(self, outputs: dict[str, tf.Tensor], labels: tf.Tensor) -> dict[str, tf.Tensor]:
        """The loss of one forward pass as named float32 terms (see the module docstring)."""
        terms = {"ce": cross_entropy(outputs["logits"], labels)}
        if "aux_logits" in outputs:  # (B, S, classes): one auxiliary head per scale
            aux = tf.cast(outputs["aux_logits"], tf.float32)
            scales = tf.shape(aux)[1]
            terms["aux"] = tf.cast(scales, tf.float32) * cross_entropy(
                tf.reshape(aux, [-1, tf.shape(aux)[-1]]), tf.repeat(labels, scales)
            )
        owner = {}
        for layer in self.loss_layers:
            terms.setdefault(layer.loss_name, tf.zeros([], tf.float32))
            owner.update({id(loss): layer.loss_name for loss in layer.losses})
        for loss in self.model.losses:
            name = owner.get(id(loss), "other")
            terms[name] = terms.get(name, 0.0) + tf.cast(loss, tf.float32)
        return terms

    def _step(self, images: tf.Tensor, labels: tf.Tensor) -> dict[str, tf.Tensor]:
        if self.adversary is not None:
            images = self.adversary(images, labels)
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.model(images, training=True)
            terms = self.loss_terms(outputs, labels)
            loss = tf.add_n(list(terms.values()))
            scaled = (
                self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
            )
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply(grads, variables)
        return {"total": loss, **terms}

    def train_epoch(
        self, batches: tf.data.Dataset, on_batch: Callable[[int, float], None] | None = None
    ) -> dict[str, float]:
        """Runs one epoch.

        Args:
            batches: the epoch's (images, labels) batches.
            on_batch: called after every batch with the images seen so far and the running
                mean loss (progress output).

        Returns:
            The mean of every loss term over the epoch, and `total`; `total` is NaN (and the
            epoch stops) as soon as a batch's loss is not finite.
        """
        sums: dict[str, float] = {}
        count = seen = 0
        for images, labels in batches:
            terms = {k: float(v) for k, v in self.step(images, labels).items()}
            if not math.isfinite(terms["total"]):
                return {**terms, "total": float("nan")}
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
            seen += int(images.shape[0])
            if on_batch is not None:
                on_batch(seen, sums["total"] / count)
        return {key: value / max(count, 1) for key, value in sums.items()} or {"total": 0.0}

"""Every registered family trains a step through the project's compiled train step."""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from trial import train as T
from trial.config import TrialConfig


@pytest.mark.parametrize("kind", models.names())
def test_training_steps_change_every_weight(kind):
    cfg = TrialConfig(model=models.get(kind).config_cls.tiny())
    model = models.build(cfg.model, (32, 32, 3), 10)
    trainer = T.Trainer(model, T.make_optimizer(cfg, steps_per_epoch=10), cfg)
    before = [v.numpy().copy() for v in model.trainable_variables]
    x = tf.random.uniform((4, 32, 32, 3))
    y = tf.constant([0, 1, 2, 3])
    # Two steps: gaze/θ heads start with a zero kernel (as in the original), so the localiser
    # behind them gets its first non-zero gradient only once that kernel has moved.
    losses = [float(trainer.step(x, y)["total"]) for _ in range(2)]
    assert all(math.isfinite(loss) and loss > 0 for loss in losses)
    changed = [
        not np.array_equal(a, v.numpy())
        for a, v in zip(before, model.trainable_variables, strict=True)
    ]
    assert all(changed), [
        v.path for v, c in zip(model.trainable_variables, changed, strict=True) if not c
    ]


def test_cross_entropy_is_the_mean_negative_log_likelihood():
    logits = tf.constant([[2.0, 0.0], [0.0, 1.0]])
    labels = tf.constant([0, 1])
    expected = np.mean([math.log(1 + math.exp(-2.0)), math.log(1 + math.exp(-1.0))])
    assert float(T.cross_entropy(logits, labels)) == pytest.approx(expected, rel=1e-6)


def _nll(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example negative log-likelihood, written out in NumPy."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


def test_auxiliary_heads_add_their_cross_entropies():
    rng = np.random.default_rng(0)
    batch, heads, classes = 3, 4, 5
    logits = rng.normal(size=(batch, classes)).astype(np.float32)
    aux = rng.normal(size=(batch, heads, classes)).astype(np.float32) * 3  # every head differs
    labels = np.array([4, 0, 2])  # every example differs: a head scored on another's label fails
    trainer = T.Trainer.__new__(T.Trainer)  # loss_terms needs no model beyond its added losses
    trainer.loss_layers, trainer.model = [], type("NoLosses", (), {"losses": []})()
    outputs = {"logits": tf.constant(logits), "aux_logits": tf.constant(aux)}
    terms = trainer.loss_terms(outputs, tf.constant(labels))
    assert set(terms) == {"ce", "aux"}
    assert float(terms["ce"]) == pytest.approx(_nll(logits, labels).mean(), rel=1e-5)
    # Each head's cross-entropy with the example's own label, added over the heads.
    per_head = [_nll(aux[:, h], labels).mean() for h in range(heads)]
    assert float(terms["aux"]) == pytest.approx(sum(per_head), rel=1e-5)
    assert float(terms["aux"]) != pytest.approx(np.mean(per_head), rel=1e-3), "not their mean"


def test_the_loss_reports_its_named_terms():
    cfg = TrialConfig(
        model=dataclasses.replace(models.get("multi_gaze").config_cls.tiny(), gaze_l2=0.5)
    )
    model = models.build(cfg.model, (32, 32, 3), 10)
    trainer = T.Trainer(model, T.make_optimizer(cfg, steps_per_epoch=10), cfg)
    x, y = tf.random.uniform((4, 32, 32, 3)), tf.constant([0, 1, 2, 3])
    gazes = model(x, training=True)["gazes"].numpy()  # the zero-kernel head: same as in the step
    terms = trainer.step(x, y)
    assert set(terms) == {"total", "ce", "gaze_l2"}
    assert float(terms["gaze_l2"]) == pytest.approx(0.5 * np.mean(np.sum(gazes**2, axis=(1, 2))))
    assert float(terms["total"]) == pytest.approx(float(terms["ce"] + terms["gaze_l2"]))
    aux = TrialConfig(model=models.get("cortical").config_cls.tiny())
    aux_model = models.build(aux.model, (32, 32, 3), 10)
    aux_terms = T.Trainer(aux_model, T.make_optimizer(aux, 10), aux).step(x, y)
    assert set(aux_terms) == {"total", "ce", "aux"} and float(aux_terms["aux"]) > 0


def test_the_localiser_learning_rate_multiplier_scales_its_step_exactly():
    def first_step(mult: float) -> dict[str, np.ndarray]:
        keras.utils.set_random_seed(0)
        cfg = TrialConfig.from_dict(
            {
                **{
                    f"model.{k}": v
                    for k, v in dataclasses.asdict(
                        models.get("parallel_transformers").config_cls.tiny()
                    ).items()
                },
                "train.optimizer": "sgd",
                "train.lr_schedule": "constant",
                "train.learning_rate": 0.01,
                "train.localiser_lr_mult": mult,
            }
        )
        model = models.build(cfg.model, (32, 32, 3), 10)
        trainer = T.Trainer(model, T.make_optimizer(cfg, 10), cfg)
        before = {v.path: v.numpy().copy() for v in model.trainable_variables}
        trainer.step(tf.ones((2, 32, 32, 3)) * 0.5, tf.constant([1, 2]))
        return {v.path: v.numpy() - before[v.path] for v in model.trainable_variables}, {
            v.path for v in T.param_groups(model)["localiser"]
        }

    base, group = first_step(1.0)
    doubled, _ = first_step(2.0)
    frozen, _ = first_step(0.0)
    assert group and all(p.startswith(("localiser_", "theta/")) for p in group), group
    assert any(p.startswith("theta/") for p in group), "the θ head belongs to the localiser"
    moved = [p for p in group if np.abs(base[p]).max() > 0]
    assert moved, "the localiser group did not move at all"
    for path in group:
        np.testing.assert_allclose(doubled[path], 2 * base[path], rtol=1e-4, atol=1e-9)
        assert not frozen[path].any(), path
    for path in set(base) - group:  # the rest trains at the base rate whatever the multiplier
        np.testing.assert_allclose(doubled[path], base[path], rtol=1e-4, atol=1e-9)

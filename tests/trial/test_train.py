"""Every registered family trains a step through the project's compiled train step."""

from __future__ import annotations

import math

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
    losses = [float(trainer.step(x, y)) for _ in range(2)]
    assert all(math.isfinite(loss) and loss > 0 for loss in losses)
    changed = [
        not np.array_equal(a, v.numpy())
        for a, v in zip(before, model.trainable_variables, strict=True)
    ]
    assert all(changed), [
        v.path for v, c in zip(model.trainable_variables, changed, strict=True) if not c
    ]


def test_auxiliary_heads_add_their_cross_entropies():
    logits = tf.constant([[2.0, 0.0], [0.0, 1.0]])
    labels = tf.constant([0, 1])
    expected = np.mean([math.log(1 + math.exp(-2.0)), math.log(1 + math.exp(-1.0))])
    assert float(T.cross_entropy(logits, labels)) == pytest.approx(expected, rel=1e-6)

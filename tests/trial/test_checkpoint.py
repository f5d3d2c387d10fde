"""Checkpoints: stable names (random states included), atomic epochs, best/last lookup."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from attacks import LinfPGD
from trial import checkpoint as C
from trial import train as T
from trial.config import TrialConfig


def _trainer(kind: str) -> T.Trainer:
    cfg = TrialConfig(model=models.get(kind).config_cls.tiny())
    model = models.build(cfg.model, (16, 16, 1), 10)
    return T.Trainer(model, T.make_optimizer(cfg, 4), cfg)


def test_names_do_not_depend_on_what_the_process_built_before():
    first, second = _trainer("coarse_fixations"), _trainer("coarse_fixations")
    # Keras numbers SeedGenerator variables per process (seed_generator_7/...), and optimisers
    # too unless named; checkpoint names must not follow.
    seeds = [v.path for t in (first, second) for v in t.model.variables if "seed" in v.path]
    assert len(set(seeds)) == 2
    names = [set(C.named_variables(t.model, t.optimizer)) for t in (first, second)]
    assert names[0] == names[1]
    assert "rng/model/gazes/_seeds" in names[0]
    assert any(n.startswith("optimizer/optimizer/") for n in names[0])


def test_generators_are_found_on_the_objects_that_own_them():
    attack = LinfPGD(lambda x: x, eps=0.1, steps=1, seed=3)
    suite = {"pgd": attack, "nested": [LinfPGD(lambda x: x, eps=0.1, steps=1)]}
    found = C.named_variables(keras.Sequential([keras.Input((2,))]), val=attack, suite=suite)
    assert set(found) == {"rng/val/_rng", "rng/suite/pgd/_rng", "rng/suite/nested/0/_rng"}


def test_restore_brings_back_weights_slots_and_random_states(tmp_path):
    trainer = _trainer("coarse_fixations")
    x, y = tf.random.uniform((4, 16, 16, 1)), tf.constant([0, 1, 2, 3])
    trainer.step(x, y)
    saved = C.named_variables(trainer.model, trainer.optimizer)
    path = C.save(tmp_path, 1, saved, {"epoch": 1, "best_epoch": 1})
    expected = {n: v.numpy().copy() for n, v in saved.items()}
    trainer.step(x, y)  # moves weights, slots, the iteration count and the gaze generator
    C.restore(path, saved)
    for name, var in saved.items():
        np.testing.assert_array_equal(var.numpy(), expected[name], err_msg=name)


def test_a_directory_keeps_the_last_two_and_the_best_epoch(tmp_path):
    var = {"model/x": tf.Variable([1.0])}
    for epoch in range(1, 6):
        C.save(tmp_path, epoch, var, {"epoch": epoch, "best_epoch": 2})
    (tmp_path / ".tmp_epoch_0006").mkdir()  # an interrupted write is never a checkpoint
    assert [p.name for p in C.complete(tmp_path)] == ["epoch_0002", "epoch_0004", "epoch_0005"]
    assert C.find(tmp_path, "last").name == "epoch_0005"
    assert C.find(tmp_path, "best").name == "epoch_0002"
    assert C.find(tmp_path / "epoch_0004") == tmp_path / "epoch_0004"


def test_find_explains_what_it_expected(tmp_path):
    with pytest.raises(ValueError, match="holds no checkpoint: expected .*checkpoints/epoch_XXXX"):
        C.find(tmp_path)
    with pytest.raises(ValueError, match="not one of best, last"):
        C.find(tmp_path, "first")
    var = {"model/x": tf.Variable([1.0])}
    for epoch in (1, 2, 3):
        C.save(tmp_path / "checkpoints", epoch, var, {"epoch": epoch, "best_epoch": 3})
    state = json.loads((tmp_path / "checkpoints/epoch_0003" / C.STATE).read_text())
    state["best_epoch"] = 1  # pruned already: the best must be named, not silently replaced
    (tmp_path / "checkpoints/epoch_0003" / C.STATE).write_text(json.dumps(state))
    with pytest.raises(ValueError, match="epoch 1.*is not stored.*--checkpoint last"):
        C.find(tmp_path, "best")

"""Inert fields: what a family declares changes nothing really changes nothing.

The sweeper runs configs with the same `canonical()` form once, so every declaration here must
be true of the built models: same initial gazes, same weights, same outputs.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

import models
from models.gaze import initial_points

SHAPE = (16, 16, 3)


@pytest.mark.parametrize("kind", models.names())
def test_canonical_is_idempotent_and_keeps_the_family(kind):
    cfg = models.get(kind).config_cls.tiny()
    canon = cfg.canonical()
    assert type(canon) is type(cfg) and canon.canonical() == canon


@pytest.mark.parametrize("kind", ["multi_gaze", "parallel_transformers", "soft_attention"])
def test_one_gaze_makes_grid_the_centre(kind):
    base = models.get(kind).config_cls.tiny()
    one = {"num_transformers": 1} if hasattr(base, "num_transformers") else {}
    grid = dataclasses.replace(base, gaze_init="grid", **one)
    assert grid.canonical().gaze_init == "centre"
    np.testing.assert_array_equal(initial_points(1, "grid"), initial_points(1, "centre"))
    keras.utils.set_random_seed(0)
    a = models.build(grid, SHAPE, 10)
    keras.utils.set_random_seed(0)
    b = models.build(dataclasses.replace(grid, gaze_init="centre"), SHAPE, 10)
    x = np.random.default_rng(0).uniform(size=(2, *SHAPE)).astype("float32")
    for key, value in a(x).items():
        np.testing.assert_allclose(value, b(x)[key], atol=1e-6, err_msg=key)


@pytest.mark.parametrize("kind", ["multi_gaze", "parallel_transformers"])
def test_one_branch_makes_sharing_moot(kind):
    one = dataclasses.replace(models.get(kind).config_cls.tiny(), num_transformers=1)
    shared, separate = (dataclasses.replace(one, shared=s) for s in (True, False))
    assert shared.canonical() == separate.canonical() and not shared.canonical().shared
    a, b = models.build(shared, SHAPE, 10), models.build(separate, SHAPE, 10)
    assert a.count_params() == b.count_params()
    b.set_weights(a.get_weights())  # same layers in the same order: one trunk either way
    x = np.random.default_rng(1).uniform(size=(2, *SHAPE)).astype("float32")
    np.testing.assert_allclose(a(x)["logits"], b(x)["logits"], atol=1e-5)


@pytest.mark.parametrize("kind", ["multi_gaze", "parallel_transformers"])
def test_several_branches_keep_sharing_and_grid(kind):
    cfg = dataclasses.replace(
        models.get(kind).config_cls.tiny(), num_transformers=3, shared=True, gaze_init="grid"
    )
    assert cfg.canonical() == cfg
    assert not np.allclose(initial_points(3, "grid"), initial_points(3, "centre"))


def test_the_seed_only_matters_for_random_init():
    cfg = models.get("multi_gaze").config_cls.tiny()
    assert dataclasses.replace(cfg, seed=5).canonical() == cfg.canonical()
    rand = dataclasses.replace(cfg, gaze_init="random")
    assert dataclasses.replace(rand, seed=5).canonical() != rand.canonical()
    assert not np.allclose(initial_points(2, "random", 0), initial_points(2, "random", 5))

"""The registry is strict and every family builds, runs and round-trips in its tiny variant."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models import registry

FAMILIES = models.names()
SHAPE = (32, 32, 3)


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(ValueError, match="known kinds: .*resnet"):
        models.get("no_such_model")


def test_registering_a_name_twice_fails():
    family = models.get("resnet")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("resnet", family.config_cls, summary="dup")(family.build)


def test_config_without_tiny_is_rejected():
    @dataclasses.dataclass(frozen=True)
    class NoTiny:
        kind: str = "x"

    with pytest.raises(TypeError, match="tiny"):
        registry.register("x", NoTiny, summary="x")


def test_names_filters_with_patterns():
    assert "resnet" in models.names("res*")
    assert models.names("zzz*") == []


@pytest.mark.parametrize("kind", FAMILIES)
def test_tiny_forward_backward(kind):
    cfg = models.get(kind).config_cls.tiny()
    model = models.build(cfg, SHAPE, 10)
    x = tf.random.uniform((2, *SHAPE))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = model(x, training=False)
        loss = tf.reduce_sum(out["logits"] ** 2)
    assert out["logits"].shape == (2, 10)
    assert out["logits"].dtype == tf.float32
    grad = tape.gradient(loss, x).numpy()
    assert np.isfinite(grad).all()
    assert np.abs(grad).sum() > 0, "input gradient vanished"
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = tf.add_n([tf.reduce_sum(v) for k, v in out.items() if k.endswith("logits")])
    grads = tape.gradient(loss, model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads, strict=True) if g is None]
    assert not missing, f"variables that get no gradient: {missing}"


@pytest.mark.parametrize("kind", FAMILIES)
def test_keras_save_load_round_trip(kind, tmp_path):
    cfg = models.get(kind).config_cls.tiny()
    model = models.build(cfg, SHAPE, 10)
    x = tf.random.uniform((2, *SHAPE))
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for key, value in model(x, training=False).items():
        np.testing.assert_allclose(loaded(x, training=False)[key], value, rtol=1e-5, atol=1e-6)

"""Test setup: CPU only, quiet TensorFlow, seeded RNGs, and small shared fixtures."""

from __future__ import annotations

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""  # tests never touch a GPU, even where there is one
os.environ.setdefault("WANDB_SILENT", "true")

import keras
import numpy as np
import pytest


def pytest_collection_modifyitems(config, items):
    """`gpu` tests are skipped unless TensorFlow sees a GPU (make test deselects them)."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def tiny_trial_dict() -> dict:
    """A trial small enough to train in a few seconds on CPU."""
    return {
        "model.kind": "resnet",
        "model.backbone": "resnet20",
        "model.width": 8,
        "model.blocks": 1,
        "data.image_size": 16,
        "data.digit_size": 10,
        "data.clutter": 1,
        "data.train_size": 256,
        "data.val_size": 64,
        "data.test_size": 32,
        "train.epochs": 2,
        "train.batch_size": 32,
        "attack.budget": "smoke",
        "attack.val_examples": 32,
        "attack.batch_size": 32,
        "attack.eps": 0.1,
    }


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)

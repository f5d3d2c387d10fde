"""Test setup: GPUs hidden for the CPU suite, quiet TensorFlow, seeded RNGs, small fixtures.

The CPU suite (`make test`: `-m "not gpu"`, or no `-m`) hides every GPU before TensorFlow starts,
so tests behave the same on a GPU machine. `pytest -m gpu` on a machine with a GPU leaves the GPUs
visible and runs the `gpu` tests; without a GPU they are skipped with the reason.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("WANDB_SILENT", "true")


def gpu_selected(markexpr: str) -> bool:
    """Whether a `-m` expression selects tests marked `gpu` (and nothing else): `gpu` or
    `gpu or slow` do, `not gpu` and an empty expression (the CPU suite) do not."""
    if not markexpr.strip():
        return False
    from _pytest.mark.expression import Expression

    return Expression.compile(markexpr).evaluate(lambda name: name == "gpu")


def pytest_configure(config):
    """Runs before any test module imports TensorFlow (this module imports neither TF nor
    Keras at the top), so hiding the GPUs here takes effect."""
    if not gpu_selected(config.getoption("markexpr", "") or ""):
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    # ART (the attack tests' oracle) reconfigures logging when first imported: it shuts down
    # every existing handler, which closes the capture stream of whatever test imports it first
    # (pytest then fails that test and loses stderr). Imported here, it does so before any test.
    import art  # noqa: F401


def pytest_collection_modifyitems(config, items):
    """`gpu` tests run only when asked for (`-m gpu`) on a machine where TensorFlow sees a GPU."""
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    if not gpu_selected(config.getoption("markexpr", "") or ""):
        reason = "GPU test: run with -m gpu (the CPU suite hides GPUs)"
    else:
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return
        reason = "needs a CUDA GPU: TensorFlow sees none"
    for item in gpu_items:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _seeded():
    import keras

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

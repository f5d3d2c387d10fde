"""Process-wide TensorFlow settings a trial needs before it builds anything.

GPU memory grows on demand (trials sharing a GPU through fractional `resources.gpu` must not each
grab all of it); mixed float16 is on with a GPU when `train.mixed_precision` is `auto`, while
logits and losses stay float32; `train.deterministic` turns on TF op determinism. All three are
global to the process and must run before TensorFlow initialises its devices.
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from trial.config import TrialConfig


def configure_devices() -> list:
    """Lets TensorFlow grow GPU memory on demand; returns the visible GPUs. Ray sets
    CUDA_VISIBLE_DEVICES per trial."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # RuntimeError: devices already initialised in this process; keep their setting.
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


def configure_determinism(cfg: TrialConfig) -> bool:
    """Turns TF op determinism on for `train.deterministic` (irreversible for the process: every
    later trial in it runs deterministically, and slower)."""
    if cfg.train.deterministic:
        tf.config.experimental.enable_op_determinism()
    return cfg.train.deterministic

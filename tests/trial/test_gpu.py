"""On a GPU: mixed precision turns on by itself, logits and losses stay float32."""

from __future__ import annotations

import pytest
import tensorflow as tf

import models
from trial.config import TrialConfig
from trial.run import ListReporter, configure_precision, run_trial


@pytest.mark.gpu
def test_mixed_precision_on_gpu_keeps_float32_logits(tiny_trial_dict, tmp_path):
    cfg = TrialConfig.from_dict(tiny_trial_dict)
    assert configure_precision(cfg) == "mixed_float16"
    model = models.build(cfg.model, (16, 16, 1), 10)
    with tf.device("/GPU:0"):
        out = model(tf.zeros((2, 16, 16, 1)))
    assert out["logits"].dtype == tf.float32
    result = run_trial(cfg, ListReporter(), checkpoint_dir=tmp_path)
    assert result.status == "completed"


def test_auto_precision_is_float32_without_a_gpu(tiny_trial_dict):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU; the gpu test covers it")
    assert configure_precision(TrialConfig.from_dict(tiny_trial_dict)) == "float32"

"""GPU path: mixed precision with float32 logits and losses, memory growth (`pytest -m gpu`), and
the CPU suite hiding GPUs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tensorflow as tf

from tests.conftest import gpu_selected
from trial.config import TrialConfig
from trial.devices import configure_precision

PROJECT = Path(__file__).resolve().parents[2]

# Runs in a fresh process: memory growth can only be set before TensorFlow initialises its GPUs.
GPU_SCRIPT = """
import json, sys
import keras, numpy as np, tensorflow as tf
import models
from trial import train as T
from trial.config import TrialConfig
from trial.devices import configure_devices, configure_precision
from trial.run import ListReporter, run_trial

gpus = configure_devices()
assert gpus, "TensorFlow sees no GPU"
assert all(tf.config.experimental.get_memory_growth(g) for g in gpus), "memory growth is off"
cfg = TrialConfig.from_dict(json.loads(sys.argv[1]))
assert configure_precision(cfg) == "mixed_float16"
model = models.build(cfg.model, (24, 24, 1), 10)
convs = [l for l in model.get_layer("backbone_0").layers if isinstance(l, keras.layers.Conv2D)]
assert convs and all(l.compute_dtype == "float16" for l in convs), "convs are not float16"
trainer = T.Trainer(model, T.make_optimizer(cfg, 8), cfg)
assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
x = tf.random.uniform((8, 24, 24, 1))
out = model(x, training=False)
assert out["logits"].dtype == tf.float32 and out["gazes"].dtype == tf.float32
terms = trainer.step(x, tf.zeros(8, tf.int32))
assert set(terms) >= {"total", "ce", "gaze_l2"}, sorted(terms)
assert all(v.dtype == tf.float32 and np.isfinite(v.numpy()) for v in terms.values()), terms
result = run_trial(cfg, ListReporter(), checkpoint_dir=sys.argv[2])
assert result.status == "completed", result
print("GPU-OK")
"""


@pytest.mark.gpu
def test_mixed_precision_on_gpu_keeps_float32_logits_and_losses(tiny_trial_dict, tmp_path):
    trial = {
        **tiny_trial_dict,
        "model.kind": "multi_gaze",
        "model.num_transformers": 2,
        "model.gaze_l2": 0.01,
        "model.localiser_width": 8,
        "model.localiser_blocks": 1,
        "data.image_size": 24,
        "data.digit_size": 12,
    }
    import json

    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(GPU_SCRIPT), json.dumps(trial), str(tmp_path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0 and "GPU-OK" in out.stdout, out.stderr[-3000:]


@pytest.mark.parametrize(
    ("expression", "selected"),
    [("", False), ("not gpu", False), ("slow", False), ("gpu", True), ("gpu or slow", True)],
)
def test_gpu_tests_are_selected_only_by_a_gpu_mark_expression(expression, selected):
    assert gpu_selected(expression) is selected


def test_the_cpu_suite_hides_gpus(request):
    if gpu_selected(request.config.getoption("markexpr") or ""):
        pytest.skip("this session asked for GPU tests")
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == ""
    assert tf.config.list_physical_devices("GPU") == []


def test_auto_precision_is_float32_without_a_gpu(tiny_trial_dict):
    assert configure_precision(TrialConfig.from_dict(tiny_trial_dict)) == "float32"

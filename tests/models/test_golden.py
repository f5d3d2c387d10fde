"""Golden outputs: each family's tiny model, with weights set by a fixed formula (not by Keras'
initialisers, whose draws may change between versions), maps a fixed input to the logits stored
in `golden_logits.json`. A silent numerical change in a layer, a warp or a head fails here.

After a change meant to alter the numbers, regenerate the file and say why in the commit:
`GOLDEN_WRITE=1 .venv/bin/python -m pytest tests/models/test_golden.py`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

import models

GOLDEN = Path(__file__).with_name("golden_logits.json")
SHAPE, CLASSES = (32, 32, 3), 10


def _fixed_input() -> np.ndarray:
    """Two different images in [0, 1], no RNG: a smooth colour wave, and a bright off-centre
    square on a dark ground (so a model that looks somewhere sees something there)."""
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    wave = np.stack([0.5 + 0.5 * np.sin(0.21 * (c + 1) * rows + 0.13 * cols) for c in range(3)], -1)
    square = np.full((32, 32, 3), 0.1)
    square[4:14, 18:28] = (0.9, 0.8, 1.0)
    return np.stack([wave, square]).astype(np.float32)


def _set_fixed_weights(model) -> None:
    """Every weight from a formula of its position: scaled by fan-in, positive where a
    variance or a scale must be."""
    for index, variable in enumerate(model.weights):
        shape = tuple(variable.shape)
        size = int(np.prod(shape)) if shape else 1
        wave = np.sin(1.7 * np.arange(size) + 0.3 * index).reshape(shape)
        name = variable.path.rsplit("/", 1)[-1]
        if name in ("moving_variance", "gamma"):
            value = 1.0 + 0.1 * wave
        elif name in ("beta", "bias", "moving_mean") or len(shape) < 2:
            value = 0.05 * wave
        else:
            value = wave * math.sqrt(2.0 / max(1, size // shape[-1]))  # He-like scale
        variable.assign(value.astype(variable.dtype))


def _logits(kind: str) -> np.ndarray:
    import keras

    keras.utils.set_random_seed(0)  # any draw a layer still makes (none at inference)
    model = models.build(models.get(kind).config_cls.tiny(), SHAPE, CLASSES)
    _set_fixed_weights(model)
    out = model(_fixed_input(), training=False)
    logits = out["logits"] if isinstance(out, dict) else out
    keras.backend.clear_session()
    return np.asarray(logits, np.float64)


@pytest.mark.parametrize("kind", models.names())
def test_each_familys_logits_match_the_stored_golden_output(kind):
    logits = _logits(kind)
    assert logits.shape == (2, CLASSES) and np.isfinite(logits).all()
    assert np.abs(logits[0] - logits[1]).max() > 1e-3, "the logits must depend on the image"
    stored = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if os.environ.get("GOLDEN_WRITE"):
        stored[kind] = np.round(logits, 6).tolist()
        GOLDEN.write_text(json.dumps(dict(sorted(stored.items())), indent=1) + "\n")
    assert kind in stored, f"no golden logits for {kind}: regenerate them (module docstring)"
    np.testing.assert_allclose(logits, stored[kind], rtol=1e-4, atol=1e-5)


def test_every_golden_entry_is_a_registered_family():
    assert sorted(json.loads(GOLDEN.read_text())) == sorted(models.names())

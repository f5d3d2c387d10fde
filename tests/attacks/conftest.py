"""Small models the attack tests share: a digits classifier trained in the test session, and
toy logits functions built to fail one sanity check each.

TensorFlow and Keras are imported inside the helpers: `pytest tests/attacks` imports this file
before the root conftest's `pytest_configure` (which imports ART first, as its logging set-up
closes the handlers that exist then, and hides GPUs before TensorFlow starts).
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits():
    """A dense classifier trained on scikit-learn's 8x8 digits, and 256 held-out images."""
    import keras
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[..., None]
    y = data.target.astype(np.int32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:1500], y[:1500], epochs=30, batch_size=64, verbose=0)
    return model, x[1500:1756], y[1500:1756]


def mlp_logits(seed: int = 0, pixels: int = 25, classes: int = 4):
    """A fixed random two-layer network on (B, 5, 5, 1) images."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    hidden = tf.constant(rng.normal(size=(pixels, 16)), tf.float32)
    out = tf.constant(rng.normal(size=(16, classes)), tf.float32)

    def fn(x):
        return tf.matmul(tf.tanh(tf.matmul(tf.reshape(x, [-1, pixels]), hidden)), out)

    return fn


class PixelDropout:
    """A model that is random at inference: a fixed network behind a fresh random pixel mask
    (half the pixels dropped) on every call, like a random gaze."""

    def __init__(self, model, seed: int = 0):
        import tensorflow as tf

        self.model = model
        self.rng = tf.random.Generator.from_seed(seed)

    def __call__(self, x):
        import tensorflow as tf

        keep = tf.cast(self.rng.uniform(tf.shape(x)) < 0.5, x.dtype)
        return self.model(x * keep * 2.0)

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
    x, y = digit_images()
    model = fit_digits_mlp(x[:1500], y[:1500], hidden=32, epochs=30, batch_size=64)
    return model, x[1500:1756], y[1500:1756]


def digit_images():
    """scikit-learn's 8x8 digits as (N, 8, 8, 1) float32 images in [0, 1], and their labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0).astype(np.float32)[..., None], data.target.astype(np.int32)


def fit_digits_mlp(x, y, *, hidden: int, epochs: int, batch_size: int, seed: int = 0):
    """A Keras classifier of 8x8 digits (one ReLU layer of `hidden` units; 0: linear), trained
    with Adam on logits."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((8, 8, 1)), keras.layers.Flatten()]
    if hidden:
        layers.append(keras.layers.Dense(hidden, activation="relu"))
    model = keras.Sequential([*layers, keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return model


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

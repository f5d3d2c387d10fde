"""tfds datasets (CIFAR-10, Imagenette, cluttered MNIST) under `tfds.testing.mock_data`, and
their missing-data messages (nothing is ever downloaded here)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_datasets as tfds

from trial.config import TrialConfig
from trial.data import check, load

N = 40  # mock examples per split
CACHES = ("memory", "disk", "none")


def _cfg(name: str, tmp_path, **extra):
    flat = {
        "data.name": name,
        "data.val_size": 8,
        "data.test_size": 12,
        "data.data_dir": str(tmp_path / "tfds"),
        **extra,
    }
    return TrialConfig.from_dict(flat).data


@pytest.mark.parametrize(
    ("name", "extra", "shape"),
    [
        ("cifar10", {}, (32, 32, 3)),
        ("imagenette", {"data.image_size": 24}, (24, 24, 3)),  # mock images: random sizes
        ("cluttered_mnist", {}, (40, 40, 1)),
    ],
)
def test_tfds_datasets_load_through_the_interface(name, extra, shape, tmp_path):
    with tfds.testing.mock_data(num_examples=N, data_dir=str(tmp_path / "mock")):
        data = load(_cfg(name, tmp_path, **extra))
        batches = list(data.train_batches(8, seed=0, augment=True))
    assert data.input_shape == shape and data.num_classes == 10
    assert (data.train_size, len(data.val), len(data.test)) == (N - 8, 8, 12)
    assert len(batches) == (N - 8) // 8 and batches[0][0].shape == (8, *shape)
    test = data.test.take(0)
    assert test.images.dtype == np.float32 and 0.0 <= test.images.min() <= test.images.max() <= 1
    assert set(np.unique(test.labels)) <= set(range(10))
    assert (test.centres is not None) == (name == "cluttered_mnist")
    if name == "cluttered_mnist":  # the whole 28x28 digit lies inside the canvas
        half = 28 / 40
        assert np.all(np.abs(test.centres) <= 1 - half + 1e-6)


def test_cluttered_mnist_places_the_digit_at_its_centre(tmp_path):
    cfg = _cfg("cluttered_mnist", tmp_path, **{"data.clutter": 0})
    with tfds.testing.mock_data(num_examples=N, data_dir=str(tmp_path / "mock")):
        data = load(cfg)
        digits = data.train.store.read(np.arange(4))  # canvases without clutter
        centres = data.train.store.centres[:4]
    for canvas, (cx, cy) in zip(digits[..., 0], centres, strict=True):
        rows, cols = np.nonzero(canvas)
        left = round((cx + 1) * 20 - 14)
        top = round((cy + 1) * 20 - 14)
        assert rows.min() >= top and rows.max() < top + 28  # all ink inside the placed digit
        assert cols.min() >= left and cols.max() < left + 28


def test_cache_modes_give_the_same_splits(tmp_path):
    with tfds.testing.mock_data(num_examples=N, data_dir=str(tmp_path / "mock")):
        loaded = {c: load(_cfg("cifar10", tmp_path, **{"data.cache": c})) for c in CACHES}
        firsts = {c: next(iter(d.train_batches(8, seed=2)))[0].numpy() for c, d in loaded.items()}
        val = {c: d.val.take(0).images for c, d in loaded.items()}
        test = {c: d.test.take(5).labels for c, d in loaded.items()}
    for cache in ("disk", "none"):
        np.testing.assert_array_equal(val[cache], val["memory"])
        np.testing.assert_array_equal(test[cache], test["memory"])
        assert firsts[cache].shape == (8, 32, 32, 3)
    # memory and disk stores hold the same records: the same seed gives the same batches
    np.testing.assert_array_equal(firsts["disk"], firsts["memory"])
    assert list((tmp_path / "tfds" / "attention-sweeps-cache").glob("cifar10-train-*"))


@pytest.mark.parametrize(
    ("name", "tfds_name"),
    [("cifar10", "cifar10"), ("imagenette", "imagenette/320px-v2"), ("cluttered_mnist", "mnist")],
)
def test_missing_tfds_data_is_named_before_any_work(name, tfds_name, tmp_path):
    cfg = _cfg(name, tmp_path)
    folder = str(tmp_path / "tfds")
    for call in (check, load):
        with pytest.raises(ValueError) as err:
            call(cfg)
        message = str(err.value)
        assert message.startswith(f"{name}: ") and folder in message
        assert f"tfds build {tfds_name}" in message and "data.download=true" in message
    assert not (tmp_path / "tfds").exists()  # nothing written, nothing downloaded
    check(_cfg(name, tmp_path, **{"data.download": True}))  # a trial may then fetch it


def test_downloads_on_one_node_take_turns(tmp_path, monkeypatch):
    """With data.download, trials preparing the same tfds dataset run one after the other."""
    import threading
    import time

    from trial.data import tfds_source

    spans = []

    class SlowBuilder:
        def download_and_prepare(self):
            start = time.monotonic()
            time.sleep(0.3)
            spans.append((start, time.monotonic()))

    monkeypatch.setattr(tfds, "builder", lambda name, data_dir: SlowBuilder())
    cfg = _cfg("cifar10", tmp_path, **{"data.download": True})
    threads = [threading.Thread(target=tfds_source.prepare, args=(cfg, "cifar10")) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first, second = sorted(spans)
    assert len(spans) == 2 and first[1] <= second[0]  # the second waited for the first

"""ImageNet10/100 from a local tree of generated JPEGs: class order, split sizes, box crops,
broken files skipped and counted, CMYK/greyscale converted, devkit labels, missing-data
messages."""

from __future__ import annotations

import numpy as np
import pytest

from tests.trial.data.conftest import EXTRA, TRAIN_PER_CLASS, VAL_PER_CLASS
from trial.config import TrialConfig
from trial.data import check, load
from trial.data.imagenet10 import SYNSETS
from trial.data.testing import class_colour

SIZE = 24


def _cfg(root, name="imagenet10", **extra):
    flat = {
        "data.name": name,
        "data.imagenet.root": str(root),
        "data.image_size": SIZE,
        "data.val_size": 5,
        "data.cache": "memory",
        **extra,
    }
    return TrialConfig.from_dict(flat).data


def _colour_error(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean absolute distance of each image's central pixels from its class colour."""
    centre = images[:, SIZE // 4 : 3 * SIZE // 4, SIZE // 4 : 3 * SIZE // 4] * 255
    colours = np.stack([class_colour(int(y)) for y in labels]).astype(np.float32)
    return np.abs(centre - colours[:, None, None]).mean(axis=(1, 2, 3))


def test_all_training_images_sorted_classes_broken_file_skipped(tree):
    data = load(_cfg(tree, **{"data.imagenet.train_images": "all"}))
    listed = len(SYNSETS) * TRAIN_PER_CLASS + EXTRA
    assert data.skipped == 1  # the truncated JPEG; the CMYK and grey ones decode
    assert data.train_size == listed - 1 - 5 and len(data.val) == 5
    assert len(data.test) == len(SYNSETS) * VAL_PER_CLASS
    assert data.input_shape == (SIZE, SIZE, 3) and data.num_classes == 10
    test = data.test.take(0)
    # class i is the i-th synset in sorted order: every test image shows its class colour
    assert _colour_error(test.images, test.labels).max() < 20
    assert np.bincount(test.labels, minlength=10).tolist() == [VAL_PER_CLASS] * 10
    assert len(set(test.labels[:10].tolist())) > 3  # test order is mixed, not class by class
    for batch in data.train_batches(16, seed=0, augment=True):
        assert batch[0].shape == (16, SIZE, SIZE, 3)


def test_cmyk_and_greyscale_jpegs_become_rgb(tree):
    from trial.data.images import decode

    folder = tree / "train" / sorted(SYNSETS)[0]
    grey = decode(folder / f"{sorted(SYNSETS)[0]}_grey.JPEG", SIZE)
    cmyk = decode(folder / f"{sorted(SYNSETS)[0]}_cmyk.JPEG", SIZE)
    assert grey.shape == cmyk.shape == (SIZE, SIZE, 3) and grey.dtype == np.uint8
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    with pytest.raises(OSError):
        decode(folder / f"{sorted(SYNSETS)[0]}_broken.JPEG", SIZE)


def _class_colour_error(store) -> np.ndarray:
    """Mean distance of every pixel of each stored image from its class colour."""
    x = store.read(np.arange(len(store))).astype(np.float32)
    colours = np.stack([class_colour(int(v)) for v in store.labels])
    return np.abs(x - colours[:, None, None]).mean(axis=(1, 2, 3))


def test_bbox_training_set_is_cropped_to_the_boxes(tree):
    # shorter_side shows each whole image; the generated boxes hold the class colour and
    # everything else is grey noise, so a box crop is colour edge to edge and an uncropped
    # image is mostly grey
    common = {"data.val_size": 2, "data.imagenet.resize": "shorter_side"}
    boxed = load(_cfg(tree, **common))  # imagenet10's default: train_images=bbox
    whole = load(_cfg(tree, **common, **{"data.imagenet.train_images": "all"}))
    assert boxed.train_size == len(SYNSETS) * TRAIN_PER_CLASS // 2 - 2
    assert _class_colour_error(boxed.train.store).max() < 25
    assert _class_colour_error(whole.train.store).min() > 40


def test_flat_validation_with_devkit_labels(devkit_tree):
    data = load(_cfg(devkit_tree, **{"data.imagenet.train_images": "all", "data.cache": "none"}))
    test = data.test.take(0)
    assert len(test.labels) == len(SYNSETS) * VAL_PER_CLASS
    assert _colour_error(test.images, test.labels).max() < 20
    assert len(list(data.train_batches(4, seed=1))) == data.train_size // 4


def test_imagenet100_uses_a_synset_file(tree, tmp_path):
    listing = tmp_path / "classes.txt"
    listing.write_text("\n".join(sorted(SYNSETS)[:4]) + "\n")
    cfg = _cfg(tree, "imagenet100", **{"data.imagenet.synsets": str(listing)})
    data = load(cfg)
    assert data.num_classes == 4  # the file's classes, in sorted order
    assert set(np.unique(data.test.take(0).labels)) == {0, 1, 2, 3}
    # two of imagenet10's classes (tabby, goose) are also in the built-in ImageNet-100 list
    with pytest.raises(ValueError, match="imagenet100: 98 of 100 class folders are missing"):
        check(_cfg(tree, "imagenet100"))


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"data.imagenet.root": ""}, "imagenet10: data.imagenet.root is not set"),
        ({"data.imagenet.root": "/no/such/dir"}, "data.imagenet.root='/no/such/dir' is not a"),
    ],
)
def test_missing_root_is_named(change, needle, tree):
    with pytest.raises(ValueError, match=needle) as err:
        load(_cfg(tree, **change))
    assert "train/<synset>/*.JPEG" in str(err.value) and "image-net.org" in str(err.value)


def test_missing_parts_of_the_tree_are_named(tree, tmp_path):
    import shutil

    broken = tmp_path / "copy"
    shutil.copytree(tree / "train", broken / "train")
    with pytest.raises(ValueError, match=f"no val/ folder .*searched {broken}/val"):
        check(_cfg(broken, **{"data.imagenet.train_images": "all"}))
    shutil.copytree(tree / "val", broken / "val")
    with pytest.raises(ValueError, match="train_images=bbox needs the training boxes") as err:
        check(_cfg(broken))
    assert "ILSVRC2012_bbox_train_v2" in str(err.value) and "train_images=all" in str(err.value)
    shutil.rmtree(broken / "train" / sorted(SYNSETS)[3])
    with pytest.raises(
        ValueError, match=f"1 of 10 class folders are missing .*{sorted(SYNSETS)[3]}"
    ):
        check(_cfg(broken, **{"data.imagenet.train_images": "all"}))

"""Shared fixtures: a tiny ImageNet10-layout tree of generated JPEGs (with broken files)."""

from __future__ import annotations

import pytest

from trial.data.imagenet10 import SYNSETS
from trial.data.testing import make_imagenet_tree

TRAIN_PER_CLASS = 4  # the first half of each class has a box file
VAL_PER_CLASS = 2
EXTRA = 3  # broken=True adds a truncated, a CMYK and a greyscale JPEG to the first class


@pytest.fixture(scope="session")
def tree(tmp_path_factory):
    """imagenet10 tree, val/<synset>/ layout, with one truncated, one CMYK, one grey JPEG."""
    return make_imagenet_tree(
        tmp_path_factory.mktemp("imagenet") / "root",
        SYNSETS,
        train_per_class=TRAIN_PER_CLASS,
        val_per_class=VAL_PER_CLASS,
        broken=True,
    )


@pytest.fixture(scope="session")
def devkit_tree(tmp_path_factory):
    """The same classes with a flat val/ labelled by a generated devkit."""
    return make_imagenet_tree(
        tmp_path_factory.mktemp("imagenet_devkit") / "root",
        SYNSETS,
        train_per_class=2,
        val_per_class=VAL_PER_CLASS,
        val_layout="devkit",
        seed=1,
    )

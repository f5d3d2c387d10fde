"""The dataset registry and `data.*` validation: per dataset, like `model.*` per family."""

from __future__ import annotations

import dataclasses

import pytest

import trial.data as data
from trial.config import TrialConfig, drop_inapplicable
from trial.data import registry
from trial.data.config import DataConfig

ALL = ("cifar10", "cluttered_digits", "cluttered_mnist", "imagenet10", "imagenet100", "imagenette")


def test_every_dataset_is_registered_with_a_valid_tiny_config():
    assert data.names() == sorted(ALL)
    for name in ALL:
        dataset = data.get(name)
        tiny = dataset.config_cls.tiny()
        assert isinstance(tiny, DataConfig) and tiny.name == name
        assert dataset.num_classes == 10 or name == "imagenet100"
        assert dataset.channels in (1, 3)
    assert data.get("imagenet100").num_classes == 100
    assert [n for n in ALL if data.get(n).centres_known] == ["cluttered_digits", "cluttered_mnist"]
    assert not data.get("cluttered_digits").flips and not data.get("cluttered_mnist").flips


def test_imagenet_class_lists():
    from trial.data.imagenet10 import SYNSETS as TEN
    from trial.data.imagenet100 import SYNSETS as HUNDRED

    assert len(set(TEN)) == 10 and len(set(HUNDRED)) == 100
    assert "n01484850" in TEN and "n02206856" in TEN  # great white shark, bee (the paper's)


def test_registry_is_strict():
    with pytest.raises(ValueError, match="data.name='mnist' is not a known dataset.*cifar10"):
        data.get("mnist")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(
            "cifar10",
            data.get("cifar10").config_cls,
            check=lambda c: None,
            where=lambda c: [],
            summary="",
            num_classes=10,
            channels=3,
            splits="",
        )(lambda cfg: None)
    with pytest.raises(TypeError, match="DataConfig dataclass with a tiny"):
        registry.register(
            "other", dict, check=None, where=None, summary="", num_classes=1, channels=1, splits=""
        )


def test_data_keys_are_validated_against_the_chosen_dataset():
    cfg = TrialConfig.from_dict({"data.name": "imagenet10", "data.imagenet.root": "/data/in"})
    assert cfg.data.imagenet.root == "/data/in"
    assert cfg.data.imagenet.train_images == "bbox"  # imagenet10 trains on box crops by default
    assert cfg.data.image_size == 320 and cfg.data.cache == "disk"
    owned = r"data.digit_size for data \(name 'cifar10'\); data.digit_size is a key of data.name"
    with pytest.raises(ValueError, match=owned + " cluttered_digits.*; allowed:"):
        TrialConfig.from_dict({"data.name": "cifar10", "data.digit_size": 12})
    with pytest.raises(ValueError, match="data.imagenet.roots .*allowed: .*data.imagenet.root"):
        TrialConfig.from_dict({"data.name": "imagenet10", "data.imagenet.roots": "/x"})
    with pytest.raises(ValueError, match="data.imagenet.train_images='boxes' is not one of"):
        TrialConfig.from_dict({"data.name": "imagenet10", "data.imagenet.train_images": "boxes"})
    with pytest.raises(ValueError, match="data.cache='ram' is not one of 'none', 'memory', 'disk'"):
        TrialConfig.from_dict({"data.name": "imagenet10", "data.cache": "ram"})
    with pytest.raises(ValueError, match="data.image_size=16 is below MNIST"):
        TrialConfig.from_dict({"data.name": "cluttered_mnist", "data.image_size": 16})


def test_nested_keys_round_trip_and_merge():
    flat = {
        "data.name": "imagenet100",
        "data.imagenet.root": "/r",
        "data.imagenet.resize": "shorter_side",
        "data": {"imagenet": {"synsets": "/s.txt"}},
    }
    cfg = TrialConfig.from_dict(flat)
    assert (cfg.data.imagenet.root, cfg.data.imagenet.resize) == ("/r", "shorter_side")
    assert cfg.data.imagenet.synsets == "/s.txt"
    again = TrialConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert cfg.to_dict()["data.imagenet.root"] == "/r"  # flat dotted keys for Tune and W&B


def test_sweeper_drops_keys_of_other_datasets():
    point = {
        "model.kind": "resnet",
        "data.name": "cifar10",
        "data.imagenet.root": "/r",
        "data.digit_size": 12,
        "data.cache": "none",
        "data.val_size": 10,
    }
    kept, dropped = drop_inapplicable(point)
    assert dropped == ["data.digit_size", "data.imagenet.root"]
    assert TrialConfig.from_dict(kept).data.cache == "none"
    kept, dropped = drop_inapplicable({**point, "data.name": "imagenet10"})
    assert dropped == ["data.digit_size"]


def test_config_paths_cover_every_dataset_field():
    paths = data.config_paths()
    for name in ALL:
        for key in data.get(name).config_fields():
            assert f"data.{key}" in paths
    assert "data.imagenet.root" in paths and "data.name" in paths
    assert all(dataclasses.is_dataclass(data.get(n).config_cls) for n in ALL)

"""TrialConfig: strict dict boundary, coercion, round trip and the kind-aware key filter."""

from __future__ import annotations

import dataclasses

import pytest

from trial.config import TrialConfig, _build, drop_inapplicable, nest


def test_defaults_round_trip_through_the_flat_dict():
    cfg = TrialConfig()
    assert TrialConfig.from_dict(cfg.to_dict()) == cfg


def test_nested_and_dotted_keys_mean_the_same():
    nested = TrialConfig.from_dict({"train": {"epochs": 3}, "model": {"kind": "resnet"}})
    dotted = TrialConfig.from_dict({"train.epochs": 3, "model.kind": "resnet"})
    assert nested == dotted and nested.train.epochs == 3


def test_strings_are_coerced_to_field_types():
    cfg = TrialConfig.from_dict(
        {"attack.eps": "8/255", "train.epochs": "4", "train.augment": "1", "seed": 3.0}
    )
    assert cfg.attack.eps == pytest.approx(8 / 255)
    assert cfg.train.epochs == 4 and cfg.train.augment is True and cfg.seed == 3


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"train.epoch": 3}, "train.epoch.*allowed: .*train.epochs"),
        ({"model.num_transformers": 3}, "model.num_transformers .*kind 'resnet'"),
        ({"trainer.epochs": 3}, "unknown config key.*trainer"),
        ({"model.kind": "nope"}, "unknown model.kind 'nope'"),
        ({"train.epochs": 2.5}, "train.epochs=2.5 must be an integer"),
        ({"attack.eps": "eight"}, "attack.eps='eight' must be a number"),
        ({"attack.eps": 8}, "attack.eps=8.0 must lie in \\[0, 1\\]"),
        ({"train.augment": "yes"}, "train.augment='yes' must be a boolean"),
        ({"data.name": "mnist"}, "data.name='mnist' .*cluttered_digits"),
    ],
)
def test_bad_input_names_the_key_and_the_fix(data, needle):
    with pytest.raises(ValueError, match=needle):
        TrialConfig.from_dict(data)


def test_configs_are_frozen():
    cfg = TrialConfig()
    with pytest.raises(AttributeError):
        cfg.train.epochs = 5  # type: ignore[misc]


def test_replace_validates_like_from_dict():
    cfg = TrialConfig().replace(**{"train.epochs": 5})
    assert cfg.train.epochs == 5
    with pytest.raises(ValueError):
        TrialConfig().replace(**{"train.epochs": 0})


def test_drop_inapplicable_keeps_only_the_kinds_fields():
    kept, dropped = drop_inapplicable(
        {"model.kind": "resnet", "model.width": 8, "model.num_transformers": 5, "seed": 1}
    )
    assert kept == {"model.kind": "resnet", "model.width": 8, "seed": 1}
    assert dropped == ["model.num_transformers"]


def test_nest_rejects_conflicting_keys():
    with pytest.raises(ValueError, match="conflicts"):
        nest({"model": 3, "model.kind": "resnet"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Weights:
    scale: dict[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Cap:
    limit: int | None = None
    sizes: tuple[int, ...] = ()


def test_a_field_type_no_coercion_checks_is_an_error_not_a_free_pass():
    # Before: dict[str, float] fell through `_coerce` and took "anything" silently.
    with pytest.raises(
        TypeError,
        match="config field model.scale of _Weights has type dict\\[str, float\\], which "
        "TrialConfig.from_dict cannot check.*use bool, int, float, str, a Literal",
    ):
        _build(_Weights, {"scale": "anything"}, "model")
    with pytest.raises(TypeError, match="model.scale of _Weights"):
        _build(_Weights, {}, "model")  # found whatever the values: the class is the bug


def test_an_optional_field_is_checked_as_its_inner_type():
    assert _build(_Cap, {"limit": "4", "sizes": ["2", 3]}, "x") == _Cap(limit=4, sizes=(2, 3))
    assert _build(_Cap, {"limit": None}, "x").limit is None
    with pytest.raises(ValueError, match="x.limit=2.5 must be an integer"):
        _build(_Cap, {"limit": 2.5}, "x")

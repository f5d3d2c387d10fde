"""The dataset registry: one entry per dataset, looked up by `data.name`.

Each dataset module registers its name, its frozen config class (a `DataConfig` subclass with a
`tiny()` classmethod), what it is (classes, channels, splits, whether object centres are known,
whether mirrored images are still valid examples) and three functions: `load(cfg) -> Data`,
`check(cfg)` (a fast presence check that raises ValueError naming the dataset, where it looked,
what it expected and how to get it) and `where(cfg)` (the places it reads, for
`python -m trial.data`). Registering a name twice and looking up an unknown name are errors.
Adding a dataset is one new module plus its import line in `trial/data/__init__.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from trial.data.config import DataConfig


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A registered dataset.

    Attributes:
        name: the `data.name` value that selects it.
        config_cls: its frozen config class (a DataConfig subclass with `tiny()`).
        load: builds the `Data` bundle for a config (after `check`).
        check: raises ValueError when the data is missing or broken; cheap (no decoding).
        where: the (what, path) places a config reads, for listings and messages.
        summary: one line for `python -m trial.data`.
        num_classes: label count.
        channels: image channels (1 for digits, 3 for photographs).
        splits: where train/val/test come from, in words.
        centres_known: whether batches carry object centres (for gaze metrics).
        flips: whether a mirrored image is still a valid example (augmentation flips it).
    """

    name: str
    config_cls: type
    load: Callable[[Any], Any]
    check: Callable[[Any], None]
    where: Callable[[Any], list[tuple[str, str]]]
    summary: str
    num_classes: int
    channels: int
    splits: str
    centres_known: bool = False
    flips: bool = True

    def config_fields(self) -> dict[str, Any]:
        """The dataset's config fields as flat dotted names (`imagenet.root`) with defaults."""
        return _flat_defaults(self.config_cls(), exclude=("name",))


_DATASETS: dict[str, Dataset] = {}


def register(
    name: str,
    config_cls: type,
    *,
    check: Callable[[Any], None],
    where: Callable[[Any], list[tuple[str, str]]],
    summary: str,
    num_classes: int,
    channels: int,
    splits: str,
    centres_known: bool = False,
    flips: bool = True,
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Registers a dataset's loader under `name`; use as a decorator on `load(cfg) -> Data`."""
    if not (
        dataclasses.is_dataclass(config_cls)
        and issubclass(config_cls, DataConfig)
        and hasattr(config_cls, "tiny")
    ):
        raise TypeError(
            f"dataset {name!r}: config class {config_cls.__name__} must be a DataConfig "
            "dataclass with a tiny() classmethod"
        )

    def decorator(load: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if name in _DATASETS:
            raise ValueError(f"dataset {name!r} is registered twice; names must be unique")
        _DATASETS[name] = Dataset(
            name,
            config_cls,
            load,
            check,
            where,
            summary,
            num_classes,
            channels,
            splits,
            centres_known,
            flips,
        )
        return load

    return decorator


def get(name: str) -> Dataset:
    """The dataset registered as `name`, or a ValueError naming the known ones."""
    try:
        return _DATASETS[name]
    except KeyError:
        raise ValueError(
            f"data.name={name!r} is not a known dataset; choose one of {', '.join(names())} "
            "(a new dataset must be imported in trial/data/__init__.py to register itself)"
        ) from None


def names() -> list[str]:
    """The registered dataset names, sorted."""
    return sorted(_DATASETS)


def config_of(cfg: Any) -> Dataset:
    """The registered dataset a config belongs to."""
    return get(cfg.name)


def config_paths() -> list[str]:
    """Every `data.*` path any dataset accepts (for validating study parameters)."""
    paths = {"data.name"}
    for name in names():
        paths.update(f"data.{key}" for key in get(name).config_fields())
    return sorted(paths)


def _flat_defaults(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(obj):
        if field.name in exclude:
            continue
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value):
            out.update({f"{field.name}.{k}": v for k, v in _flat_defaults(value).items()})
        else:
            out[field.name] = value
    return out

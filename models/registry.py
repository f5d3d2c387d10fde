"""The model registry: one entry per model family, looked up by `model.kind`.

Each family registers a frozen config class (with a `tiny()` classmethod for tests and dry runs)
and a builder `build(cfg, input_shape, num_classes) -> keras.Model`. Every built model maps an
NHWC float image batch in [0, 1] to a dict of named outputs: always `logits` (float32), and for
attention families also `gazes` (B, K, 2), `theta` (B, K, 2, 3) or `boxes` (B, K, 4). The registry
is strict: registering a name twice and looking up an unknown name are errors.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable
from typing import Any

Builder = Callable[[Any, tuple[int, int, int], int], Any]


@dataclasses.dataclass(frozen=True)
class Family:
    """A registered model family.

    Attributes:
        name: the `model.kind` value that selects it.
        config_cls: its frozen config dataclass; must provide a `tiny()` classmethod.
        build: builds a Keras model for a config, an input shape (H, W, C) and a class count.
        random_at_inference: whether a config of this family draws randomness when evaluated,
            so that attacks must use EOT and accuracy must be averaged over draws.
        summary: one line for `python -m models`.
        learned_gazes: whether the family predicts its gazes/θ from the image (so trials
            report gaze-collapse metrics); fixed-fixation families look where they are told.
    """

    name: str
    config_cls: type
    build: Builder
    random_at_inference: Callable[[Any], bool]
    summary: str
    learned_gazes: bool = False

    def config_fields(self) -> dict[str, Any]:
        """Returns the family's config fields and their defaults (without `kind`)."""
        return {
            f.name: f.default
            for f in dataclasses.fields(self.config_cls)
            if f.name != "kind" and f.default is not dataclasses.MISSING
        }


_FAMILIES: dict[str, Family] = {}


def register(
    name: str,
    config_cls: type,
    *,
    summary: str,
    random_at_inference: Callable[[Any], bool] = lambda cfg: False,
    learned_gazes: bool = False,
) -> Callable[[Builder], Builder]:
    """Registers a family's builder under `name`; use as a decorator on the builder."""
    if not dataclasses.is_dataclass(config_cls) or not hasattr(config_cls, "tiny"):
        raise TypeError(
            f"model family {name!r}: config class {config_cls.__name__} must be a dataclass "
            "with a tiny() classmethod (the variant tests and dry runs build)"
        )

    def decorator(build: Builder) -> Builder:
        if name in _FAMILIES:
            raise ValueError(f"model family {name!r} is registered twice; names must be unique")
        _FAMILIES[name] = Family(
            name, config_cls, build, random_at_inference, summary, learned_gazes
        )
        return build

    return decorator


def get(name: str) -> Family:
    """Returns the family registered as `name`, or raises naming the known families."""
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ValueError(
            f"unknown model.kind {name!r}; known kinds: {', '.join(names())}. "
            "A new family must be imported in models/__init__.py to register itself."
        ) from None


def names(pattern: str = "*") -> list[str]:
    """Returns the sorted registered family names matching an fnmatch pattern."""
    return sorted(n for n in _FAMILIES if fnmatch.fnmatch(n, pattern))


def build(cfg: Any, input_shape: tuple[int, int, int], num_classes: int) -> Any:
    """Builds the model that `cfg` (a registered family's config) describes."""
    return get(cfg.kind).build(cfg, tuple(input_shape), int(num_classes))


def is_random_at_inference(cfg: Any) -> bool:
    """Whether the model that `cfg` describes is random when evaluated (needs EOT)."""
    return bool(get(cfg.kind).random_at_inference(cfg))

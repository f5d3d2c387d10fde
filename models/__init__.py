"""Keras model families for attention against adversaries, built by name from a frozen config.

Importing this package registers every family (the explicit import list below). Use
`models.build(cfg, input_shape, num_classes)`; `python -m models` lists the families.
"""

from models import (  # noqa: F401  (each import registers its family)
    coarse_fixations,
    cortical,
    multi_gaze,
    parallel_transformers,
    resnet,
    retinal,
    soft_attention,
)
from models.registry import build, get, is_random_at_inference, names

__all__ = ["build", "get", "is_random_at_inference", "names"]

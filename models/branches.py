"""Branch backbones of the multi-view attention families: K views per image -> one set of logits.

The STN and multi-gaze families produce K views of each image, a (B, K, H, W, C) tensor. Each
view goes through a ResNet trunk: one trunk reused by every branch (`shared=True`: the views are
folded into the batch and the trunk runs once on all of them) or one trunk per branch (the
original's default). The K feature vectors are concatenated in branch order and a float32 dense
layer gives the logits, as in the original.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from models.fixations import FoldViews
from models.resnet import classifier_head


@keras.saving.register_keras_serializable(package="models")
class SplitViews(keras.layers.Layer):
    """(B, K, ...) -> a list of K tensors (B, ...), one per branch."""

    def __init__(self, num: int, **kwargs):
        super().__init__(**kwargs)
        self.num = int(num)

    def call(self, views):
        return [views[:, i] for i in range(self.num)]

    def compute_output_shape(self, input_shape):
        return [(input_shape[0], *input_shape[2:])] * self.num

    def get_config(self) -> dict:
        return {**super().get_config(), "num": self.num}


@keras.saving.register_keras_serializable(package="models")
class UnfoldFeatures(keras.layers.Layer):
    """(B·K, F) -> (B, K·F): each image's K branch features concatenated in branch order."""

    def __init__(self, num: int, **kwargs):
        super().__init__(**kwargs)
        self.num = int(num)

    def call(self, features):
        return ops.reshape(features, (-1, self.num * features.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (None, self.num * input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "num": self.num}


def classify_views(
    views, cfg: Any, view_shape: tuple[int, int, int], num: int, num_classes: int, shared: bool
):
    """Runs K views through shared or separate ResNet trunks and returns float32 logits.

    Args:
        views: (B, K, H, W, C) symbolic tensor.
        cfg: a family config with backbone, width, blocks and bn_momentum.
        view_shape: (H, W, C) of one view.
        num: K, the number of branches.
        num_classes: logits width.
        shared: one trunk (named `backbone`) for every branch, or `backbone_<i>` per branch.

    Returns:
        (B, num_classes) logits.
    """

    if shared:
        features = cfg.trunk(view_shape)(FoldViews(name="fold_views")(views))
        features = UnfoldFeatures(num, name="concat_branches")(features)
    else:
        per_view = SplitViews(num, name="split_views")(views)
        branch = [cfg.trunk(view_shape, f"backbone_{i}")(v) for i, v in enumerate(per_view)]
        features = branch[0] if num == 1 else layers.Concatenate(name="concat_branches")(branch)
    return classifier_head(features, num_classes)

"""Gaze-collapse metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from trial.gaze_metrics import gaze_metrics, stn_metrics


def test_corner_collapse_is_flagged():
    corners = np.array([[[1.0, -1.0]], [[0.95, 0.99]], [[-1.0, -1.0]], [[0.2, 0.0]]])
    m = gaze_metrics(corners)
    assert m["gaze/border_frac"] == 0.75
    assert m["gaze/center_frac"] == 0.0
    assert m["gaze/collapsed"] == 1.0


def test_input_independent_gazes_are_flagged_by_their_spread():
    still = np.tile([[[0.3, -0.2], [-0.3, 0.2]]], (8, 1, 1))
    m = gaze_metrics(still)
    assert m["gaze/spread"] == pytest.approx(0.0, abs=1e-12) and m["gaze/collapsed"] == 1.0
    assert m["gaze/diversity"] == pytest.approx(np.hypot(0.6, 0.4))


def test_identical_gazes_within_an_image_are_flagged_by_their_diversity():
    rng = np.random.default_rng(0)
    one = rng.uniform(-0.5, 0.5, (16, 1, 2))
    m = gaze_metrics(np.repeat(one, 3, axis=1))
    assert m["gaze/diversity"] == 0.0 and m["gaze/spread"] > 0.1
    assert m["gaze/collapsed"] == 1.0
    assert gaze_metrics(one)["gaze/collapsed"] == 0.0  # one gaze per image has no diversity rule


def test_object_distance_and_its_shuffled_baseline():
    centres = np.array([[0.5, 0.5], [-0.5, -0.5]])
    on_target = np.array([[[0.5, 0.5], [0.0, 0.9]], [[-0.5, -0.5], [0.9, 0.0]]])
    m = gaze_metrics(on_target, centres)
    assert m["gaze/object_dist"] == 0.0
    # Image 0 scored with image 1's gazes and vice versa: nearest 0.64 and sqrt(2).
    assert m["gaze/object_dist_shuffled"] == pytest.approx((np.hypot(0.4, 0.5) + np.sqrt(2)) / 2)
    assert m["gaze/center_frac"] == 0.0 and m["gaze/border_frac"] == 0.5


def test_stn_saturation_and_edge_clinging():
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    pushed = np.array([[0.3, 0, 0.97], [0, 0.3, 0.0]])  # a small box pushed to the right edge
    theta = np.stack([identity, pushed])[None]  # (1, 2, 2, 3)
    boxes = np.array([[[-1, -1, 1, 1], [0.67, -0.3, 1.27, 0.3]]])
    m = stn_metrics(theta, boxes)
    assert m["stn/theta_saturation"] == 0.25  # one of four translation entries
    assert m["stn/bbox_edge_frac"] == 0.5  # the full-image box touches edges but covers them


@pytest.mark.parametrize("bad", [np.zeros((4, 2)), np.zeros((0, 1, 2)), np.zeros((2, 1, 3))])
def test_bad_shapes_are_named(bad):
    with pytest.raises(ValueError, match="gazes must have shape"):
        gaze_metrics(bad)

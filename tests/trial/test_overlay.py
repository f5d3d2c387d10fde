"""Overlays put each image, gaze and box where design.md's coordinates say; the metrics plot."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from trial.overlay import (
    COLUMNS,
    HEADER,
    LABEL,
    PAD,
    PALETTE,
    draw_overlay,
    overlay_size,
    plot_gaze_metrics,
    scale_for,
    to_pixels,
)

SIDE = 20  # upscaled 8x to 160-pixel tiles


def _tile_origin(i: int, side: int = SIDE) -> tuple[int, int]:
    s = scale_for(side)
    row, col = divmod(i, COLUMNS)
    return PAD + col * (side * s + PAD), HEADER + PAD + row * (side * s + LABEL + PAD)


def test_each_image_lands_in_its_own_tile_at_the_documented_size():
    n = 16
    images = np.zeros((n, SIDE, SIDE, 1), np.float32)
    for i in range(n):
        images[i] = (i + 1) / n  # every tile its own grey level
    canvas = draw_overlay(images, labels=np.arange(n), predictions=np.arange(n))
    assert canvas.size == overlay_size(n, SIDE, SIDE)
    s = scale_for(SIDE)
    assert canvas.size == (
        COLUMNS * (SIDE * s + PAD) + PAD,
        HEADER + 4 * (SIDE * s + LABEL + PAD) + PAD,
    )
    pixels = np.asarray(canvas)
    for i in range(n):
        left, top = _tile_origin(i)
        grey = round((i + 1) / n * 255)
        np.testing.assert_array_equal(pixels[top + 3, left + 3], [grey] * 3)
        np.testing.assert_array_equal(pixels[top + SIDE * s - 4, left + SIDE * s - 4], [grey] * 3)


@pytest.mark.parametrize("gaze", [(0.0, 0.0), (0.5, -0.5), (-0.75, 0.25)])
def test_a_gaze_is_drawn_where_its_coordinates_point(gaze):
    images = np.zeros((2, SIDE, SIDE, 3), np.float32)
    gazes = np.array([[gaze, (0.0, 0.0)], [(0.9, 0.9), (0.0, 0.0)]], np.float32)
    pixels = np.asarray(draw_overlay(images, gazes=gazes))
    blank = np.asarray(draw_overlay(images))
    s = scale_for(SIDE)
    left, top = _tile_origin(0)
    # x is the column, y the row pointing down, ±1 the outer pixel edges.
    col, row = to_pixels(np.array(gaze), SIDE * s, SIDE * s)
    assert col == pytest.approx((gaze[0] + 1) * SIDE * s / 2)
    spot = pixels[top + int(row), left + int(col)]
    assert tuple(spot) in (PALETTE[0], PALETTE[1])  # slot 0 (slot 1 sits on it at the centre)
    # Away from every gaze the image is untouched; the first tile's corner stays black.
    np.testing.assert_array_equal(pixels[top + 1, left + 1], [0, 0, 0])
    changed = np.argwhere(np.any(pixels != blank, axis=-1))
    assert len(changed) > 0
    assert changed[:, 0].min() >= top and changed[:, 1].min() >= left


def test_a_box_is_outlined_on_its_edges_and_clipped_to_the_tile():
    images = np.zeros((1, SIDE, SIDE, 1), np.float32)
    boxes = np.array([[[-0.5, -0.5, 0.5, 0.5], [-2.0, -2.0, 0.0, 0.0]]], np.float32)
    pixels = np.asarray(draw_overlay(images, boxes=boxes))
    s = scale_for(SIDE)
    left, top = _tile_origin(0)
    quarter, half = SIDE * s // 4, SIDE * s // 2
    assert tuple(pixels[top + half, left + quarter]) == PALETTE[0]  # left edge of box 0
    assert tuple(pixels[top + quarter, left + half]) == PALETTE[0]  # top edge
    assert tuple(pixels[top + half, left + half]) == (0, 0, 0)  # inside: not filled
    assert tuple(pixels[top, left + 5]) == PALETTE[1]  # box 1 leaves the image: clipped
    assert tuple(pixels[top - 1, left + 5]) != PALETTE[1]


def test_the_gaze_metrics_plot_needs_gaze_metrics(tmp_path):
    history = [
        {"epoch": e, "gaze/border_frac": b, "gaze/spread": 0.1, "val/clean_acc": 0.5}
        for e, b in ((1, 0.0), (2, 0.4), (3, 0.9))
    ]
    path = plot_gaze_metrics(history, tmp_path / "gaze_metrics.png", title="t")
    assert path == tmp_path / "gaze_metrics.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 400
    assert plot_gaze_metrics([{"epoch": 1, "val/clean_acc": 0.5}], tmp_path / "x.png") is None
    assert not (tmp_path / "x.png").exists()

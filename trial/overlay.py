"""What a model looks at: per-epoch gaze metrics and overlays, and the metrics over epochs.

`look` runs the model on a fixed split (the validation batch), computes the gaze/STN metrics of
learned gazes and draws the epoch's overlay. `draw_overlay` tiles the images (upscaled, nearest
neighbour) and draws each gaze point as a filled dot and each STN box as a rectangle, one colour
per gaze slot, with the true and predicted class under every tile. Coordinates follow
design.md: (x, y) in units of the image half-size, ±1 the outer pixel edges, so x maps to the
column (x + 1) / 2 · W. Drawn with Pillow (exact pixels, fast enough for every epoch).
`plot_gaze_metrics` draws the `gaze/*` and `stn/*` metrics of every epoch with matplotlib's Agg
canvas (headless; no pyplot global state).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from trial import metrics as M
from trial.gaze_metrics import gaze_metrics, stn_metrics

OVERLAY_IMAGES = 16  # fixed validation images drawn every epoch
LOOK_KEYS = ("gazes", "theta", "boxes")
COLUMNS = 4
TILE = 160  # minimum tile side in pixels: small images are upscaled by an integer factor
PAD = 6
LABEL = 14  # text strip under each tile
HEADER = 18
BACKGROUND = (255, 255, 255)
# One colour per gaze slot (Okabe-Ito: distinguishable with colour-blindness), cycled for K > 8.
PALETTE = [
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
    (255, 60, 60),
]


def scale_for(side: int) -> int:
    """The integer upscaling factor of an image side (at least 1)."""
    return max(1, math.ceil(TILE / side))


def overlay_size(n: int, height: int, width: int) -> tuple[int, int]:
    """(width, height) in pixels of the overlay of n images of height x width."""
    s = scale_for(max(height, width))
    rows = math.ceil(n / COLUMNS)
    cols = min(n, COLUMNS)
    return (
        cols * width * s + (cols + 1) * PAD,
        HEADER + rows * (height * s + LABEL) + (rows + 1) * PAD,
    )


def to_pixels(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """(..., 2) gaze-unit (x, y) -> (..., 2) pixel (column, row) positions (continuous)."""
    points = np.asarray(points, np.float64)
    return np.stack([(points[..., 0] + 1) / 2 * width, (points[..., 1] + 1) / 2 * height], -1)


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return (image[..., :3] * 255).round().astype(np.uint8)


def draw_overlay(
    images: np.ndarray,
    *,
    gazes: np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    predictions: np.ndarray | None = None,
    title: str = "",
) -> Image.Image:
    """The overlay of a batch.

    Args:
        images: (N, H, W, C) floats in [0, 1], C = 1 or 3.
        gazes: (N, K, 2) gaze points (x, y) in half-size units, drawn as dots.
        boxes: (N, K, 4) boxes (x_min, y_min, x_max, y_max) in the same units, drawn as outlines.
        labels, predictions: (N,) classes, written under each tile (red when they differ).
        title: a line above the tiles.

    Returns:
        An RGB image of size `overlay_size(N, H, W)`.
    """
    n, height, width = images.shape[:3]
    s = scale_for(max(height, width))
    canvas = Image.new("RGB", overlay_size(n, height, width), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((PAD, 3), title, fill=(0, 0, 0))
    radius = max(2, s * min(height, width) // 40)
    for i in range(n):
        row, col = divmod(i, COLUMNS)
        left = PAD + col * (width * s + PAD)
        top = HEADER + PAD + row * (height * s + LABEL + PAD)
        tile = Image.fromarray(_rgb(images[i])).resize((width * s, height * s), Image.NEAREST)
        canvas.paste(tile, (left, top))
        right, bottom = left + width * s - 1, top + height * s - 1
        for k, box in enumerate([] if boxes is None else boxes[i]):
            (x0, y0), (x1, y1) = to_pixels(np.reshape(box, (2, 2)), height * s, width * s)
            corners = [
                min(max(left + x0, left), right),
                min(max(top + y0, top), bottom),
                min(max(left + x1 - 1, left), right),
                min(max(top + y1 - 1, top), bottom),
            ]
            draw.rectangle(corners, outline=PALETTE[k % len(PALETTE)], width=max(1, s // 2))
        for k, gaze in enumerate([] if gazes is None else gazes[i]):
            cx, cy = to_pixels(gaze, height * s, width * s)
            cx, cy = min(max(left + cx, left), right), min(max(top + cy, top), bottom)
            draw.ellipse(
                [cx - radius, cy - radius, cx + radius, cy + radius],
                fill=PALETTE[k % len(PALETTE)],
                outline=(0, 0, 0),
            )
        if labels is not None:
            text = f"y={int(labels[i])}"
            wrong = predictions is not None and int(predictions[i]) != int(labels[i])
            if predictions is not None:
                text += f" pred={int(predictions[i])}"
            draw.text((left, bottom + 2), text, fill=(200, 0, 0) if wrong else (0, 0, 0))
    return canvas


def save_overlay(path: Path, images: np.ndarray, **kwargs: Any) -> Path:
    """Draws and writes the overlay PNG (folders created; written beside, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    draw_overlay(images, **kwargs).save(tmp, format="PNG")
    tmp.replace(path)
    return path


def model_outputs(model, split, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Inference-mode `logits`, and `gazes`/`theta`/`boxes` where the model has them."""
    outputs: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(split), batch_size):
        out = model(split.images[start : start + batch_size], training=False)
        for key in ("logits", *LOOK_KEYS):
            if key in out:
                outputs.setdefault(key, []).append(np.asarray(out[key]))
    return {k: np.concatenate(v) for k, v in outputs.items()}


def attention_metrics(outputs: dict[str, np.ndarray], split) -> dict[str, float]:
    """Gaze-collapse metrics from a model's outputs on a fixed batch of images."""
    metrics = gaze_metrics(outputs["gazes"], split.centres) if "gazes" in outputs else {}
    if "theta" in outputs and "boxes" in outputs:
        metrics.update(stn_metrics(outputs["theta"], outputs["boxes"]))
    return metrics


def look(
    model,
    split,
    *,
    epoch: int,
    folder: Path,
    learned: bool,
    title: str = "",
    batch_size: int = 256,
) -> dict[str, Any]:
    """One epoch's look at where a model looks, on a fixed split (e.g. the validation batch).

    Returns the gaze/STN metrics (when the model's gazes are `learned`) and, for any model with
    gazes or boxes, the path of `folder/overlays/epoch_XXXX.png` under `artifact/overlay`.
    """
    outputs = model_outputs(model, split, batch_size)
    metrics: dict[str, Any] = attention_metrics(outputs, split) if learned else {}
    if "gazes" in outputs or "boxes" in outputs:
        n = min(OVERLAY_IMAGES, len(split))
        path = save_overlay(
            folder / "overlays" / f"epoch_{epoch:04d}.png",
            split.images[:n],
            gazes=outputs["gazes"][:n] if "gazes" in outputs else None,
            boxes=outputs["boxes"][:n] if "boxes" in outputs else None,
            labels=split.labels[:n],
            predictions=np.argmax(outputs["logits"][:n], -1),
            title=title,
        )
        metrics[M.ARTIFACT_OVERLAY] = str(path)
    return metrics


PANELS = (
    ("where the gazes sit", ("gaze/border_frac", "gaze/center_frac", "gaze/collapsed")),
    ("how they vary", ("gaze/spread", "gaze/diversity")),
    ("distance to the object", ("gaze/object_dist", "gaze/object_dist_shuffled")),
    ("spatial transformers", ("stn/theta_saturation", "stn/bbox_edge_frac")),
    ("accuracy", ("val/clean_acc", "val/adv_acc")),
    ("loss terms", ("train/loss/ce", "train/loss/gaze_l2", "train/loss/aux")),
)


def plot_gaze_metrics(history: list[dict[str, Any]], path: Path, title: str = "") -> Path | None:
    """Writes the per-epoch gaze/STN metrics (and accuracy, loss terms) as one PNG.

    Args:
        history: the trial's per-epoch metrics, oldest first.
        path: where the PNG goes.
        title: the figure's title.

    Returns:
        The path, or None when no epoch carries a gaze metric.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    def series(key: str) -> tuple[list[int], list[float]]:
        rows = [r for r in history if isinstance(r.get(key), int | float)]
        return [int(r["epoch"]) for r in rows], [float(r[key]) for r in rows]

    panels = [(name, [k for k in keys if series(k)[0]]) for name, keys in PANELS]
    panels = [(name, keys) for name, keys in panels if keys]
    if not any(k.startswith(("gaze/", "stn/")) for _, keys in panels for k in keys):
        return None
    cols = 3 if len(panels) > 4 else 2
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.0 * rows), dpi=100)
    FigureCanvasAgg(fig)
    for i, (name, keys) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        for key in keys:
            xs, ys = series(key)
            ax.plot(xs, ys, marker="o", markersize=3, label=key)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, format="png")
    tmp.replace(path)
    return path

"""Gaze-collapse metrics: pure functions of gazes, STN θ and boxes (design.md, "Metric names").

Gazes are (N, K, 2) arrays in the project's units (image half-size; (0, 0) the centre, ±1 the
edges). The handover saw learned gazes run to the corners (±160 px of 160) or cluster in the
centre ([-10, 10] px); these numbers say, per epoch, whether a model is doing either.
"""

from __future__ import annotations

import numpy as np

from trial import metrics as M

BORDER = 0.9  # max(|x|, |y|) at or beyond this is "at the border" (the handover's ±160 px)
CENTRE = 0.1  # max(|x|, |y|) at or below this is "at the centre" (the handover's ±10 px)
MIN_SPREAD = 0.05
MIN_DIVERSITY = 0.1
SATURATED = 0.95  # |translation| of θ at or beyond this is saturated
EDGE = 0.05  # a box side within this of an image edge touches it
FULL = 0.9  # ... unless the box covers at least this share of the image along that axis


def _check(gazes: np.ndarray) -> np.ndarray:
    gazes = np.asarray(gazes, np.float64)
    if gazes.ndim != 3 or gazes.shape[-1] != 2 or len(gazes) == 0:
        raise ValueError(f"gazes must have shape (N, K, 2) with N > 0; got {gazes.shape}")
    return gazes


def _nearest_distance(gazes: np.ndarray, centres: np.ndarray) -> float:
    return float(np.linalg.norm(gazes - centres[:, None, :], axis=-1).min(axis=1).mean())


def gaze_metrics(gazes: np.ndarray, centres: np.ndarray | None = None) -> dict[str, float]:
    """The `gaze/*` metrics of a batch of gazes.

    Args:
        gazes: (N, K, 2) gazes of N images, K per image.
        centres: (N, 2) object centres in the same units, when the dataset knows them.
    """
    gazes = _check(gazes)
    n, k, _ = gazes.shape
    reach = np.abs(gazes).max(axis=-1)
    spread = float(gazes.std(axis=0).mean())  # std across images, per slot and axis, averaged
    if k > 1:
        pairs = np.linalg.norm(gazes[:, :, None] - gazes[:, None, :], axis=-1)
        diversity = float(pairs.sum(axis=(1, 2)).mean() / (k * (k - 1)))
    else:
        diversity = 0.0
    out = {
        M.GAZE_BORDER_FRAC: float((reach >= BORDER).mean()),
        M.GAZE_CENTER_FRAC: float((reach <= CENTRE).mean()),
        M.GAZE_SPREAD: spread,
        M.GAZE_DIVERSITY: diversity,
    }
    collapsed = (
        out[M.GAZE_BORDER_FRAC] > 0.5
        or spread < MIN_SPREAD
        or (k > 1 and diversity < MIN_DIVERSITY)
    )
    out[M.GAZE_COLLAPSED] = float(collapsed)
    if centres is not None:
        centres = np.asarray(centres, np.float64)
        if centres.shape != (n, 2):
            raise ValueError(f"centres must have shape ({n}, 2); got {centres.shape}")
        out[M.GAZE_OBJECT_DIST] = _nearest_distance(gazes, centres)
        # A look-anywhere baseline: the same gazes, each paired with another image's object.
        out[M.GAZE_OBJECT_DIST_SHUFFLED] = _nearest_distance(np.roll(gazes, 1, axis=0), centres)
    return out


def stn_metrics(theta: np.ndarray, boxes: np.ndarray) -> dict[str, float]:
    """The `stn/*` metrics of a batch of affine θ (N, K, 2, 3) and their boxes (N, K, 4).

    Boxes are (x_min, y_min, x_max, y_max) in normalised image coordinates.
    """
    theta = np.asarray(theta, np.float64)
    boxes = np.asarray(boxes, np.float64)
    if theta.shape[-2:] != (2, 3) or boxes.shape[-1] != 4 or theta.shape[:-2] != boxes.shape[:-1]:
        raise ValueError(
            f"theta (N, K, 2, 3) and boxes (N, K, 4) disagree: {theta.shape}, {boxes.shape}"
        )
    translations = theta[..., :, 2]
    x0, y0, x1, y1 = np.moveaxis(boxes, -1, 0)

    def clinging(lo, hi):
        touches = (lo <= -1 + EDGE) | (hi >= 1 - EDGE)
        return touches & ((hi - lo) / 2 < FULL)

    return {
        M.STN_THETA_SATURATION: float((np.abs(translations) >= SATURATED).mean()),
        M.STN_BBOX_EDGE_FRAC: float((clinging(x0, x1) | clinging(y0, y1)).mean()),
    }

"""Parallel coordinates: every varied parameter and the final figures, one line per trial,
coloured by the study metric (trials without final figures are left out)."""

from __future__ import annotations

import json
import math
from typing import Any

import matplotlib

from sweeper.report.plots import Context, Section, figure, png
from trial import metrics as M

TITLE = "Parallel coordinates"


def _axis(values: list[Any]) -> tuple[list[float], list[tuple[float, str]]]:
    """Positions in [0, 1] and tick labels for one axis."""
    present = [v for v in values if v is not None]
    numeric = present and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in present
    )
    if numeric:
        lo, hi = min(present), max(present)
        log = lo > 0 and hi / lo >= 100
        f = (lambda v: math.log10(v)) if log else (lambda v: v)
        span = (f(hi) - f(lo)) or 1.0
        pos = [0.5 if v is None or hi == lo else (f(v) - f(lo)) / span for v in values]
        return pos, [(0.0, f"{lo:.3g}"), (1.0, f"{hi:.3g}")] if hi != lo else [(0.5, f"{lo:.3g}")]
    cats = sorted({json.dumps(v) for v in values})
    step = 1 / max(1, len(cats) - 1)
    where = {c: (i * step if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
    pos = [where[json.dumps(v)] for v in values]
    return pos, [(where[c], str(json.loads(c))) for c in cats]


def render(ctx: Context) -> Section:
    trials = [t for t in ctx.trials if t.has_final]
    if not trials:
        return Section("parallel", TITLE, text="No trial has final figures yet.")
    axes_keys = [k for k in ctx.keys if k != "seed"] + [M.CLEAN_ACC, M.ADV_ACC]
    columns = [
        [t.final.get(k) if k in (M.CLEAN_ACC, M.ADV_ACC) else t.config.get(k) for t in trials]
        for k in axes_keys
    ]
    laid = [_axis(c) for c in columns]
    metric = [t.final.get(ctx.metric, t.final[M.ADV_ACC]) for t in trials]
    lo, hi = min(metric), max(metric)
    cmap = matplotlib.colormaps["viridis"]
    fig = figure(max(6, 1.6 * len(axes_keys)), 4.5)
    ax = fig.add_subplot()
    xs = list(range(len(axes_keys)))
    for i in range(len(trials)):
        shade = 0.5 if hi == lo else (metric[i] - lo) / (hi - lo)
        ax.plot(xs, [laid[a][0][i] for a in xs], color=cmap(shade), lw=2, alpha=0.85)
    for x, (_, ticks) in zip(xs, laid, strict=True):
        ax.axvline(x, color="0.3", lw=0.8)
        for y, label in ticks:
            ax.text(x + 0.03, y, label, fontsize=7, va="center")
    ax.set_xticks(xs, axes_keys, rotation=20, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    mappable = matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(lo, hi), cmap)
    fig.colorbar(mappable, ax=ax, label=ctx.metric)
    text = f"{len(trials)} trial(s) with final figures; colour: `{ctx.metric}`."
    return Section("parallel", TITLE, (("parallel coordinates", png(fig)),), text)

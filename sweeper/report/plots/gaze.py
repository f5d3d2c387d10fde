"""Gaze collapse over epochs, for trials whose model learns its gazes: the share of gazes at
the image border, the spread of each gaze across images, and the distance to the object."""

from __future__ import annotations

from sweeper.report.plots import Context, Section, figure, png

TITLE = "Gaze metrics over epochs"
KEYS = ("gaze/border_frac", "gaze/spread", "gaze/object_dist")


def render(ctx: Context) -> Section:
    trials = [t for t in ctx.trials if t.has_gazes]
    if not trials:
        return Section(
            "gaze", TITLE, text="No trial of this study has learned gazes (no `gaze/*` metrics)."
        )
    fig = figure(13, 4)
    axes = fig.subplots(1, len(KEYS), sharex=True)
    for ax, key in zip(axes, KEYS, strict=True):
        for t in trials:
            epochs, values = t.series(key)
            if epochs:
                ax.plot(
                    epochs, values, marker="o", ms=3, color=ctx.colour(t.family), label=ctx.label(t)
                )
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    last = "; ".join(
        f"{ctx.label(t)}: "
        + ", ".join(f"{k.split('/')[1]} {t.last(k):.3g}" for k in KEYS if t.last(k) is not None)
        for t in trials
    )
    return Section("gaze", TITLE, (("gaze metrics per epoch", png(fig)),), f"Last epoch: {last}.")

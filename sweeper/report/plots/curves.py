"""Per-epoch validation accuracy, clean and adversarial, per trial: where ASHA cut a trial
short, its line simply ends."""

from __future__ import annotations

from sweeper.report.plots import Context, Section, figure, png
from trial import metrics as M

TITLE = "Learning curves: validation accuracy per epoch"


def render(ctx: Context) -> Section:
    trials = [t for t in ctx.trials if t.series(M.VAL_CLEAN_ACC)[0]]
    if not trials:
        return Section("curves", TITLE, text="No trial has reported an epoch yet.")
    fig = figure(10, 4)
    axes = fig.subplots(1, 2, sharex=True)
    for ax, key in zip(axes, (M.VAL_CLEAN_ACC, M.VAL_ADV_ACC), strict=True):
        for t in trials:
            epochs, values = t.series(key)
            ax.plot(
                epochs, values, marker="o", ms=3, color=ctx.colour(t.family), label=ctx.label(t)
            )
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    text = f"{len(trials)} trial(s); the adversarial figure is PGD on the fixed validation batch."
    return Section("curves", TITLE, (("validation accuracy per epoch", png(fig)),), text)

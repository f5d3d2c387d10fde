"""Clean vs adversarial accuracy, one colour per model family, the Pareto front highlighted.

Only final figures are plotted (ASHA-stopped trials have per-epoch figures on a smaller
validation batch, which are not comparable). Error bars are the 95% Wilson intervals; a trial
whose sanity checks failed is drawn as a cross and kept off the front."""

from __future__ import annotations

from sweeper.report.plots import Context, Section, figure, png
from sweeper.report.stats import eligible, pareto_front, wilson
from trial import metrics as M

TITLE = "Pareto front: clean vs adversarial accuracy"


def render(ctx: Context) -> Section:
    done = [t for t in ctx.trials if t.has_final]
    if not done:
        return Section("pareto", TITLE, text="No trial has final figures yet.")
    fig = figure(7.5, 5)
    ax = fig.add_subplot()
    labelled = set()
    for t in done:
        x, y = t.final[M.CLEAN_ACC], t.final[M.ADV_ACC]
        ok = eligible(t)
        xerr = yerr = None
        if t.n_test:
            lo, hi = wilson(x, t.n_test)
            xerr = [[x - lo], [hi - x]]
            lo, hi = wilson(y, t.n_test)
            yerr = [[y - lo], [hi - y]]
        label = t.family if t.family not in labelled else None
        labelled.add(t.family)
        ax.errorbar(
            x,
            y,
            xerr=xerr,
            yerr=yerr,
            fmt="o" if ok else "x",
            color=ctx.colour(t.family),
            ecolor="0.75",
            markersize=7,
            label=label,
        )
    ranked = [t for t in done if eligible(t)]
    front = [
        ranked[i]
        for i in pareto_front([(t.final[M.CLEAN_ACC], t.final[M.ADV_ACC]) for t in ranked])
    ]
    if front:
        xs = [t.final[M.CLEAN_ACC] for t in front]
        ys = [t.final[M.ADV_ACC] for t in front]
        ax.plot(xs, ys, "-", color="black", lw=1.2, zorder=0, label="Pareto front")
        ax.scatter(xs, ys, s=180, facecolors="none", edgecolors="black", lw=1.5)
        for t in front:
            ax.annotate(
                ctx.names[t.name],
                (t.final[M.CLEAN_ACC], t.final[M.ADV_ACC]),
                textcoords="offset points",
                xytext=(6, 6),
                fontsize=8,
            )
    ax.set_xlabel("clean_acc")
    ax.set_ylabel("adv_acc")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    crossed = len(done) - len(ranked)
    text = "On the front: " + (", ".join(f"{ctx.label(t)}" for t in front) or "none") + "."
    if crossed:
        text += f" {crossed} trial(s) drawn as crosses: failed checks or not completed."
    skipped = len(ctx.trials) - len(done)
    if skipped:
        text += f" {skipped} trial(s) without final figures are not plotted."
    return Section("pareto", TITLE, (("clean vs adversarial accuracy", png(fig)),), text)

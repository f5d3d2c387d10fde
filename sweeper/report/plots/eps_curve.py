"""Robust accuracy against ε, per trial, where the attack suite measured a curve
(`adv_curve/<norm>/<eps>` final metrics, from `attack.eps_curve`)."""

from __future__ import annotations

from sweeper.report.plots import Context, Section, figure, png

TITLE = "Robust accuracy vs ε"


def curve(final: dict) -> dict[str, list[tuple[float, float]]]:
    """norm -> sorted (eps, accuracy) points of a trial's curve."""
    out: dict[str, list[tuple[float, float]]] = {}
    for key, value in final.items():
        parts = key.split("/")
        if parts[0] == "adv_curve" and len(parts) == 3 and isinstance(value, int | float):
            out.setdefault(parts[1], []).append((float(parts[2]), float(value)))
    return {norm: sorted(points) for norm, points in out.items()}


def render(ctx: Context) -> Section:
    curves = {t.name: curve(t.final) for t in ctx.trials}
    trials = [t for t in ctx.trials if curves[t.name]]
    if not trials:
        return Section(
            "eps_curve",
            TITLE,
            text="No trial measured a curve (set `attack.eps_curve` in the study to get one).",
        )
    norms = sorted({n for t in trials for n in curves[t.name]})
    fig = figure(5.5 * len(norms), 4)
    axes = fig.subplots(1, len(norms), squeeze=False)[0]
    for ax, norm in zip(axes, norms, strict=True):
        for t in trials:
            points = curves[t.name].get(norm)
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", ms=3, color=ctx.colour(t.family), label=ctx.label(t))
        ax.set_title(f"{norm}", fontsize=10)
        ax.set_xlabel("ε")
        ax.set_ylabel("robust accuracy")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    text = f"{len(trials)} trial(s) with a curve."
    return Section("eps_curve", TITLE, (("robust accuracy vs ε", png(fig)),), text)

"""The gaze overlays of the best gaze model: the PNGs the trial saved
(`overlays/epoch_XXXX.png`) at its first, middle and last epoch, embedded as they are."""

from __future__ import annotations

from sweeper.report.plots import Context, Section
from sweeper.report.stats import eligible
from trial import metrics as M

TITLE = "Gaze overlays of the best gaze model"


def render(ctx: Context) -> Section:
    gazers = [t for t in ctx.trials if t.has_gazes]
    if not gazers:
        return Section("overlays", TITLE, text="No trial of this study has learned gazes.")
    ranked = [t for t in gazers if eligible(t)]
    if ranked:  # the report order is best first
        best, why = ranked[0], f"best `{ctx.metric}` among gaze models"
    else:
        best = max(gazers, key=lambda t: t.last(M.VAL_CLEAN_ACC) or 0.0)
        why = "no gaze model has ranked final figures; highest last `val/clean_acc`"
    folder = f"{best.name}/overlays"
    files = [n for n, is_dir in ctx.store.listdir(folder) if not is_dir and n.endswith(".png")]
    if not files:
        return Section(
            "overlays",
            TITLE,
            text=f"{ctx.label(best)} ({why}): overlays are missing "
            f"(expected {folder}/epoch_XXXX.png; the trial runner saved none).",
        )
    picks = sorted({files[0], files[len(files) // 2], files[-1]})
    images = tuple(
        (f"{ctx.label(best)}: {n}", ctx.store.read_bytes(f"{folder}/{n}")) for n in picks
    )
    text = f"{ctx.label(best)} ({why}); {len(files)} overlay(s)."
    return Section("overlays", TITLE, images, text, pixelated=True)

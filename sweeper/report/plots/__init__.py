"""The report's plots: one module per plot, registered by name below.

A plot module has a `TITLE` and `render(ctx: Context) -> Section`: PNG images (matplotlib, Agg
backend, no display needed) and a short text of what it shows or why it is missing. A new plot
is one module plus one line in `PLOTS`.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import logging
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: never open a window, never need a display

from matplotlib.figure import Figure

from sweeper.report.stats import Best
from sweeper.report.store import Store
from sweeper.report.trials import TrialRecord

log = logging.getLogger(__name__)
PLOTS = (  # report order
    "pareto",  # clean vs adversarial accuracy, front highlighted
    "curves",  # val/clean_acc and val/adv_acc over epochs
    "eps_curve",  # robust accuracy vs ε
    "importance",  # fANOVA parameter importance (Optuna)
    "parallel",  # parallel coordinates of parameters and figures
    "gaze",  # gaze-collapse metrics over epochs
    "overlays",  # gaze overlays of the best gaze model
)


@dataclasses.dataclass(frozen=True)
class Context:
    """What every plot may use."""

    trials: list[TrialRecord]  # in report order
    metric: str
    mode: str
    keys: list[str]  # the config keys that vary
    names: dict[str, str]  # trial folder -> readable run name
    best: Best
    store: Store

    def label(self, trial: TrialRecord) -> str:
        return f"{self.names[trial.name]} ({trial.name.removeprefix('trial_')})"

    def colour(self, family: str) -> Any:
        families = sorted({t.family for t in self.trials})
        return matplotlib.colormaps["tab10"](families.index(family) % 10)


@dataclasses.dataclass(frozen=True)
class Section:
    """One plot's part of the report."""

    name: str
    title: str
    images: tuple[tuple[str, bytes], ...] = ()  # (caption, PNG bytes)
    text: str = ""  # what it shows, or why there is nothing to show
    pixelated: bool = False  # images are small pictures to show enlarged (overlays), not plots


def figure(width: float = 7.0, height: float = 4.5) -> Figure:
    """A figure that belongs to no pyplot state (thread-safe, never shown)."""
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def render_all(ctx: Context) -> list[Section]:
    """Every registered plot; a plot that fails, or whose module cannot even be imported (a
    missing optional dependency, a syntax error), says so in its own section instead of failing
    the report."""
    sections = []
    for name in PLOTS:
        title = name
        try:
            module = importlib.import_module(f"sweeper.report.plots.{name}")
            title = module.TITLE
            section = module.render(ctx)
        except Exception as err:  # a broken plot must not cost the leaderboard or other plots
            log.warning("report plot %r failed (%r); its section says so", name, err)
            section = Section(name, title, text=f"Could not draw this plot: {err!r}")
        sections.append(section)
    return sections

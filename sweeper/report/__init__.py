"""The study report: `report.md`, `report.csv` and a self-contained `report.html`.

Built from the stored results alone (`python sweeper/run.py --report runs/<study>`, local or
URI storage) and written at the end of every study: the leaderboard with the threat model, 95%
Wilson intervals, spreads over seeds, each trial's ending and its sanity-check verdicts (a
number whose checks failed is marked and not ranked); the best trial by a stated rule; and the
plots registered in `sweeper.report.plots`. A folder may hold the trials of several studies.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections import Counter
from pathlib import Path

from sweeper.report import html as H
from sweeper.report.plots import Context, Section, render_all
from sweeper.report.stats import (
    DEFAULT_MAX_CLEAN_LOSS,
    Best,
    best_trial,
    eligible,
    order,
    threat_model,
    varied_keys,
)
from sweeper.report.store import Store
from sweeper.report.tables import (
    accuracy_cell,
    csv_rows,
    interval,
    leaderboard,
    markdown_table,
    seeds_table,
    status_text,
)
from sweeper.report.trials import TrialRecord, collect
from trial import metrics as M

__all__ = [
    "DEFAULT_MAX_CLEAN_LOSS",
    "Report",
    "Store",
    "TrialRecord",
    "build",
    "collect",
    "save",
    "write",
]
FILES = ("report.md", "report.csv", "report.html")


@dataclasses.dataclass(frozen=True)
class Report:
    """A rendered report (what `write` stores, and what the study's W&B run shows)."""

    study: str
    trials: list[TrialRecord]
    board: tuple[list[str], list[list[str]]]
    best: Best
    sections: list[Section]
    markdown: str
    csv: str
    html: str


def _metric(store: Store, metric: str | None, mode: str | None) -> tuple[str, str]:
    """The ranking metric: as given, else the study's own (study.json), else adv_acc."""
    if metric and mode:
        return metric, mode
    if store.exists("study.json"):
        try:
            name, goal = json.loads(store.read_text("study.json"))["metric"]
            return str(name), "min" if goal == "minimize" else "max"
        except (ValueError, KeyError, TypeError):
            pass
    return M.ADV_ACC, "max"


def _ending_summary(trials: list[TrialRecord]) -> str:
    counts = Counter(t.status for t in trials)
    words = {
        "stopped": "stopped by ASHA",
        "pending": "not started",
        "over_time_budget": "over time budget",
    }
    return ", ".join(f"{n} {words.get(s, s)}" for s, n in counts.most_common())


def _overlap_note(trials: list[TrialRecord], metric: str) -> list[str]:
    """Says when the top two ranked trials cannot be told apart at this many test images."""
    ranked = [t for t in trials if eligible(t)][:2]
    if len(ranked) < 2 or metric not in (M.CLEAN_ACC, M.ADV_ACC):
        return []
    a, b = (interval(t, metric) for t in ranked)
    if a is None or b is None or a[0] > b[1]:
        return []
    return [
        f"The 95% intervals of the top two trials' `{metric}` overlap ({ranked[0].name} "
        f"[{a[0]:.3f}, {a[1]:.3f}], {ranked[1].name} [{b[0]:.3f}, {b[1]:.3f}]): their order is "
        "not established at this number of test images."
    ]


def _best_text(best: Best, names: dict[str, str]) -> str:
    if best.trial is None:
        return f"Best trial: none yet (no completed trial with passing checks). Rule: {best.rule}."
    t = best.trial
    return (
        f"Best trial: {t.name} ({names[t.name]}): clean_acc "
        f"{accuracy_cell(t, M.CLEAN_ACC, M.VAL_CLEAN_ACC)}, adv_acc "
        f"{accuracy_cell(t, M.ADV_ACC, M.VAL_ADV_ACC)}. Rule: {best.rule}."
    )


def build(
    location: str | Path,
    metric: str | None = None,
    mode: str | None = None,
    *,
    max_clean_loss: float = DEFAULT_MAX_CLEAN_LOSS,
) -> Report:
    """Reads a study folder and renders its report (writes nothing)."""
    from sweeper.wandb_run import run_name

    if not 0 <= max_clean_loss <= 1:
        raise ValueError(
            f"max clean-accuracy loss {max_clean_loss} must lie in [0, 1] (accuracy points, "
            "e.g. 0.05)"
        )
    store = Store(location)
    if not store.is_dir():
        raise FileNotFoundError(
            f"{store.url('')}: no such folder; give a study's folder, e.g. runs/demo"
        )
    metric, mode = _metric(store, metric, mode)
    trials = collect(store)
    if not trials:
        raise FileNotFoundError(
            f"{store.url('')} holds no trial folders (trial_*/params.json); is it a study's "
            "folder, e.g. runs/demo?"
        )
    keys = varied_keys(trials)
    names = {t.name: run_name(t.config, varied=keys) for t in trials}
    trials = order(trials, metric, mode)
    best = best_trial(trials, max_clean_loss)
    ctx = Context(trials, metric, mode, keys, names, best, store)
    sections = render_all(ctx)
    board = leaderboard(trials, keys, names)
    seeds = seeds_table(trials, keys)
    goal = "higher" if mode == "max" else "lower"
    intro = [
        f"Ranked by `{metric}` ({goal} is better); {threat_model(trials)}. "
        f"{len(trials)} trial(s): {_ending_summary(trials)}.",
        "Accuracies carry 95% Wilson intervals over the attacked test images. `(val)` marks a "
        "trial's last per-epoch figures (it never reached the final evaluation; not ranked). "
        "A figure whose sanity checks failed is marked FAILED and not ranked.",
    ]
    intro += _overlap_note(trials, metric)
    best_line = _best_text(best, names)
    md = [f"# Study report: {store.name}", "", *intro, "", f"**{best_line}**", ""]
    md += ["## Leaderboard", "", markdown_table(*board), ""]
    if seeds:
        md += ["## Over seeds (mean ± sample std)", "", markdown_table(*seeds), ""]
    for sec in sections:
        md += [f"## {sec.title}", "", sec.text or "", ""]
    md.append("Plots: report.html (self-contained; open it in any browser).")
    buffer = io.StringIO()
    csv.writer(buffer).writerows(csv_rows(trials, keys, names))
    title = f"Study report: {store.name}"
    page = H.page(title, intro, best_line, board, seeds, sections)
    return Report(
        store.name, trials, board, best, sections, "\n".join(md) + "\n", buffer.getvalue(), page
    )


def save(report: Report, location: str | Path) -> str:
    """Writes report.md/.csv/.html into the study folder; returns the Markdown (with where the
    files are) for the console."""
    store = Store(location)
    store.write_text("report.md", report.markdown)
    store.write_text("report.csv", report.csv)
    store.write_text("report.html", report.html)
    return report.markdown + f"\nReport written to {store.url('report.html')} (and .md, .csv)\n"


def write(
    location: str | Path,
    metric: str | None = None,
    mode: str | None = None,
    *,
    max_clean_loss: float = DEFAULT_MAX_CLEAN_LOSS,
) -> str:
    """Builds and saves the report of a study folder; returns the console text."""
    return save(build(location, metric, mode, max_clean_loss=max_clean_loss), location)


def status_of(trial: TrialRecord) -> str:
    """How a trial ended, in words (e.g. `stopped by ASHA at epoch 2`)."""
    return status_text(trial)

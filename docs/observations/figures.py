"""Builds the figures of docs/observations.md from the reproduction runs' folders.

    .venv/bin/python docs/observations/figures.py NAME=RUN_DIR [NAME=RUN_DIR ...]

Reads each run's per-epoch history from its last checkpoint, draws the gaze and STN metrics of
all runs side by side (`compare.png`) and copies each run's first and last overlay and its
`gaze_metrics.png` next to this script, named after the run.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trial import checkpoint as C

HERE = Path(__file__).resolve().parent
PANELS = (
    ("gaze/border_frac", "share of gazes at the border (max |x|,|y| ≥ 0.9)"),
    ("gaze/center_frac", "share of gazes at the centre (max |x|,|y| ≤ 0.1)"),
    ("gaze/spread", "spread of each gaze across images"),
    ("gaze/object_dist", "nearest gaze to the digit (dashed: gazes of other images)"),
    ("stn/theta_saturation", "share of θ translations with |t| ≥ 0.95"),
    ("stn/bbox_edge_frac", "share of boxes touching an edge"),
    ("val/clean_acc", "validation accuracy"),
)


def main(argv: list[str]) -> int:
    runs = dict(arg.rsplit("=", 1) for arg in argv)  # NAME may itself hold "="
    histories = {}
    for name, run_dir in runs.items():
        last = C.find(Path(run_dir), "last")
        histories[name] = C.read_state(last)["history"]
        overlays = sorted((Path(run_dir) / "overlays").glob("epoch_*.png"))
        for label, path in (("first", overlays[0]), ("last", overlays[-1])):
            shutil.copy(path, HERE / f"{name}-overlay-{label}.png")
        shutil.copy(Path(run_dir) / "gaze_metrics.png", HERE / f"{name}-gaze_metrics.png")
    fig = Figure(figsize=(16, 7.5), dpi=90)
    FigureCanvasAgg(fig)
    for i, (key, title) in enumerate(PANELS):
        ax = fig.add_subplot(2, 4, i + 1)
        for colour, (name, history) in enumerate(histories.items()):
            rows = [r for r in history if key in r]
            if rows:
                xs = [r["epoch"] for r in rows]
                ax.plot(xs, [r[key] for r in rows], marker="o", color=f"C{colour}", label=name)
            if key == "gaze/object_dist" and rows:  # what looking anywhere gets
                base = [r["gaze/object_dist_shuffled"] for r in rows]
                ax.plot(xs, base, linestyle="--", color=f"C{colour}", label=f"{name} (shuffled)")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "compare.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

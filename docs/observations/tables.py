"""Prints the numbers of docs/observations.md from the reproduction runs' folders.

    .venv/bin/python docs/observations/tables.py NAME=RUN_DIR [NAME=RUN_DIR ...]

Per run: a markdown table of the per-epoch gaze/STN metrics and validation accuracy, read from
the history in the run's last checkpoint (so nothing is copied by hand), then where each gaze
slot sits at the last epoch. The metrics only say *how many* gazes sit at the border or the
centre; the per-slot means (inference with the stored weights on the same fixed validation batch
the trial looked at) say *where* each slot went relative to its initial point. The metrics
recomputed here are printed too: they must equal the history's last row.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from trial import checkpoint as C

COLUMNS = (
    ("epoch", "epoch"),
    ("gaze/border_frac", "border_frac"),
    ("gaze/center_frac", "center_frac"),
    ("gaze/spread", "spread"),
    ("gaze/object_dist", "object_dist"),
    ("gaze/object_dist_shuffled", "(shuffled)"),
    ("stn/theta_saturation", "θ saturation"),
    ("stn/bbox_edge_frac", "bbox_edge_frac"),
    ("val/clean_acc", "val/clean_acc"),
)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"


def table(history: list[dict]) -> str:
    """The per-epoch markdown table; STN columns only when the run has them."""
    cols = [(k, t) for k, t in COLUMNS if any(k in row for row in history)]
    lines = [
        "| " + " | ".join(t for _, t in cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(_cell(row.get(k)) for k, _ in cols) + " |" for row in history]
    return "\n".join(lines)


def slots(checkpoint: Path) -> str:
    """Where each gaze slot (and STN box) sits at this checkpoint, on the trial's val batch."""
    from models.gaze import initial_points
    from trial.overlay import attention_metrics, model_outputs
    from trial.reevaluate import load_model

    cfg, model, data = load_model(checkpoint)
    split = data.val.take(cfg.attack.val_examples)
    out = model_outputs(model, split)
    init = initial_points(cfg.model.num_transformers, cfg.model.gaze_init, cfg.model.seed)
    g = out["gazes"]
    stn = " mean scale (sx, sy) | share of θ translations ≥ 0.95 in size |"
    lines = [
        f"recomputed on {len(split)} val images: "
        + ", ".join(f"{k}={v:.4g}" for k, v in attention_metrics(out, split).items()),
        "| slot | initial (x, y) | mean (x, y) | std (x, y) | max abs coordinate |"
        + (stn if "theta" in out else ""),
        "|---|---|---|---|---|" + ("---|---|" if "theta" in out else ""),
    ]
    for k in range(g.shape[1]):
        row = (
            f"| {k} | ({init[k, 0]:+.2f}, {init[k, 1]:+.2f}) "
            f"| ({g[:, k, 0].mean():+.3f}, {g[:, k, 1].mean():+.3f}) "
            f"| ({g[:, k, 0].std():.3f}, {g[:, k, 1].std():.3f}) "
            f"| {np.abs(g[:, k]).max():.3f} |"
        )
        if "theta" in out:
            th = out["theta"][:, k]
            sat = (np.abs(th[:, :, 2]) >= 0.95).mean()
            row += f" ({th[:, 0, 0].mean():.3f}, {th[:, 1, 1].mean():.3f}) | {sat:.3f} |"
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for arg in argv:
        name, run_dir = arg.rsplit("=", 1)  # NAME may itself hold "="
        last = C.find(Path(run_dir), "last")
        state = C.read_state(last)
        history = state["history"]
        final = history[-1]
        print(f"## {name} ({run_dir}, {len(history)} epochs, status {state.get('status')})\n")
        print(table(history) + "\n")
        finals = ("clean_acc", "adv_acc", "n_test", "attack_budget")
        print("final evaluation: " + ", ".join(f"{k}={final.get(k)}" for k in finals) + "\n")
        print(f"last checkpoint {last.name}:\n")
        print(slots(last) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

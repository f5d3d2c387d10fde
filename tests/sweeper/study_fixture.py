"""A small stored study, written the way Ray Tune lays one out, for report and W&B tests.

`<study>/trial_<id>/params.json` ({"trial": flat config}) and `result.json` (one JSON line per
report), `error.txt` for an errored trial, overlay PNGs for a gaze model, and Tune's experiment
state file saying which trials it terminated. Every kind of ending a report must tell apart is in
here: completed, completed with a failed sanity check, stopped by ASHA, diverged, errored, over
time budget, interrupted; two trials differ only in their seed.
"""

from __future__ import annotations

import json
from pathlib import Path

EPS = 2 / 255
N_TEST = 200


def epoch(e: int, clean: float, adv: float, **extra) -> dict:
    return {"epoch": e, "train/loss": 2.0 / e, "val/clean_acc": clean, "val/adv_acc": adv, **extra}


def gaze(e: int) -> dict:
    return {
        "gaze/border_frac": 0.1 * e,
        "gaze/spread": 0.3 / e,
        "gaze/object_dist": 0.5 - 0.05 * e,
        "gaze/collapsed": 0,
    }


def final(clean: float, adv: float, checks: dict[str, str] | None = None, **extra) -> dict:
    checks = checks or {"gradients": "pass", "unconstrained": "pass"}
    return {
        "clean_acc": clean,
        "adv_acc": adv,
        f"adv_acc/linf/apgd_ce/{EPS:.4g}": adv + 0.01,
        f"adv_acc/linf/apgd_dlr/{EPS:.4g}": adv,
        "attack_budget": "demo",
        "n_test": N_TEST,
        **{f"check/{k}": v for k, v in checks.items()},
        # the numbers a verdict qualifies, as the attack suite reports them beside it
        "check/unconstrained/acc": 0.05,
        "check/gradients/zero_frac": 0.0,
        "checks_passed": int(all(v == "pass" for v in checks.values())),
        "status": "completed",
        **extra,
    }


def curve(scale: float) -> dict:
    return {
        f"adv_curve/linf/{e:.4g}": max(0.0, 0.9 - scale * e * 40)
        for e in (0, 1 / 255, EPS, 4 / 255)
    }


BASE = {"attack.eps": EPS, "attack.budget": "demo", "train.epochs": 3}

# name -> (config, results, error text, Tune status)
TRIALS: dict[str, tuple[dict, list[dict], str, str]] = {
    "trial_a": (
        {"model.kind": "resnet", "train.learning_rate": 0.001, "seed": 0},
        [
            epoch(1, 0.5, 0.2),
            epoch(2, 0.8, 0.3),
            {**epoch(3, 0.9, 0.3), **final(0.90, 0.30, **curve(1.0))},
        ],
        "",
        "TERMINATED",
    ),
    "trial_b": (
        {"model.kind": "resnet", "train.learning_rate": 0.003, "seed": 0},
        [epoch(1, 0.6, 0.2), epoch(2, 0.85, 0.3), {**epoch(3, 0.9, 0.35), **final(0.92, 0.35)}],
        "",
        "TERMINATED",
    ),
    "trial_c": (
        {"model.kind": "resnet", "train.learning_rate": 0.003, "seed": 1},
        [epoch(1, 0.6, 0.2), epoch(2, 0.85, 0.3), {**epoch(3, 0.9, 0.33), **final(0.91, 0.33)}],
        "",
        "TERMINATED",
    ),
    "trial_d": (  # the best gaze model; saves overlays
        {
            "model.kind": "multi_gaze",
            "model.num_transformers": 5,
            "model.shared": True,
            "model.gaze_l2": 0.01,
            "model.gaze_init": "grid",
            "train.learning_rate": 0.001,
            "seed": 0,
        },
        [
            epoch(1, 0.5, 0.3, **gaze(1)),
            epoch(2, 0.7, 0.4, **gaze(2)),
            {**epoch(3, 0.8, 0.5, **gaze(3)), **final(0.85, 0.50, **curve(0.5))},
        ],
        "",
        "TERMINATED",
    ),
    "trial_e": (  # the highest adv_acc, but a sanity check failed: marked, never ranked
        {
            "model.kind": "multi_gaze",
            "model.num_transformers": 3,
            "model.shared": False,
            "model.gaze_l2": 0.0,
            "model.gaze_init": "centre",
            "train.learning_rate": 0.003,
            "seed": 0,
        },
        [
            epoch(1, 0.5, 0.4, **gaze(1)),
            epoch(2, 0.8, 0.6, **gaze(2)),
            {
                **epoch(3, 0.88, 0.7, **gaze(3)),
                **final(0.88, 0.70, {"gradients": "fail", "unconstrained": "pass"}),
            },
        ],
        "",
        "TERMINATED",
    ),
    "trial_f": (  # ASHA stopped it after epoch 2
        {"model.kind": "retinal", "train.learning_rate": 0.001, "seed": 0},
        [epoch(1, 0.3, 0.1), epoch(2, 0.4, 0.15)],
        "",
        "TERMINATED",
    ),
    "trial_g": (
        {"model.kind": "cortical", "train.learning_rate": 0.001, "seed": 0},
        [epoch(1, 0.3, 0.1)],
        "Traceback (most recent call last):\nRuntimeError: out of memory",
        "ERROR",
    ),
    "trial_h": (
        {"model.kind": "resnet", "train.learning_rate": 0.01, "seed": 0},
        [{"epoch": 1, "train/loss": float("nan"), "status": "diverged"}],
        "",
        "TERMINATED",
    ),
    "trial_i": (  # the final evaluation as its own reported steps (phase: evaluation)
        {"model.kind": "coarse_fixations", "train.learning_rate": 0.001, "seed": 0},
        [
            epoch(1, 0.6, 0.3),
            epoch(2, 0.8, 0.4),
            epoch(3, 0.88, 0.45),
            {"phase": "evaluation", "epoch": 3, "eval/progress": 0.5},
            {"phase": "evaluation", "epoch": 3, **final(0.89, 0.45)},
        ],
        "",
        "TERMINATED",
    ),
    "trial_j": (
        {"model.kind": "resnet", "train.learning_rate": 0.0003, "seed": 0},
        [epoch(1, 0.4, 0.1), {**epoch(2, 0.6, 0.2), "status": "over_time_budget"}],
        "",
        "TERMINATED",
    ),
    "trial_k": (  # the study was interrupted while it ran
        {"model.kind": "coarse_fixations", "train.learning_rate": 0.003, "seed": 0},
        [epoch(1, 0.5, 0.2)],
        "",
        "PENDING",
    ),
}


def png(seed: int) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_study(root: Path, name: str = "fixture", trials: dict | None = None) -> Path:
    """Writes the study under `root/name` and returns its folder."""
    study = root / name
    study.mkdir(parents=True)
    state = []
    for trial, (config, results, error, status) in (trials or TRIALS).items():
        folder = study / trial
        folder.mkdir()
        (folder / "params.json").write_text(json.dumps({"trial": {**BASE, **config}}))
        (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in results))
        if error:
            (folder / "error.txt").write_text(error)
        state.append(
            [json.dumps({"trial_id": trial[6:], "status": status, "relative_logdir": trial}), "{}"]
        )
    (study / "trial_d" / "overlays").mkdir()
    for e in (1, 2, 3):
        (study / "trial_d" / "overlays" / f"epoch_{e:04d}.png").write_bytes(png(e))
    (study / "experiment_state-2026-01-01_00-00-00.json").write_text(
        json.dumps({"trial_data": state})
    )
    (study / "study.json").write_text(json.dumps({"metric": ["adv_acc", "maximize"]}))
    return study

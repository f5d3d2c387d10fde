"""Re-attack a stored trial without retraining (`python -m trial --evaluate RUN_DIR`).

The trial's config comes from its checkpoint; only evaluation settings may be overridden (every
`attack.*` key, `data.test_size`, `data.data_dir`: `trial.config.is_evaluation_key`), because
anything else would describe a model that was never trained. The model is rebuilt, its weights
are loaded by name, the final evaluation runs, and the result is recorded beside the trial's own
as `evaluations/<UTC time>-<budget>.json`, never overwriting an earlier record.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from trial import checkpoint as C
from trial.config import TrialConfig, is_evaluation_key

log = logging.getLogger(__name__)


def trial_folder(checkpoint: Path) -> Path:
    """The trial's folder of one of its checkpoints (where `evaluations/` goes)."""
    parent = checkpoint.parent
    return parent.parent if parent.name == "checkpoints" else parent


def check_overrides(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The overrides, if each is an evaluation key; else ValueError naming the others."""
    overrides = dict(overrides or {})
    refused = sorted(k for k in overrides if not is_evaluation_key(k))
    if refused:
        raise ValueError(
            f"--evaluate may change only evaluation settings (attack.*, data.test_size, "
            f"data.data_dir); {', '.join(refused)} would describe a model that was never "
            "trained: train a new trial instead"
        )
    return overrides


def load_model(checkpoint: Path, overrides: dict[str, Any] | None = None):
    """Builds a stored trial's model with its weights.

    Args:
        checkpoint: an epoch folder (see `trial.checkpoint.find`).
        overrides: evaluation keys to change in the stored config.

    Returns:
        (cfg, model, data) ready for `final_evaluation`.
    """
    import keras

    import models
    from trial.data import load
    from trial.devices import configure_precision

    overrides = check_overrides(overrides)
    saved = C.read_state(checkpoint).get("config")
    if not saved:
        raise ValueError(f"checkpoint {checkpoint} holds no config ({C.STATE} lacks 'config')")
    cfg = TrialConfig.from_dict({**saved, **overrides})
    configure_precision(cfg)
    keras.utils.set_random_seed(cfg.seed)
    data = load(cfg.data)
    model = models.build(cfg.model, data.input_shape, data.num_classes)
    C.restore(checkpoint, C.named_variables(model), prefixes=("model/", "rng/model/"))
    return cfg, model, data


def _record_path(folder: Path, budget: str) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = folder / f"{stamp}-{budget}{'' if n == 1 else f'-{n}'}.json"
        try:
            path.touch(exist_ok=False)  # claims the name: two evaluations never share a file
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not find a free record name in {folder}")


def describe(checkpoint: Path, which: str) -> str:
    """Which stored epoch `--evaluate` attacks, and how it relates to the trial's own figures
    (which come from its last epoch: the final evaluation attacks the last epoch's model, and a
    trial ASHA stopped reports its last epoch's)."""
    state = C.read_state(checkpoint)
    epoch = state.get("epoch")
    if which == "last":
        return (
            f"epoch {epoch} ({checkpoint}): the last checkpoint, the model the trial's reported "
            "figures (and the leaderboard's) come from"
        )
    metric = state.get("best_metric", "val/clean_acc")
    return (
        f"epoch {epoch} ({checkpoint}): the best checkpoint by {metric}, which need not be the "
        "model the trial's reported figures come from (those are the last checkpoint's: "
        "--checkpoint last)"
    )


def reevaluate(
    run_dir: Path | str, which: str = "last", overrides: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Path]:
    """Re-attacks a stored trial.

    Args:
        run_dir: a `python -m trial` workdir, a study's trial folder, or a checkpoint folder.
        which: `last` (the model the trial's figures come from) or `best` checkpoint.
        overrides: evaluation keys (e.g. {"attack.budget": "standard"}).

    Returns:
        The record (checkpoint, epoch, overrides, config and metrics) and where it was written.
    """
    from trial.run import final_evaluation

    check_overrides(overrides)
    checkpoint = C.find(Path(run_dir), which)
    epoch = C.read_state(checkpoint).get("epoch")
    log.info("re-evaluating %s", describe(checkpoint, which))
    cfg, model, data = load_model(checkpoint, overrides)
    metrics = final_evaluation(cfg, model, data)
    record = {
        "evaluated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "checkpoint": str(checkpoint),
        "which": which,
        "epoch": epoch,
        "overrides": dict(overrides or {}),
        "config": cfg.to_dict(),
        **metrics,
    }
    path = _record_path(trial_folder(checkpoint) / "evaluations", cfg.attack.budget)
    path.write_text(json.dumps(record, indent=1, default=str))
    return record, path

"""Under Tune, a trial keeps its best checkpoint, overlays and gaze plot in its study folder.

The sweeper's class trainable is driven here the way Tune drives it (train, save, restore), in
this process and without a Ray cluster, so the test costs a tiny trial, not a Ray start.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trial import checkpoint as C
from trial import metrics as M

TRIAL = {
    "model.kind": "soft_attention",
    "model.backbone": "resnet20",
    "model.width": 8,
    "model.blocks": 1,
    "model.localiser_width": 8,
    "train.epochs": 4,
    "train.batch_size": 32,
    "train.learning_rate": 0.003,
    "data.image_size": 16,
    "data.digit_size": 10,
    "data.train_size": 256,
    "data.val_size": 64,
    "data.test_size": 32,
    "attack.budget": "smoke",
    "attack.val_examples": 32,
    "attack.val_steps": 2,
}


@pytest.mark.slow
def test_a_study_trial_folder_holds_its_best_checkpoint_and_overlays(tmp_path):
    from sweeper.tune import EpochTrainable, trial_dirname

    class Trainable(EpochTrainable):  # what tune.with_parameters would bind
        def setup(self, config):
            super().setup(
                config,
                study="looks",
                project="p",
                wandb_mode="disabled",
                wandb_root=str(tmp_path),
                cpus=1,
            )

    trainable = Trainable(config={"trial": TRIAL})
    folder = tmp_path / "looks" / trial_dirname(trainable.trial_id)
    results, saved = [], []
    while not (results and results[-1]["done"]):
        results.append(trainable.train())
        saved.append(trainable.save())
    trainable.stop()

    epochs = [r for r in results if M.PHASE not in r]  # then the final evaluation's steps
    assert [r[M.EPOCH] for r in epochs] == [1, 2, 3, 4]
    best = max(epochs, key=lambda r: r[M.VAL_CLEAN_ACC])[M.EPOCH]  # first of equals wins
    kept = {p.name for p in C.complete(folder / "checkpoints")}
    assert kept == {f"epoch_{e:04d}" for e in {3, 4, best}}
    assert C.find(folder, "best").name == f"epoch_{best:04d}"
    for r in epochs:  # the path Tune and W&B receive is the file in the study folder
        assert Path(r[M.ARTIFACT_OVERLAY]) == folder / "overlays" / f"epoch_{r[M.EPOCH]:04d}.png"
        assert Path(r[M.ARTIFACT_OVERLAY]).exists()
    assert Path(epochs[-1][M.ARTIFACT_GAZE_METRICS]) == folder / "gaze_metrics.png"
    # One copy of the weights per kept epoch: Tune's checkpoints (one per step, the final
    # evaluation's steps included) name the epoch in the trial's folder instead of copying it.
    tune_dirs = [Path(s.checkpoint.path) for s in saved]
    assert len(tune_dirs) > len(epochs), "the evaluation steps are checkpointed too"
    assert not [p for d in tune_dirs for p in d.rglob("*") if p.name != "sweeper.json"]
    assert len(list(folder.rglob(C.ARRAYS))) == len(kept)

    # Tune restoring an older checkpoint (e.g. after a node loss) wins over the folder's latest.
    again = Trainable(config={"trial": TRIAL})
    assert again.trial.state["epoch"] == 4  # the folder's latest, until Tune restores
    again.restore(saved[2])
    assert again.trial.state["epoch"] == 3
    assert again.train()[M.EPOCH] == 4
    again.stop()

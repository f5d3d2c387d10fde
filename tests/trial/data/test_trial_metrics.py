"""A trial on a local ImageNet tree reports the unreadable images it skipped, every epoch."""

from __future__ import annotations

import pytest

from tests.shares import assert_share
from trial.config import TrialConfig
from trial.data import SKIPPED
from trial.run import Trial


@pytest.mark.slow
def test_skipped_images_reach_the_epoch_metrics(tree, tmp_path):
    cfg = TrialConfig.from_dict(
        {
            "data.name": "imagenet10",
            "data.imagenet.root": str(tree),
            "data.imagenet.train_images": "all",
            "data.image_size": 16,
            "data.val_size": 8,
            "data.cache": "memory",
            "model.backbone": "resnet20",
            "model.width": 8,
            "model.blocks": 1,
            "train.epochs": 2,
            "train.batch_size": 16,
            "attack.budget": "smoke",
            "attack.val_examples": 8,
            "attack.val_steps": 1,
        }
    )
    trial = Trial(cfg, checkpoint_dir=tmp_path / "ckpt")
    metrics, _ = trial.step()
    assert metrics[SKIPPED] == 1  # the truncated JPEG
    assert_share(metrics["val/clean_acc"], len(trial.data.val), "val/clean_acc")  # readable

"""A study whose data is missing stops before Ray starts, names the problem, leaves no run."""

from __future__ import annotations

from sweeper.cli import main

STUDY = """
name: missing-imagenet
method: grid
parameters:
  data.name: {value: imagenet10}
  data.imagenet.root: {value: %s}
  seed: {values: [0, 1]}
"""


def test_missing_data_fails_before_ray(tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY % (tmp_path / "no-imagenet"))
    storage = tmp_path / "runs"
    assert main([str(study), "--storage", str(storage), "--wandb", "disabled"]) == 2
    err = capsys.readouterr().err
    assert "imagenet10: data.imagenet.root=" in err and "is not a folder" in err
    assert not storage.exists()  # a rerun after fixing the path needs no --resume

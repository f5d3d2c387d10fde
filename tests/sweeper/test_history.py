"""A retried trial's history: the driver's rows reach storage, cut at the resumed checkpoint."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pyarrow.fs

from sweeper.history import KeepHistory, cut_csv, cut_json_lines


def _rows(n: int) -> str:
    return "".join(
        json.dumps({"training_iteration": i, "epoch": i}) + "\n" for i in range(1, n + 1)
    )


def test_json_rows_are_cut_at_the_checkpoint_and_a_torn_last_row_is_dropped():
    text = _rows(4) + '{"training_iteration": 5, "ep'
    for last in range(0, 6):
        kept = [json.loads(line)["epoch"] for line in cut_json_lines(text, last).splitlines()]
        assert kept == list(range(1, min(last, 4) + 1))


def test_csv_rows_are_cut_at_the_checkpoint_with_the_header_kept():
    text = "epoch,training_iteration\n" + "".join(f"{i},{i}\n" for i in range(1, 5)) + "5,"
    assert cut_csv(text, 2) == "epoch,training_iteration\n1,1\n2,2\n"
    assert cut_csv("no,iteration\n1,2\n", 0) == "no,iteration\n1,2\n"  # not Tune's: left alone


def _trial(tmp_path, resumes_from):
    local, remote = tmp_path / "staging", tmp_path / "storage"
    local.mkdir()
    remote.mkdir()
    latest = (
        None
        if resumes_from is None
        else SimpleNamespace(metrics={"training_iteration": resumes_from})
    )
    manager = SimpleNamespace(latest_checkpoint_result=latest)
    storage = SimpleNamespace(
        trial_fs_path=str(remote), storage_filesystem=pyarrow.fs.LocalFileSystem()
    )
    trial = SimpleNamespace(
        local_path=str(local),
        storage=storage,
        run_metadata=SimpleNamespace(checkpoint_manager=manager),
    )
    return trial, local, remote


def test_before_a_retry_storage_gets_every_row_up_to_the_checkpoint(tmp_path):
    trial, local, remote = _trial(tmp_path, resumes_from=2)
    (local / "result.json").write_text(_rows(3))  # epoch 3 reported, its checkpoint never made
    (remote / "result.json").write_text(_rows(1))  # the last copy Tune made to storage
    KeepHistory().on_trial_recover(iteration=0, trials=[], trial=trial)
    for folder in (local, remote):
        epochs = [json.loads(x)["epoch"] for x in (folder / "result.json").read_text().splitlines()]
        assert epochs == [1, 2]  # the retry's epoch 3 then follows exactly once


def test_a_retry_from_scratch_leaves_the_files_alone(tmp_path):
    trial, local, remote = _trial(tmp_path, resumes_from=None)
    (local / "result.json").write_text(_rows(1))
    KeepHistory().on_trial_recover(iteration=0, trials=[], trial=trial)
    assert not (remote / "result.json").exists()
    assert (local / "result.json").read_text() == _rows(1)

"""The leaderboard ranks finished trials by the study metric; stopped ones show val figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sweeper import report


def fake_trial(root: Path, name: str, config: dict, results: list[dict], error: bool = False):
    trial = root / name
    trial.mkdir(parents=True)
    (trial / "params.json").write_text(json.dumps({"trial": config}))
    (trial / "result.json").write_text("\n".join(json.dumps(r) for r in results) + "\n")
    if error:
        (trial / "error.txt").write_text("boom")


@pytest.fixture
def run_dir(tmp_path):
    epoch = lambda e, v: {"epoch": e, "val/clean_acc": v, "val/adv_acc": v / 2}  # noqa: E731
    fake_trial(
        tmp_path,
        "trial_a",
        {"model.width": 8, "seed": 0},
        [
            epoch(1, 0.5),
            {**epoch(2, 0.6), "clean_acc": 0.61, "adv_acc": 0.2, "status": "completed"},
        ],
    )
    fake_trial(
        tmp_path,
        "trial_b",
        {"model.width": 16, "seed": 0},
        [
            epoch(1, 0.7),
            {**epoch(2, 0.8), "clean_acc": 0.82, "adv_acc": 0.4, "status": "completed"},
        ],
    )
    fake_trial(tmp_path, "trial_c", {"model.width": 4, "seed": 0}, [epoch(1, 0.3)])
    fake_trial(tmp_path, "trial_d", {"model.width": 2, "seed": 0}, [], error=True)
    return tmp_path


def test_rows_carry_status_and_the_right_figures(run_dir):
    rows = {r.trial: r for r in report.collect(run_dir)}
    assert rows["trial_b"].status == "completed" and rows["trial_b"].adv_acc == 0.4
    assert rows["trial_c"].status == "stopped"
    assert rows["trial_c"].clean_acc == 0.3 and rows["trial_c"].adv_acc == 0.15
    assert rows["trial_d"].status == "error" and rows["trial_d"].epochs == 0


def test_ranking_puts_completed_trials_first_best_first(run_dir):
    ranked = report.rank(report.collect(run_dir), "adv_acc", "max")
    assert [r.trial for r in ranked[:2]] == ["trial_b", "trial_a"]
    worst_first = report.rank(report.collect(run_dir), "adv_acc", "min")
    assert [r.trial for r in worst_first[:2]] == ["trial_a", "trial_b"]


def test_written_board_shows_only_varied_keys(run_dir):
    text = report.write(run_dir, "adv_acc", "max")
    assert "model.width" in text and "seed" not in text
    assert "stopped (val)" in text
    assert (run_dir / "leaderboard.csv").read_text().splitlines()[0].startswith("rank,trial")


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no trial directories"):
        report.write(tmp_path, "adv_acc", "max")

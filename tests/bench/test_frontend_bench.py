"""The front-end benchmark runs end to end at a tiny size and reports a ratio per front-end."""

from __future__ import annotations

import json

from bench import frontend


def test_frontend_bench_reports_ratios(capsys):
    frontend.main(["--json", "--batch", "2", "--size", "32", "--repeats", "1"])
    record = json.loads(capsys.readouterr().out)
    assert set(record["ratio"]) == {
        "retinal_nearest",
        "retinal_bilinear",
        "multi_gaze_retinal",
        "stn",
    }
    assert all(r > 0 for r in record["ratio"].values())
    assert record["views"]["stn"] == frontend.VIEWS
    assert record["meets_target"] == all(r <= frontend.TARGET for r in record["ratio"].values())

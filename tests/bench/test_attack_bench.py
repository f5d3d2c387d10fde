"""The attack benchmark runs end to end at a tiny size and reports its ratios against ART."""

from __future__ import annotations

import json

import pytest

from bench import attack


@pytest.mark.slow
def test_attack_bench_reports_ratios_against_art(capsys):
    attack.main(["--json", "--quick"])
    record = json.loads(capsys.readouterr().out)
    for name in ("pgd", "apgd"):
        part = record[name]
        assert part["ratio"] == pytest.approx(part["ours_images_per_s"] / part["art_images_per_s"])
        assert 0.0 <= part["ours_robust_acc"] <= record["clean_acc"] + 1e-9
        assert 0.0 <= part["art_robust_acc"] <= record["clean_acc"] + 1e-9
    pgd = record["pgd"]
    ours, art = pgd["ours_robust_acc_no_random_start"], pgd["art_robust_acc_no_random_start"]
    assert 0.0 <= ours <= record["clean_acc"] + 1e-9 and 0.0 <= art <= record["clean_acc"] + 1e-9
    assert record["met"]["pgd"] == (pgd["ratio"] >= 5 and ours <= art)
    assert record["step_ratio"] > 0 and record["n_test"] == 128
    assert record["met"]["step_ratio"] == (record["step_ratio"] <= 1.2)

"""The data benchmark runs end to end at a tiny size and reports every figure it promises."""

from __future__ import annotations

import json

import pytest

from bench import data


@pytest.mark.slow
def test_data_bench_reports_ratios_throughput_and_memory(capsys, tmp_path):
    data.main(
        [
            "--json",
            "--workdir", str(tmp_path),
            "--images", "40",
            "--memory-images", "20,40",
            "--size", "24",
            "--digits-size", "16",
            "--digits-batch", "16",
            "--folder-batch", "4",
            "--pipeline-batch", "8",
            "--steps", "2",
            "--rounds", "1",
            "--passes", "1",
            "--width", "4",
            "--blocks", "1",
        ]
    )  # fmt: skip
    record = json.loads(capsys.readouterr().out)
    assert set(record["ratio"]) == {"cluttered_digits", "folder"}
    assert all(r > 0 for r in record["ratio"].values())
    assert record["images_per_s_one_core"] > 0 and record["images_per_cpu_s_one_core"] > 0
    memory = record["details"]["memory"]
    assert memory["images"] == [20, 40] and record["ratio_memory"] > 0
    assert memory["children"]["40"]["train_images"] > memory["children"]["20"]["train_images"]
    assert record["details"]["folder"]["train_images"] > 0
    assert record["meets_targets"] == (
        min(record["ratio"].values()) >= data.TARGETS["ratio"]
        and record["images_per_s_one_core"] >= data.TARGETS["images_per_s_one_core"]
        and record["ratio_memory"] <= data.TARGETS["ratio_memory"]
    )

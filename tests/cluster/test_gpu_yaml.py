"""The GPU cluster config validates offline, and the script `ray submit` copies runs alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[2]


def test_gpu_cluster_config_validates():
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = yaml.safe_load((PROJECT / "cluster" / "gpu.yaml").read_text())
    config = prepare_config(raw)
    validate_config(config)
    assert config["file_mounts"] == {"~/attention-sweeps": "."}
    assert any("attention-sweeps[gpu]" in cmd for cmd in config["setup_commands"])
    assert config["available_node_types"]["head"]["resources"] == {"CPU": 0}


def test_run_script_works_when_copied_alone(tmp_path):
    # `ray submit` copies sweeper/run.py to the head node's home and runs it there.
    script = tmp_path / "run.py"
    shutil.copy(PROJECT / "sweeper" / "run.py", script)
    out = subprocess.run(
        [sys.executable, str(script), "search_spaces/demo.yaml", "--dry-run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert all(json.loads(line)["model.kind"] for line in out.stdout.splitlines())

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
    # `ray submit` runs the script with `python`: the project goes into that interpreter.
    installs = [c for c in config["setup_commands"] + config["head_setup_commands"] if "pip" in c]
    assert installs and all(c.startswith("python -m pip install") for c in installs)
    assert config["available_node_types"]["head"]["resources"] == {"CPU": 0}


def test_local_fake_cluster_config_validates():
    # The fake provider's defaults file is missing from Ray's wheel (prepare_config fails), so
    # the config spells out every key and passes the schema as written.
    from ray.autoscaler._private.util import validate_config

    raw = yaml.safe_load((PROJECT / "cluster" / "local.yaml").read_text())
    validate_config(raw)
    assert raw["provider"]["type"] == "fake_multinode"
    assert raw["available_node_types"]["ray.head.default"]["resources"] == {"CPU": 0}


def test_the_autoscaler_node_types_are_read_from_the_configs():
    from sweeper.cluster import _config_node_types

    gpu = _config_node_types(yaml.safe_load((PROJECT / "cluster" / "gpu.yaml").read_text()))
    assert {"CPU": 0} in gpu and None in gpu  # the GPU worker's resources come from AWS
    local = _config_node_types(yaml.safe_load((PROJECT / "cluster" / "local.yaml").read_text()))
    assert local == [{"CPU": 0}, {"CPU": 1}]


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

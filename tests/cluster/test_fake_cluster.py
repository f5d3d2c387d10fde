"""A study submitted to a multi-node Ray cluster the way a user drives the real one.

The cluster is Ray's fake multi-node provider on this machine (`cluster/local.yaml`: a head
without CPUs, worker nodes the autoscaler adds on demand), started with token authentication on
free ports in a temp folder of its own, and ended by the test (SIGTERM to the head it started,
then to what is left of its process group: never `ray stop`). The study goes in through
`ray job submit --working-dir <project> -- python sweeper/run.py ... --address auto`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from tests.sweeper import processes as P

STUDY = """
name: multinode
method: grid
metric: {name: adv_acc, goal: maximize}
parameters:
  train.learning_rate: {values: [0.001, 0.003]}
  model.kind: {value: resnet}
  model.backbone: {value: resnet20}
  model.width: {value: 8}
  model.blocks: {value: 1}
  train.epochs: {value: 2}
  train.batch_size: {value: 32}
  data.image_size: {value: 16}
  data.digit_size: {value: 10}
  data.train_size: {value: 256}
  data.val_size: {value: 64}
  data.test_size: {value: 32}
  attack.budget: {value: smoke}
  attack.val_examples: {value: 32}
"""


@dataclasses.dataclass
class FakeCluster:
    dashboard: str
    gcs: str
    env: dict[str, str]
    tmp: Path


@pytest.fixture
def fake_cluster():
    tmp = P.short_tmp("rfc")
    gcs, dash, client, agent, agent_grpc, runtime_env, metrics, manager = P.free_ports(8)
    config = yaml.safe_load((P.PROJECT / "cluster" / "local.yaml").read_text())
    config["provider"]["gcs_address"] = f"127.0.0.1:{gcs}"  # fake nodes join this head
    (tmp / "cluster.yaml").write_text(yaml.safe_dump(config))
    env = P.clean_env(RAY_FAKE_CLUSTER="1", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=uuid.uuid4().hex)
    cmd = ["ray", "start", "--head", "--block", "--num-cpus=0", "--disable-usage-stats"]
    cmd += [f"--port={gcs}", f"--dashboard-port={dash}", f"--ray-client-server-port={client}"]
    cmd += [f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={agent_grpc}"]
    cmd += [f"--runtime-env-agent-port={runtime_env}", f"--metrics-export-port={metrics}"]
    cmd += [f"--node-manager-port={manager}", f"--temp-dir={tmp / 'ray'}"]
    cmd += [f"--autoscaling-config={tmp / 'cluster.yaml'}"]
    log = tmp / "head.log"
    head = P.start(cmd, log, env, tmp)
    try:
        P.wait_for("the head", lambda: "Ray runtime started" in log.read_text(), 180, head, log)
        yield FakeCluster(f"http://127.0.0.1:{dash}", f"127.0.0.1:{gcs}", env, tmp)
    finally:
        head.send_signal(signal.SIGTERM)  # a `ray start --block` head ends cleanly on SIGTERM
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=60)
        P.end_group(head.pid)  # the fake worker nodes outlive their head: end them too
        assert not P.group_alive(head.pid)
        P.remove(tmp)


@pytest.mark.slow
def test_job_submitted_study_runs_on_worker_nodes(fake_cluster, tmp_path):
    from ray.autoscaler._private.fake_multi_node.node_provider import FAKE_HEAD_NODE_ID

    study = tmp_path / "multinode.yaml"
    study.write_text(STUDY)
    shared = tmp_path / "shared"
    submit = ["ray", "job", "submit", "--address", fake_cluster.dashboard]
    submit += ["--working-dir", str(P.PROJECT), "--"]
    run = ["python", "sweeper/run.py", str(study), "--address", "auto", "--wandb", "offline"]
    job = subprocess.run(
        [*submit, *run, "--storage", str(shared), "--shared-storage"],
        env=fake_cluster.env,
        cwd=P.PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = job.stdout + job.stderr
    assert job.returncode == 0 and "succeeded" in out, out[-5000:]
    assert "study multinode: 2 trial(s): 2 completed" in out, out[-3000:]

    trials = sorted((shared / "multinode").glob("trial_*"))
    assert len(trials) == 2
    nodes = set()
    for trial in trials:
        rows = P.results(trial)
        assert rows and rows[-1]["status"] == "completed"
        nodes |= {row["node_id"] for row in rows}
        assert list(trial.glob("checkpoint_*")), "checkpoints are in the shared storage"
        assert list(trial.glob("wandb/offline-run-*/run-*.wandb")), "W&B files too"
    assert nodes and FAKE_HEAD_NODE_ID not in nodes  # the head has no CPU: workers ran them
    report = (shared / "multinode" / "report.md").read_text()  # the study's end, in the storage
    assert all(trial.name in report for trial in trials)
    assert list((shared / "multinode").glob("wandb/offline-run-*-multinode-report/*.wandb"))
    working_copies = fake_cluster.tmp.glob("ray/session_*/runtime_resources/working_dir_files/*")
    assert not [p for p in working_copies if (p / "runs").exists()]

    # A study asking for a GPU that no node has, and no node type the autoscaler can add has,
    # is refused before any trial starts (instead of waiting PENDING forever).
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text(STUDY.replace("name: multinode", "name: gpu") + "resources: {cpu: 1, gpu: 1}\n")
    refuse = [sys.executable, str(P.RUN), str(gpu), "--address", fake_cluster.gcs]
    refused = subprocess.run(
        [*refuse, "--storage", str(shared), "--shared-storage", "--wandb", "offline"],
        env=fake_cluster.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "no node of this Ray can offer" in refused.stderr and "'GPU': 1.0" in refused.stderr
    assert not (shared / "gpu").exists()

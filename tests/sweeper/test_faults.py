"""A study on a three-node Ray cluster survives a node dying, a preempted worker and a trial
that errors (ray.cluster_utils.Cluster, started and ended by the test itself).

Three trials differ only in their seed: seed 1's node is removed after its first epoch
checkpoint, seed 2's worker gets SIGTERM after its first epoch (a spot preemption), seed 3
raises in every epoch (fault injected through tests/sweeper/inject). ASHA watches the study
throughout, although seed 3 never reports its metric.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest

from tests.sweeper import processes as P
from tests.sweeper.wandb_records import records, summary

STUDY = """
name: faults
method: grid
metric: {name: adv_acc, goal: maximize}
parameters:
  seed: {values: [1, 2, 3]}
  model.kind: {value: resnet}
  model.backbone: {value: resnet20}
  model.width: {value: 8}
  model.blocks: {value: 1}
  train.epochs: {value: 4}
  train.batch_size: {value: 32}
  data.image_size: {value: 16}
  data.digit_size: {value: 10}
  data.train_size: {value: 2048}
  data.val_size: {value: 64}
  data.test_size: {value: 32}
  attack.budget: {value: smoke}
  attack.val_examples: {value: 32}
early_terminate: {type: hyperband, min_iter: 3, eta: 2}
"""


@pytest.fixture
def cluster(monkeypatch):
    """A head without CPUs and three one-CPU worker nodes, in a temp folder of their own; its
    workers inherit the fault injection."""
    from ray.cluster_utils import Cluster

    tmp = P.short_tmp("rft")
    monkeypatch.setenv("PYTHONPATH", str(P.PROJECT / "tests" / "sweeper" / "inject"))
    monkeypatch.setenv("SWEEPER_TEST_FAIL_SEED", "3")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp))
    (tmp / "ray").mkdir()  # Ray keeps its sessions and the cluster's address under $RAY_TMPDIR/ray
    gcs, agent = P.free_ports(2)
    common = {"temp_dir": str(tmp / "ray"), "object_store_memory": 80 * 1024**2}
    c = Cluster()
    try:
        c.add_node(
            num_cpus=0,
            gcs_server_port=gcs,
            include_dashboard=False,
            dashboard_agent_listen_port=agent,
            **common,
        )
        for _ in range(3):
            c.add_node(num_cpus=1, **common)
        yield c
    finally:
        c.shutdown()
        P.remove(tmp)


@pytest.mark.slow
def test_node_loss_preemption_and_a_failing_trial(cluster, tmp_path):
    study = tmp_path / "faults.yaml"
    study.write_text(STUDY)
    shared, log = tmp_path / "shared", tmp_path / "driver.log"
    env = P.clean_env(
        PYTHONPATH=os.environ["PYTHONPATH"], SWEEPER_TEST_FAIL_SEED="3", RAY_TMPDIR=str(tmp_path)
    )
    cmd = [sys.executable, str(P.RUN), str(study), "--address", cluster.address]
    cmd += ["--storage", str(shared), "--shared-storage", "--wandb", "offline"]
    driver = P.start([*cmd, "--max-failures", "1"], log, env, tmp_path)
    run_dir = shared / "faults"
    first: dict[str, dict] = {}

    def lose_node(row):
        [node] = [n for n in cluster.worker_nodes if n.node_id == row["node_id"]]
        cluster.remove_node(node, allow_graceful=False)  # the node dies: no goodbye

    def preempt(row):
        os.kill(row["pid"], signal.SIGTERM)  # what a spot instance's shutdown sends

    def disrupt():
        # Act on each trial as soon as its first epoch is checkpointed (trials run concurrently).
        for seed, action in (("1", lose_node), ("2", preempt)):
            trial = P.trial_dirs(run_dir).get(seed)
            if seed in first or not trial or not list(trial.glob("checkpoint_*")):
                continue
            rows = P.results(trial)
            if not rows:  # the checkpoint can land before the driver writes the result
                continue
            first[seed] = rows[0]
            action(first[seed])
        return len(first) == 2

    try:
        P.wait_for("both trials' first checkpoints", disrupt, 400, driver, log)
        code = driver.wait(timeout=400)
    finally:
        P.end_group(driver.pid)
    text = log.read_text(errors="replace")
    assert code == 1, text[-4000:]  # a trial errored: non-zero, after the others finished
    summary_line = [line for line in text.splitlines() if line.startswith("study faults:")]
    assert summary_line and "1 errored" in summary_line[0], text[-3000:]
    assert "injected failure" in summary_line[0]
    trials = P.trial_dirs(run_dir)
    lost, preempted = trials["1"], trials["2"]

    # (a) the trial whose node died resumed elsewhere from its checkpoint: epochs continue.
    for trial in (lost, preempted):
        rows = P.results(trial)
        epochs = [r["epoch"] for r in rows if r.get("phase") != "evaluation"]  # then its steps
        assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 2, epochs
        assert rows[-1].get("status") in ("completed", None)  # None: ASHA stopped it
    assert P.results(lost)[-1]["node_id"] != first["1"]["node_id"]

    # (b) the preempted trial closed its first W&B run as preempting, and went on elsewhere.
    assert P.results(preempted)[-1]["pid"] != first["2"]["pid"]
    runs = sorted(preempted.glob("wandb/*run-*/run-*.wandb"))
    assert len(runs) >= 2, runs
    kinds = {r.WhichOneof("record_type") for r in records(runs[0])}
    assert {"preempting", "exit"} <= kinds, kinds
    assert summary(runs[0])["summary"]["outcome"] == "preempted"  # and the later run resumes it

    # (d) the failing trial: errored with its traceback in its folder and in W&B.
    failing = trials["3"]
    assert "injected failure" in (failing / "error.txt").read_text()
    assert not P.results(failing)  # (e) it never reported; ASHA carried on without it
    [run] = sorted(failing.glob("wandb/*run-*/run-*.wandb"))[-1:]
    logged = summary(run)
    assert (
        "Traceback" in logged["summary"]["error"]
        and "injected failure" in logged["summary"]["error"]
    )

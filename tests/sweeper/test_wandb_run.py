"""W&B runs, checked by reading the offline `.wandb` files they write: names, tags, dotted config,
per-epoch metrics, overlays as images, final figures and check verdicts in the summary, the
ending of every kind, a resumed trial continuing its run, the fallback to offline when the
server cannot be reached, and the study-level run with the leaderboard table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sweeper import wandb_run
from sweeper.wandb_run import TrialRun, resolve_mode, run_name
from tests.sweeper.study_fixture import png, write_study
from tests.sweeper.wandb_records import records, summary

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))


def test_auto_is_offline_without_a_key(no_key):
    assert resolve_mode("auto") == "offline"


def test_online_without_a_key_is_an_error_that_says_how_to_fix(no_key):
    with pytest.raises(ValueError, match="wandb login"):
        resolve_mode("online")


def test_a_netrc_entry_counts_as_a_key(no_key, tmp_path):
    (tmp_path / "netrc").write_text("machine api.wandb.ai login user password abc\n")
    assert wandb_run.has_api_key() and resolve_mode("auto") == "online"


def test_unknown_mode_is_named(no_key):
    with pytest.raises(ValueError, match="--wandb='cloud'"):
        resolve_mode("cloud")


def test_run_names_say_the_configuration():
    handover = {
        "model.kind": "multi_gaze",
        "model.num_transformers": 5,
        "model.shared": True,
        "model.gaze_l2": 0.01,
        "model.gaze_init": "grid",
        "model.gaze_param": "tanh",
        "train.learning_rate": 0.003,
    }
    assert run_name(handover) == "multi_gaze-k5-shared-l2=0.01-grid"
    varied = ["train.learning_rate", "seed", "model.kind"]
    assert run_name({"model.kind": "resnet", "train.learning_rate": 0.003, "seed": 1}, varied) == (
        "resnet-lr=0.003-seed=1"
    )
    assert run_name({}) == "resnet"


def run_file(directory: Path, run_id: str) -> list[Path]:
    files = sorted(directory.glob(f"wandb/offline-run-*-{run_id}*/run-*.wandb"))
    return sorted(files, key=lambda p: (len(p.parent.name), p.parent.name))


def meta(path: Path) -> dict:
    """Name, tags, group, entity, project, exit code and whether the run was marked
    preempting."""
    out = {"preempting": False}
    for rec in records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out.update(
                name=rec.run.display_name,
                tags=list(rec.run.tags),
                group=rec.run.run_group,
                entity=rec.run.entity,
                project=rec.run.project,
            )
        elif kind == "exit":
            out["exit_code"] = rec.exit.exit_code
        elif kind == "preempting":
            out["preempting"] = True
    return out


def nested(row: dict, key: str) -> dict:
    """A logged media value (W&B writes its fields as nested keys, joined here with `/`)."""
    return {k[len(key) + 1 :]: v for k, v in row.items() if k.startswith(key + "/")}


def open_run(tmp_path: Path, run_id: str = "demo-00001", **kw) -> TrialRun:
    config = {"model.kind": "multi_gaze", "model.num_transformers": 5, "train.learning_rate": 0.001}
    return TrialRun(
        mode="offline",
        directory=tmp_path,
        project="p",
        group="demo",
        name=run_name(config),
        run_id=run_id,
        config=config,
        tags=("study:demo", "family:multi_gaze"),
        **kw,
    )


def test_a_trial_run_carries_name_tags_config_epochs_images_and_final_figures(no_key, tmp_path):
    overlay = tmp_path / "overlays" / "epoch_0001.png"
    overlay.parent.mkdir()
    overlay.write_bytes(png(0))
    run = open_run(tmp_path)
    run.log({"epoch": 1, "val/clean_acc": 0.5, "artifact/overlay": str(overlay)}, step=1)
    run.log({"epoch": 2, "val/clean_acc": 0.6, "artifact/overlay": "not-a-png.txt"}, step=2)
    run.log(
        {
            "phase": "evaluation",
            "epoch": 2,
            "clean_acc": 0.61,
            "adv_acc": 0.4,
            "n_test": 128,
            "check/gradients": "pass",
            "checks_passed": 1,
            "attack_budget": "smoke",
        },
        step=2,
    )
    run.finish("stopped")
    [path] = run_file(tmp_path, "demo-00001")
    logged, info = summary(path), meta(path)
    assert info["name"] == "multi_gaze-k5" and info["group"] == "demo"
    assert info["entity"] == "", "no entity given: the account's default, chosen by W&B"
    assert {"study:demo", "family:multi_gaze", "outcome:stopped"} <= set(info["tags"])
    assert logged["config"]["model.num_transformers"] == 5  # dotted keys, as in the study
    assert [row["_step"] for row in logged["history"]] == [1, 2]
    image = nested(logged["history"][0], "artifact/overlay")
    assert image["_type"] == "image-file" and image["path"].endswith(".png")
    assert not any(k.startswith("artifact/") for k in logged["history"][1])  # no number, no text
    assert (path.parent / "files" / image["path"]).is_file()
    final = logged["summary"]
    assert final["clean_acc"] == 0.61 and final["adv_acc"] == 0.4 and final["n_test"] == 128
    assert final["check/gradients"] == "pass" and final["checks_passed"] == 1
    assert final["outcome"] == "stopped" and info["exit_code"] == 0


def test_a_resumed_trial_continues_its_run_without_conflicting_steps(no_key, tmp_path):
    first = open_run(tmp_path)
    for step in (1, 2, 3):
        first.log({"epoch": step, "val/clean_acc": 0.1 * step}, step=step)
    first.finish("preempted")  # e.g. a spot worker got SIGTERM after epoch 3's report
    second = open_run(tmp_path)  # the checkpoint was epoch 2's: epoch 3 runs again
    second.log({"epoch": 3, "val/clean_acc": 0.99}, step=3)
    second.log({"epoch": 4, "val/clean_acc": 0.4}, step=4)
    second.finish("completed")
    old, new = run_file(tmp_path, "demo-00001")
    assert meta(old)["preempting"] and meta(old)["exit_code"] != 0
    assert [r["_step"] for r in summary(old)["history"]] == [1, 2, 3]
    assert [r["_step"] for r in summary(new)["history"]] == [4]  # step 3 is not rewritten
    assert summary(new)["summary"]["outcome"] == "completed" and meta(new)["exit_code"] == 0


@pytest.mark.parametrize("outcome, code", [("diverged", 1), ("errored", 1), ("typo", 1)])
def test_every_ending_is_recorded(no_key, tmp_path, outcome, code):
    run = open_run(tmp_path)
    run.log({"epoch": 1, "train/loss": float("nan")}, step=1)
    run.finish(outcome)
    [path] = run_file(tmp_path, "demo-00001")
    expected = outcome if outcome != "typo" else "errored"
    assert summary(path)["summary"]["outcome"] == expected and meta(path)["exit_code"] == code


def test_an_unreachable_server_falls_back_to_offline_and_never_leaks_the_key(tmp_path):
    key = "k" * 40
    script = textwrap.dedent(
        f"""
        import logging, sys
        logging.basicConfig(level=logging.INFO)
        from pathlib import Path
        from sweeper.wandb_run import TrialRun
        run = TrialRun(mode="online", directory=Path({str(tmp_path)!r}), project="p", group="g",
                       name="n", run_id="g-1", config={{"a": 1}})
        run.log({{"epoch": 1, "val/clean_acc": 0.5}}, step=1)
        run.finish("completed")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(
        WANDB_API_KEY=key,
        WANDB_BASE_URL="http://10.255.255.1:9",  # unroutable
        WANDB_INIT_TIMEOUT="5",
        WANDB_SILENT="true",
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "logs offline" in out.stderr
    [path] = run_file(tmp_path, "g-1")
    assert summary(path)["summary"]["val/clean_acc"] == 0.5
    assert key not in out.stdout + out.stderr
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert key.encode() not in file.read_bytes(), file


def test_wandb_own_exit_hook_is_kept_and_finish_leaves_none(no_key, tmp_path):
    """Pins the decision to drop the private hook that unregistered W&B's atexit teardown
    (wandb 0.31): after `finish` (which Tune's `cleanup` calls before a stopped trial's worker
    exits) no W&B exit hook is left to race the exit, and a process that exits without
    `finish` gets its run closed by W&B's own hook, quietly."""
    script = textwrap.dedent(
        f"""
        import atexit, sys
        hooks = set()
        register, unregister = atexit.register, atexit.unregister
        def tracked_register(f, *args, **kwargs):
            if f.__module__ == "wandb.sdk.lib.service.service_connection":  # its teardown
                hooks.add(f)
            return register(f, *args, **kwargs)
        def tracked_unregister(f):
            hooks.discard(f)
            return unregister(f)
        atexit.register, atexit.unregister = tracked_register, tracked_unregister
        from pathlib import Path
        from sweeper.wandb_run import TrialRun
        run = TrialRun(mode="offline", directory=Path({str(tmp_path)!r}) / sys.argv[1],
                       project="p", group="g", name="n", run_id="g-1", config={{}})
        run.log({{"epoch": 1, "val/clean_acc": 0.5}}, step=1)
        assert hooks, "W&B registers its exit hook (kept: it closes a run nobody finished)"
        if sys.argv[1] == "finish":
            run.finish("stopped")
            assert not hooks, f"finish leaves W&B exit hooks behind: {{hooks}}"
        """
    )
    for how in ("finish", "exit"):
        out = subprocess.run(
            [sys.executable, "-c", script, how], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr[-3000:]
        assert "Traceback" not in out.stderr and "Error" not in out.stderr, out.stderr
        [path] = run_file(tmp_path / how, "g-1")
        assert "exit_code" in meta(path), f"{how}: the run was not closed"
        assert summary(path)["history"][0]["val/clean_acc"] == 0.5


def test_the_study_run_holds_the_leaderboard_table_and_the_plots(no_key, tmp_path):
    from sweeper import report

    rep = report.build(write_study(tmp_path))
    wandb_run.log_study(
        rep, mode="offline", directory=tmp_path / "study", project="p", entity="my-team"
    )
    [path] = run_file(tmp_path / "study", "fixture-report")
    logged, info = summary(path), meta(path)
    assert info["name"] == "fixture-report" and "study:fixture" in info["tags"]
    assert (info["entity"], info["project"]) == ("my-team", "p"), "the study's entity, honoured"
    [row] = logged["history"]
    board = nested(row, "leaderboard")
    assert board["_type"] == "table-file" and board["nrows"] == 11
    table = json.loads((path.parent / "files" / board["path"]).read_text())
    assert table["columns"][:2] == ["#", "trial"] and len(table["data"]) == 11
    plotted = {k.split("/")[1] for k in row if k.startswith("plots/")}
    assert plotted == {s.name for s in rep.sections if s.images}


def test_a_failing_wandb_never_raises(monkeypatch, tmp_path):
    import wandb

    def broken(**kwargs):
        raise RuntimeError("no service")

    monkeypatch.setattr(wandb, "init", broken)
    run = TrialRun(
        mode="offline", directory=tmp_path, project="p", group="g", name="n", run_id="r", config={}
    )
    assert not run.active
    run.log({"val/clean_acc": 0.5}, step=1)
    run.finish("completed")

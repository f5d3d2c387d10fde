"""The Tune adapter's decisions, with a fake Trial and a fake W&B run (no Ray needed): how each
ending closes the W&B run, the per-trial time budget, errors, and SIGTERM (preemption)."""

from __future__ import annotations

import json
import signal
from types import SimpleNamespace

import pytest

from sweeper import trainable as T


class FakeRun:
    def __init__(self) -> None:
        self.logged: list[dict] = []
        self.outcomes: list[str] = []

    def log(self, metrics, step):
        self.logged.append({**metrics, "_step": step})

    def finish(self, outcome):
        self.outcomes.append(outcome)


class FakeTrial:
    """Epochs of `seconds` each; `fail_at` raises in that epoch; `diverge_at` diverges."""

    def __init__(self, epochs=3, fail_at=None, diverge_at=None) -> None:
        self.state = {"epoch": 0, "status": "running"}
        self.epochs, self.fail_at, self.diverge_at = epochs, fail_at, diverge_at

    @property
    def done(self):
        return self.state["status"] == "diverged" or self.state["epoch"] >= self.epochs

    @property
    def result(self):
        return SimpleNamespace(to_dict=lambda: {"status": "completed", "epoch": self.epochs})

    def step(self):
        epoch = self.state["epoch"] + 1
        if epoch == self.fail_at:
            raise RuntimeError("boom")
        self.state["epoch"] = epoch
        metrics = {"epoch": epoch, "val/clean_acc": 0.5}
        if epoch == self.diverge_at:
            self.state["status"] = metrics["status"] = "diverged"
        elif epoch == self.epochs:
            metrics["status"] = "completed"
        return metrics, None


def adapter(trial, budget=None, monkeypatch=None):
    t = T.EpochTrainable.__new__(T.EpochTrainable)
    t.trial, t.run, t.budget_s, t.elapsed_s = trial, FakeRun(), budget, 0.0
    t.node_id, t.latest, t.deadline, t._trial_info = "node-1", None, None, None
    t.setup_s = 1.5
    if monkeypatch is not None:
        monkeypatch.setattr(T, "_ACTIVE", t)
    return t


def test_a_completed_trial_closes_wandb_before_its_last_result():
    t = adapter(FakeTrial(epochs=2))
    first = t.step()
    assert first["done"] is False and first["time/setup_s"] == 1.5 and t.run.outcomes == []
    last = t.step()
    assert "time/setup_s" not in last
    assert last["done"] is True and last["node_id"] == "node-1"
    assert t.run.outcomes == ["completed"] and [r["_step"] for r in t.run.logged] == [1, 2]
    again = t.step()  # restored after its end (a driver died before noting it): no rerun
    assert again["done"] is True and len(t.run.logged) == 2


def test_diverged_and_stopped_trials_say_so(tmp_path):
    t = adapter(FakeTrial(epochs=5, diverge_at=2))
    t.step()
    assert t.step()["done"] and t.run.outcomes == ["diverged"]
    asha = adapter(FakeTrial(epochs=5))
    asha.step()
    asha.cleanup()  # what Tune calls when ASHA (or the study's end) stops the trial
    assert asha.run.outcomes == ["stopped"]


def test_the_trial_time_budget_stops_a_trial_cleanly_and_marks_it(monkeypatch):
    clock = iter(range(0, 1000, 10))  # every step takes 10 s
    monkeypatch.setattr(T.time, "monotonic", lambda: next(clock))
    t = adapter(FakeTrial(epochs=10), budget=25)
    results = [t.step() for _ in range(3)]
    assert [r["done"] for r in results] == [False, False, True]
    last = results[-1]
    assert last["status"] == "over_time_budget" and last["stop_reason"] == "trial_time_budget"
    assert t.run.outcomes == ["stopped"]  # W&B's ending for it; the report says over budget


def test_a_trial_stopped_by_the_study_budget_says_so_in_wandb(tmp_path, monkeypatch):
    t = adapter(FakeTrial(epochs=5), monkeypatch=monkeypatch)
    t.step()
    t.deadline, t.scratch = 0.0, tmp_path  # the budget ran out; Tune stops the trial
    t.cleanup()
    assert t.run.logged[-1]["stop_reason"] == "study_time_budget"
    assert t.run.outcomes == ["stopped"]


def test_an_error_reaches_wandb_with_its_traceback_then_tune():
    t = adapter(FakeTrial(fail_at=2))
    t.step()
    with pytest.raises(RuntimeError, match="boom"):
        t.step()
    assert t.run.outcomes == ["errored"]
    assert "Traceback" in t.run.logged[-1]["error"] and "boom" in t.run.logged[-1]["error"]


def test_sigterm_while_a_trial_runs_is_a_preemption(monkeypatch):
    t = adapter(FakeTrial(), monkeypatch=monkeypatch)
    codes = []
    monkeypatch.setattr(T, "_leave", codes.append)
    monkeypatch.setattr(T.threading, "Timer", lambda *a: SimpleNamespace(start=lambda: None))
    T._on_sigterm(signal.SIGTERM, None)
    assert t.run.outcomes == ["preempted"] and codes == [128 + signal.SIGTERM]
    assert T._ACTIVE is None
    T._on_sigterm(signal.SIGTERM, None)  # no trial left in this worker: a quiet exit
    assert codes[-1] == 0 and t.run.outcomes == ["preempted"]


def test_a_reused_worker_closes_the_last_trial_and_starts_the_next(tmp_path, monkeypatch):
    import keras

    import sweeper.wandb_run

    events, runs, made = [], [], []

    class Run(FakeRun):
        def finish(self, outcome):
            events.append(f"finish:{outcome}")
            super().finish(outcome)

    def open_run(**kw):
        events.append("open")
        runs.append(kw)
        return Run()

    def make_trial(self, cfg):
        made.append(cfg)
        return FakeTrial(epochs=2)

    monkeypatch.setattr(sweeper.wandb_run, "TrialRun", open_run)
    monkeypatch.setattr(T.EpochTrainable, "_make_trial", make_trial)
    monkeypatch.setattr(keras.backend, "clear_session", lambda: events.append("clear"))
    clock = iter(range(0, 1000, 10))  # every clock reading is 10 s after the last
    monkeypatch.setattr(T.time, "monotonic", lambda: next(clock))
    t = adapter(FakeTrial(epochs=5), monkeypatch=monkeypatch)
    t.run = previous = Run()
    t.step()  # ASHA stops it here, after 10 s; Tune keeps the worker for the next trial
    assert t.elapsed_s == 10
    t.study, t.project, t.entity, t.wandb_mode, t.wandb_root = "s", "p", "team", "offline", tmp_path
    t.varied = ("seed",)
    t._trial_info = SimpleNamespace(trial_id="next_00001")
    # model.gaze_l2 is a key resnet lacks: dropped, as for a fresh worker
    assert t.reset_config({"trial": {"model.kind": "resnet", "seed": 4, "model.gaze_l2": 0.1}})
    # The old run is closed as stopped, then the old graphs are freed, then the next run opens.
    assert events == ["finish:stopped", "clear", "open"] and previous.outcomes == ["stopped"]
    [cfg] = made
    assert (cfg.model.kind, cfg.seed) == ("resnet", 4)
    assert runs == [
        {
            "mode": "offline",
            "directory": tmp_path / "s" / "trial_next_00001",
            "project": "p",
            "entity": "team",
            "group": "s",
            "name": "resnet-seed=4",
            "run_id": "s-next_00001",
            "config": cfg.to_dict(),
            "tags": ("study:s", "family:resnet"),
        }
    ]
    assert T._ACTIVE is t and t.run is not previous
    assert t.elapsed_s == 0.0, "the next trial's time budget starts at zero"
    first = t.step()
    assert first[T.SETUP_TIME] == 10, "the next trial's first result says how long its start took"
    assert first["done"] is False and T.SETUP_TIME not in t.step()
    assert t.run.outcomes == ["completed"] and t.elapsed_s == 20


def _epoch(folder, n):
    path = folder / "checkpoints" / f"epoch_{n:04d}"
    path.mkdir(parents=True)
    (path / "arrays.npz").write_bytes(b"weights")
    (path / "state.json").write_text(json.dumps({"epoch": n}))
    return path


class RestoringTrial(FakeTrial):
    def __init__(self) -> None:
        super().__init__()
        self.restored = []

    def restore(self, path):
        self.restored.append(path)


@pytest.mark.parametrize("storage", ["in-the-study-folder", "remote"])
def test_tunes_checkpoint_copies_the_weights_only_where_the_trial_folder_is_not_reached(
    tmp_path, storage
):
    t = adapter(FakeTrial())
    t.folder, t.elapsed_s = tmp_path / "trial_1", 12.5
    t.wandb_root = tmp_path if storage == "in-the-study-folder" else None
    t.latest = _epoch(t.folder, 2)
    tune_dirs = [tmp_path / f"checkpoint_{i:06d}" for i in range(3)]  # epoch, then evaluation
    for d in tune_dirs:
        d.mkdir()
        t.save_checkpoint(str(d))
    copies = sorted(p.name for d in tune_dirs for p in d.iterdir())
    if storage == "remote":  # the weights must travel with Tune's checkpoint
        assert copies == sorted(["arrays.npz", "state.json", "sweeper.json"] * 3)
    else:
        assert copies == ["sweeper.json"] * 3, "one copy of the weights: the epoch's own"
    back = adapter(RestoringTrial())
    back.folder, back.wandb_root = t.folder, t.wandb_root
    back.load_checkpoint(str(tune_dirs[-1]))
    assert back.elapsed_s == 12.5
    assert back.trial.restored == [t.latest if storage != "remote" else str(tune_dirs[-1])]


def test_a_checkpoint_naming_an_epoch_deleted_by_hand_says_so(tmp_path):
    t = adapter(FakeTrial())
    t.folder, t.wandb_root = tmp_path / "trial_1", tmp_path
    t.latest = _epoch(t.folder, 3)
    t.save_checkpoint(str(tmp_path))
    import shutil

    shutil.rmtree(t.latest)
    with pytest.raises(FileNotFoundError, match="names .*epoch_0003, which is gone"):
        t.load_checkpoint(str(tmp_path))

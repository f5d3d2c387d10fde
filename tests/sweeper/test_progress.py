"""The compact progress line: counts per state, elapsed time, the best trial with its figures;
a line per change and a heartbeat, never one per Tune loop iteration."""

from __future__ import annotations

import io
import pickle
from types import SimpleNamespace

from sweeper.progress import Progress


def fake(trial_id: str, status: str, kind: str = "resnet"):
    return SimpleNamespace(trial_id=trial_id, status=status, config={"trial": {"model.kind": kind}})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_count_states_and_name_the_best_trial():
    out, clock = io.StringIO(), Clock()
    p = Progress("demo", "adv_acc", "max", varied=["model.kind"], out=out, clock=clock)
    a, b, c, d = (
        fake("a", "RUNNING"),
        fake("b", "RUNNING", "retinal"),
        fake("c", "PENDING"),
        fake("d", "ERROR"),
    )
    trials = [a, b, c, d]
    p.on_trial_result(1, trials, a, {"epoch": 1, "val/clean_acc": 0.5, "val/adv_acc": 0.2})
    p.on_trial_result(1, trials, b, {"epoch": 1, "val/clean_acc": 0.7, "val/adv_acc": 0.3})
    lines = out.getvalue().splitlines()
    assert lines[-1] == (
        "[ 0:00] demo: 0 done, 2 running, 1 pending, 0 stopped, 1 errored | leading (epoch 1) "
        "trial_b retinal: val/clean_acc 0.700, val/adv_acc 0.300"
    )
    clock.now += 75
    a.status = "TERMINATED"
    p.on_trial_result(
        2, trials, a, {"epoch": 2, "clean_acc": 0.9, "adv_acc": 0.4, "status": "completed"}
    )
    b.status = "TERMINATED"  # ASHA stopped it: no final status
    p.on_trial_complete(3, trials, b)
    assert out.getvalue().splitlines()[-1] == (
        "[ 1:15] demo: 1 done, 0 running, 1 pending, 1 stopped, 1 errored | best trial_a "
        "resnet: adv_acc 0.400, clean_acc 0.900"
    )


def test_one_line_per_change_or_heartbeat_not_per_loop():
    out, clock = io.StringIO(), Clock()
    p = Progress("demo", "adv_acc", "max", out=out, clock=clock, heartbeat=30)
    trials = [fake("a", "RUNNING")]
    for _ in range(50):  # Tune calls on_step_end on every loop iteration
        p.on_step_end(1, trials)
        clock.now += 0.5  # 25 s in all: no change, no heartbeat yet
    assert len(out.getvalue().splitlines()) == 1
    clock.now += 10
    p.on_step_end(1, trials)
    assert len(out.getvalue().splitlines()) == 2  # the 30 s heartbeat
    trials[0].status = "TERMINATED"
    p.on_step_end(1, trials)
    assert len(out.getvalue().splitlines()) == 3  # a change


def test_a_restored_callback_starts_afresh():
    clock = Clock()
    p = Progress("demo", "adv_acc", "max", out=None, clock=clock)
    p.on_trial_result(1, [fake("a", "RUNNING")], fake("a", "RUNNING"), {"val/clean_acc": 0.5})
    restored = pickle.loads(pickle.dumps(p))  # what Tune does on --resume
    assert restored.results == {} and restored.last_key is None


def test_a_resumed_study_counts_the_trials_it_finished_before():
    """After --resume the callback has seen no results; Tune's restored trials carry their last
    one, which tells a completed trial from one ASHA stopped."""
    out = io.StringIO()
    p = Progress("demo", "adv_acc", "max", out=out, clock=Clock())
    done, cut, waiting = fake("a", "TERMINATED"), fake("b", "TERMINATED"), fake("c", "PENDING")
    done.last_result = {"epoch": 2, "clean_acc": 0.9, "adv_acc": 0.4, "status": "completed"}
    cut.last_result = {"epoch": 1, "val/clean_acc": 0.5}
    waiting.last_result = {}
    p.on_step_end(0, [done, cut, waiting])
    assert out.getvalue().splitlines()[-1] == (
        "[ 0:00] demo: 1 done, 0 running, 1 pending, 1 stopped, 0 errored | best trial_a "
        "resnet: adv_acc 0.400, clean_acc 0.900"
    )

"""ASHA never stops a trial that has trained every epoch (its final evaluation comes after), and
reads its metric the way the metric's definition points."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from sweeper.space import load_study
from sweeper.study import EarlyTerminate
from sweeper.tune import _scheduler

ASHA = {"metric": "val/clean_acc", "max_t": 2, "grace_period": 1, "reduction_factor": 2}


def _race(scheduler) -> str:
    """Two trials; `b` leads at every rung; `a` reaches max_t (itself a rung: 1 * 2**1) last,
    below the rung's cut-off. Returns the action for that last result."""
    a, b = SimpleNamespace(trial_id="a"), SimpleNamespace(trial_id="b")
    for trial in (a, b):
        scheduler.on_trial_add(None, trial)
    scheduler.on_trial_result(None, a, {"training_iteration": 1, "val/clean_acc": 0.5})
    scheduler.on_trial_result(None, b, {"training_iteration": 1, "val/clean_acc": 0.6})
    scheduler.on_trial_result(None, b, {"training_iteration": 2, "val/clean_acc": 0.9})
    return scheduler.on_trial_result(None, a, {"training_iteration": 2, "val/clean_acc": 0.1})


def test_a_trial_at_max_t_goes_on_to_its_evaluation():
    et = EarlyTerminate(
        grace_period=1,
        reduction_factor=2,
        max_t=2,
        brackets=1,
        metric="val/clean_acc",
        goal="maximize",
    )
    study = SimpleNamespace(early_terminate=et)
    scheduler = _scheduler(study, max_epochs=2)
    assert _race(scheduler) == TrialScheduler.CONTINUE
    evaluation_step = {"training_iteration": 3, "phase": "evaluation"}  # no val/ metric
    assert scheduler.on_trial_result(None, SimpleNamespace(trial_id="a"), evaluation_step) == (
        TrialScheduler.CONTINUE
    )
    # Ray's own ASHA, even with stop_last_trials=False, cuts it there (why _scheduler wraps it).
    plain = ASHAScheduler(
        time_attr="training_iteration", mode="max", stop_last_trials=False, **ASHA
    )
    assert _race(plain) == TrialScheduler.STOP
    # Before max_t, a laggard is still stopped.
    early = _scheduler(study, max_epochs=2)
    a, b = SimpleNamespace(trial_id="a"), SimpleNamespace(trial_id="b")
    for trial in (a, b):
        early.on_trial_add(None, trial)
    early.on_trial_result(None, b, {"training_iteration": 1, "val/clean_acc": 0.9})
    assert early.on_trial_result(None, a, {"training_iteration": 1, "val/clean_acc": 0.1}) == (
        TrialScheduler.STOP
    )


@pytest.mark.parametrize(
    ("metric", "better", "worse"),
    [
        ("gaze/object_dist", 0.1, 0.4),  # lower is better: the gazes sit on the object
        ("gaze/border_frac", 0.0, 0.8),
        ("train/loss", 0.5, 2.0),
        ("gaze/spread", 0.3, 0.01),  # higher is better: the gazes follow the image
        ("val/clean_acc", 0.9, 0.1),
    ],
)
def test_asha_stops_the_trial_that_is_worse_by_the_metrics_definition(
    metric, better, worse, tmp_path
):
    path = tmp_path / "study.yaml"
    path.write_text(
        "method: grid\nparameters: {model.kind: {value: multi_gaze}}\n"
        f"early_terminate: {{min_iter: 1, eta: 2, metric: {metric}}}\n"
    )
    scheduler = _scheduler(load_study(path), max_epochs=4)
    a, b = SimpleNamespace(trial_id="a"), SimpleNamespace(trial_id="b")
    for trial in (a, b):
        scheduler.on_trial_add(None, trial)
    scheduler.on_trial_result(None, b, {"training_iteration": 1, metric: better})
    assert scheduler.on_trial_result(None, a, {"training_iteration": 1, metric: worse}) == (
        TrialScheduler.STOP
    )

"""What a study may rank by or schedule on: only numbers its trials report (per family, dataset
and attack suite), each read the way its definition points (trial.metrics.DEFINITIONS)."""

from __future__ import annotations

import pytest

from sweeper.space import StudyError, check_before_ray, load_study
from trial import metrics as M

GRID = "method: grid\nparameters: {model.kind: {values: [multi_gaze]}}\n"


def study_of(tmp_path, text: str):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return load_study(path)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("evaluation", "is text a trial reports \\(or the name of its evaluation phase\\)"),
        ("artifact/overlay", "is a PNG path"),
        ("check/gradients", "is a sanity verdict \\(pass \\| fail\\).*check/gradients/<number>"),
        ("status", "is text"),
        ("phase", "is text"),
        ("eval/done", "counts how far a trial's final evaluation got"),
        ("time/eval_step_s", "counts how far"),
        ("epoch", "no trial reports this metric"),
        ("original_ensemble", "no trial reports this metric"),
    ],
)
def test_a_name_that_is_no_reported_number_is_refused(tmp_path, name, needle):
    with pytest.raises(StudyError, match=f"metric.name='{name}': {needle}"):
        study_of(tmp_path, f"{GRID}metric: {{name: {name}}}\n")
    with pytest.raises(StudyError, match=f"early_terminate.metric='{name}'"):
        study_of(tmp_path, f"{GRID}early_terminate: {{metric: {name}}}\n")


@pytest.mark.parametrize(
    ("metric", "goal"),
    [
        ("gaze/object_dist", "minimize"),
        ("gaze/border_frac", "minimize"),
        ("stn/theta_saturation", "minimize"),
        ("train/loss/gaze_l2", "minimize"),
        ("gaze/spread", "maximize"),
        ("val/adv_acc", "maximize"),
    ],
)
def test_the_goal_is_the_direction_the_metrics_definition_states(tmp_path, metric, goal):
    study = study_of(tmp_path, f"{GRID}early_terminate: {{metric: {metric}}}\n")
    assert study.early_terminate.goal == goal == M.definition(metric).goal
    assert study.early_terminate.mode == goal[:3]
    ranked = study_of(tmp_path, f"{GRID}metric: {{name: {metric}}}\n")
    assert ranked.goal == goal and ranked.mode == goal[:3]
    repeated = study_of(tmp_path, f"{GRID}early_terminate: {{metric: {metric}, goal: {goal}}}\n")
    assert repeated.early_terminate == study.early_terminate


def test_a_known_non_number_gets_its_reason_and_no_far_fetched_suggestion(tmp_path):
    with pytest.raises(StudyError) as refused:
        study_of(tmp_path, f"{GRID}metric: {{name: evaluation}}\n")
    assert "did you mean" not in str(refused.value)
    with pytest.raises(StudyError, match="no trial reports this metric \\(did you mean 'adv_acc'"):
        study_of(tmp_path, f"{GRID}metric: {{name: adv_ac}}\n")


def test_a_goal_against_the_definition_is_refused_with_the_fix(tmp_path):
    text = f"{GRID}early_terminate: {{metric: gaze/object_dist, goal: maximize}}\n"
    with pytest.raises(
        StudyError,
        match="early_terminate.goal=maximize contradicts gaze/object_dist, which is "
        "lower-is-better .*drop early_terminate.goal or write minimize",
    ):
        study_of(tmp_path, text)
    with pytest.raises(StudyError, match="metric.goal=minimize contradicts adv_acc"):
        study_of(tmp_path, f"{GRID}metric: {{name: adv_acc, goal: minimize}}\n")
    with pytest.raises(StudyError, match="early_terminate.goal='up' must be maximize or minimize"):
        study_of(tmp_path, f"{GRID}early_terminate: {{metric: val/clean_acc, goal: up}}\n")


def test_a_metric_without_a_direction_needs_the_goal_said(tmp_path):
    text = f"{GRID}early_terminate: {{metric: gaze/object_dist_shuffled}}\n"
    with pytest.raises(
        StudyError,
        match="gaze/object_dist_shuffled \\(the look-anywhere baseline of gaze/object_dist\\) "
        "has no better direction of its own.*early_terminate.goal: maximize or minimize",
    ):
        study_of(tmp_path, text)
    said = study_of(tmp_path, text.replace("shuffled}", "shuffled, goal: maximize}"))
    assert said.early_terminate.goal == "maximize"
    with pytest.raises(StudyError, match="metric.goal: maximize or minimize"):
        study_of(tmp_path, f"{GRID}metric: {{name: check/unconstrained/acc}}\n")


def test_a_resumed_folder_recorded_before_goals_existed_still_matches(tmp_path):
    study = study_of(tmp_path, f"{GRID}early_terminate: {{min_iter: 2, eta: 2}}\n")
    assert study.fingerprint()["early_terminate"] == {
        "grace_period": 2,
        "reduction_factor": 2,
        "max_t": None,
        "brackets": 1,
        "metric": "val/clean_acc",
    }
    said = study_of(tmp_path, f"{GRID}early_terminate: {{metric: time/epoch_s, goal: minimize}}\n")
    assert said.fingerprint()["early_terminate"]["goal"] == "minimize"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (  # gaze metrics come from learned-gaze families only
            "method: grid\nparameters: {model.kind: {values: [resnet, multi_gaze]}}\n"
            "early_terminate: {metric: gaze/object_dist}\n",
            "early_terminate.metric='gaze/object_dist' is not reported by 1 trial\\(s\\) of the "
            "study, which could never be stopped by ASHA: \\{model.kind: resnet\\}",
        ),
        (  # ... and object distances only where the dataset knows the object's centre
            "method: grid\nparameters:\n  model.kind: {value: multi_gaze}\n"
            "  data.name: {value: cifar10}\nmetric: {name: gaze/object_dist}\n",
            "metric.name='gaze/object_dist' is not reported by 1 trial\\(s\\).*could never be "
            "ranked",
        ),
        (  # STN metrics from spatial transformers only
            "method: grid\nparameters: {model.kind: {values: [multi_gaze, soft_attention]}}\n"
            "early_terminate: {metric: stn/bbox_edge_frac}\n",
            "stn/bbox_edge_frac' is not reported by 1 trial.*multi_gaze",
        ),
        (  # a model random at inference is attacked with APGD-DLR, never APGD-T-DLR
            "method: grid\nparameters:\n  model.kind: {value: retinal}\n"
            "  model.eval_gazes: {values: [centre, random]}\n  attack.eps: {value: 8/255}\n"
            "metric: {name: adv_acc/linf/apgd-t-dlr/0.03137}\n",
            "adv_acc/linf/apgd-t-dlr/0.03137' is not reported by 1 trial.*eval_gazes: random",
        ),
        (  # an attack at another ε than the study's
            "method: grid\nparameters: {attack.eps: {value: 8/255}}\n"
            "metric: {name: adv_acc/linf/pgd/0.1}\n",
            "adv_acc/linf/pgd/0.1' is not reported",
        ),
        (  # the robustness curve only with attack.eps_curve
            "method: grid\nparameters: {attack.eps: {value: 8/255}}\n"
            "metric: {name: adv_curve/linf/0.01}\n",
            "adv_curve/linf/0.01' is not reported",
        ),
        (  # the auxiliary heads' loss only where the model has them
            "method: grid\nparameters:\n  model.kind: {value: cortical}\n"
            "  model.auxiliary: {values: [true, false]}\n"
            "early_terminate: {metric: train/loss/aux}\n",
            "train/loss/aux' is not reported by 1 trial.*auxiliary: False",
        ),
    ],
)
def test_a_metric_some_trials_never_report_is_refused_before_ray(tmp_path, text, needle):
    study = study_of(tmp_path, text)
    with pytest.raises(StudyError, match=needle):
        check_before_ray(study)


@pytest.mark.parametrize(
    "text",
    [
        "method: grid\nparameters: {model.kind: {values: [multi_gaze, parallel_transformers]}}\n"
        "early_terminate: {metric: gaze/object_dist}\nmetric: {name: gaze/spread}\n",
        "method: grid\nparameters:\n  model.kind: {value: retinal}\n"
        "  model.eval_gazes: {value: random}\n  attack.eps: {value: 8/255}\n"
        "metric: {name: adv_acc/linf/apgd-dlr/0.03137}\n",
        "method: grid\nparameters:\n  attack.eps: {value: 8/255}\n"
        "  attack.eps_curve: {value: [0.01]}\nmetric: {name: adv_curve/linf/0.01}\n",
        "method: grid\nparameters: {model.kind: {values: [cortical]}, model.auxiliary: "
        "{value: true}}\nearly_terminate: {metric: train/loss/aux}\n",
        "method: grid\nparameters: {seed: {value: 1}}\n"
        "metric: {name: check/square_vs_white_box/drop, goal: minimize}\n",
        "method: bayes\nparameters: {model.kind: {values: [soft_attention]}, train.learning_rate: "
        "{min: 0.001, max: 0.01}}\nearly_terminate: {metric: stn/theta_saturation}\n",
    ],
)
def test_a_metric_every_trial_reports_passes(tmp_path, text):
    assert check_before_ray(study_of(tmp_path, text)) == []

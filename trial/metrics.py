"""Metric names shared by trials, Tune, W&B, reports and tests (design.md, "Metric names"), and
which way each one points (`DEFINITIONS`: the one place that says it; ASHA, the best checkpoint,
the study metric and the leaderboard all read it from here).
"""

from __future__ import annotations

import dataclasses
import re

CLEAN_ACC = "clean_acc"
ADV_ACC = "adv_acc"  # per-example worst case over the attack suite at the headline ε
ATTACK_BUDGET = "attack_budget"  # smoke | demo | standard
N_TEST = "n_test"  # test examples the final evaluation scored
CHECKS_PASSED = "checks_passed"  # 1 when every sanity check passed, else 0
EOT_SAMPLES = "eot_samples"  # draws per gradient (1: the model is deterministic)
VAL_CLEAN_ACC = "val/clean_acc"
VAL_ADV_ACC = "val/adv_acc"
TRAIN_LOSS = "train/loss"
TIME_EPOCH = "time/epoch_s"  # seconds the epoch took (training, validation and its look)
DATA_SKIPPED = "data/skipped"  # unreadable images left out so far (trial.data.SKIPPED)
EPOCH = "epoch"
STATUS = "status"  # completed | diverged
PHASE = "phase"  # "evaluation" on the final evaluation's steps (which carry no val/ metrics)
EVALUATION = "evaluation"
EVAL_DONE = "eval/done"  # evaluation units finished (the checks, then one per test batch) ...
EVAL_TOTAL = "eval/total"  # ... out of this many
TIME_EVAL_STEP = "time/eval_step_s"  # seconds the evaluation's last unit took
# Numbers about how far a trial's final evaluation got, not about its model: never ranked.
PROGRESS = (EVAL_DONE, EVAL_TOTAL, TIME_EVAL_STEP)
ORIGINAL = "original_ensemble"


def adv_key(norm: str, attack: str, eps: float) -> str:
    """The per-attack key, e.g. adv_acc/linf/pgd/0.03137: robust accuracy once that attack (and
    the suite's attacks before it) have run."""
    return f"{ADV_ACC}/{norm}/{attack}/{eps:.4g}"


# Artifacts: PNG paths (strings) in a trial's folder; W&B shows them as images, never as numbers.
ARTIFACT_OVERLAY = "artifact/overlay"  # this epoch's overlays/epoch_XXXX.png
ARTIFACT_GAZE_METRICS = "artifact/gaze_metrics"  # gaze_metrics.png, the gaze metrics so far


def loss_key(term: str) -> str:
    """A named term of the training loss, e.g. train/loss/gaze_l2."""
    return f"{TRAIN_LOSS}/{term}"


def original_key(norm: str, eps: float) -> str:
    """The original protocol's figure (5-step BIM against the fixed 5-gaze ensemble), e.g.
    adv_acc/original_ensemble/linf/0.007843; never part of adv_acc."""
    return f"{ADV_ACC}/{ORIGINAL}/{norm}/{eps:.4g}"


def curve_key(norm: str, eps: float) -> str:
    """A point of the robust-accuracy-vs-ε curve, e.g. adv_curve/linf/0.01."""
    return f"adv_curve/{norm}/{eps:.4g}"


def check_key(name: str, number: str | None = None) -> str:
    """A sanity verdict (check/<name>: "pass" | "fail") or one of its numbers."""
    return f"check/{name}" if number is None else f"check/{name}/{number}"


# Gaze and STN metrics (trial.gaze_metrics computes them; design.md defines them).
GAZE_BORDER_FRAC = "gaze/border_frac"  # share of gazes with max(|x|, |y|) >= 0.9: corner collapse
GAZE_CENTER_FRAC = "gaze/center_frac"  # share with max(|x|, |y|) <= 0.1: centre collapse
GAZE_SPREAD = "gaze/spread"  # std of each gaze slot across images: low = ignores the image
GAZE_DIVERSITY = "gaze/diversity"  # mean distance between one image's gazes
GAZE_OBJECT_DIST = "gaze/object_dist"  # nearest gaze to the object centre (datasets that know it)
GAZE_OBJECT_DIST_SHUFFLED = "gaze/object_dist_shuffled"  # the same, gazes of other images
GAZE_COLLAPSED = "gaze/collapsed"  # 1 when border_frac > 0.5, spread < 0.05 or low diversity
GAZE_METRICS = (
    GAZE_BORDER_FRAC,
    GAZE_CENTER_FRAC,
    GAZE_SPREAD,
    GAZE_DIVERSITY,
    GAZE_COLLAPSED,
)
OBJECT_METRICS = (GAZE_OBJECT_DIST, GAZE_OBJECT_DIST_SHUFFLED)  # where object centres are known
STN_THETA_SATURATION = "stn/theta_saturation"  # share of θ translations with |t| >= 0.95
STN_BBOX_EDGE_FRAC = "stn/bbox_edge_frac"  # share of boxes clinging to an image edge
STN_METRICS = (STN_THETA_SATURATION, STN_BBOX_EDGE_FRAC)

# The sanity checks of the final evaluation (attacks.checks; since issue 15
# `unconstrained` replaces large_eps, `incomplete_optimisation` more_steps). Each reports
# check/<name> (pass | fail) and its numbers check/<name>/<number>, which attacks.checks owns;
# `<attack>_vs_white_box` is one more check per score-based or transfer attack that runs after a
# gradient attack.
CHECKS = (
    "logits",
    "randomness",
    "gradients",
    "unconstrained",
    "incomplete_optimisation",
    "silent_success",
)


def black_box_check(attack: str) -> str:
    """The check of a score-based or transfer attack against the gradient attacks before it."""
    return f"{attack}_vs_white_box"


# ------------------------------------------------------------------ which way a metric points
MAXIMIZE, MINIMIZE = "maximize", "minimize"
GOALS = (MAXIMIZE, MINIMIZE)


@dataclasses.dataclass(frozen=True)
class Definition:
    """What a reported number means to a scheduler, a checkpoint keeper or a leaderboard.

    Attributes:
        goal: which way is better (`maximize` | `minimize`), or None when neither is (a
            baseline, a count, a diagnostic): whoever ranks by it must say which way.
        per_epoch: reported after every epoch (what ASHA and the best checkpoint can watch);
            else once, by the final evaluation (what bayes and the leaderboard can rank).
        meaning: one line, for messages.
    """

    goal: str | None
    per_epoch: bool
    meaning: str


_FINAL = {
    CLEAN_ACC: Definition(MAXIMIZE, False, "accuracy on the attacked test images"),
    ADV_ACC: Definition(MAXIMIZE, False, "worst case over the attack suite"),
    f"{ADV_ACC}/{ORIGINAL}/<norm>/<eps>": Definition(
        MAXIMIZE, False, "the original paper's protocol"
    ),
    f"{ADV_ACC}/<norm>/<attack>/<eps>": Definition(
        MAXIMIZE, False, "robust accuracy once that attack of the suite has run"
    ),
    "adv_curve/<norm>/<eps>": Definition(MAXIMIZE, False, "robust accuracy at another ε"),
    CHECKS_PASSED: Definition(MAXIMIZE, False, "1 when every sanity check passed"),
    "check/<check>/<number>": Definition(
        None, False, "a number a sanity check rests on (a diagnostic, not a goal)"
    ),
    N_TEST: Definition(None, False, "how many test images were attacked"),
    EOT_SAMPLES: Definition(None, False, "draws per gradient"),
}
_PER_EPOCH = {
    VAL_CLEAN_ACC: Definition(MAXIMIZE, True, "validation accuracy"),
    VAL_ADV_ACC: Definition(MAXIMIZE, True, "validation accuracy under PGD"),
    TRAIN_LOSS: Definition(MINIMIZE, True, "the training loss"),
    f"{TRAIN_LOSS}/<term>": Definition(MINIMIZE, True, "a named term of the training loss"),
    GAZE_BORDER_FRAC: Definition(MINIMIZE, True, "gazes at the image border (corner collapse)"),
    GAZE_CENTER_FRAC: Definition(MINIMIZE, True, "gazes at the image centre (centre collapse)"),
    GAZE_SPREAD: Definition(MAXIMIZE, True, "how much the gazes follow the image"),
    GAZE_DIVERSITY: Definition(MAXIMIZE, True, "distance between one image's gazes"),
    GAZE_OBJECT_DIST: Definition(MINIMIZE, True, "distance from the nearest gaze to the object"),
    GAZE_OBJECT_DIST_SHUFFLED: Definition(
        None, True, "the look-anywhere baseline of gaze/object_dist"
    ),
    GAZE_COLLAPSED: Definition(MINIMIZE, True, "1 when the gazes collapsed"),
    STN_THETA_SATURATION: Definition(MINIMIZE, True, "saturated STN translations"),
    STN_BBOX_EDGE_FRAC: Definition(MINIMIZE, True, "STN boxes clinging to an image edge"),
    TIME_EPOCH: Definition(None, True, "seconds per epoch"),
    DATA_SKIPPED: Definition(None, True, "unreadable images left out"),
}
DEFINITIONS: dict[str, Definition] = {**_FINAL, **_PER_EPOCH}  # exact names and <families>


def _pattern(name: str) -> re.Pattern[str]:
    parts = re.split(r"<[a-z]+>", name)
    return re.compile("[^/]+".join(map(re.escape, parts)) + r"\Z")


_PATTERNS = [(_pattern(k), k) for k in DEFINITIONS if "<" in k]


def family(name: str) -> str | None:
    """The `DEFINITIONS` key that defines `name` (itself, or a family such as
    adv_acc/<norm>/<attack>/<eps>), or None when `name` is no number a trial can be ranked by."""
    if name in DEFINITIONS:
        return name
    return next((key for pattern, key in _PATTERNS if pattern.match(name)), None)


def definition(name: str) -> Definition | None:
    """How `name` is defined, or None when it is no number a trial can be ranked by."""
    key = family(name)
    return DEFINITIONS[key] if key is not None else None


def better(goal: str, value: float, than: float) -> bool:
    """Whether `value` beats `than` under `goal` (maximize | minimize)."""
    if goal not in GOALS:
        raise ValueError(f"goal={goal!r} is not one of {', '.join(GOALS)}")
    return value > than if goal == MAXIMIZE else value < than

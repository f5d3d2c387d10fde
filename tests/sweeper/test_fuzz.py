"""Hypothesis fuzzing of the study loader: whatever a study file holds, the command line ends
with exit code 0 (a valid study) or 2 and one `error: <file>: ...` line, never a traceback."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeper import cli
from sweeper.params import DISTRIBUTIONS
from sweeper.study import METHODS

PATHS = [
    "model.kind",
    "model.width",
    "model.num_transformers",
    "model.shared",
    "model.gaze_init",
    "train.epochs",
    "train.learning_rate",
    "attack.eps",
    "data.name",
    "data.image_size",
    "seed",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(["resnet", "multi_gaze", "cortical", "grid", "8/255", "1e-3", "cifar10"]),
)
anything = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def mostly(good, bad=anything):
    """Well-formed 9 times in 10, else anything: so the fuzz reaches the deeper checks."""
    return st.integers(0, 9).flatmap(lambda i: bad if i == 0 else good)


numbers = st.integers(-3, 64) | st.floats(-1e3, 1e3) | st.sampled_from(["1/255", "1e-4", 0])
spec = mostly(
    st.fixed_dictionaries({"values": st.lists(mostly(numbers, scalars), min_size=1, max_size=3)})
    | st.fixed_dictionaries({"value": mostly(numbers, scalars)})
    | st.fixed_dictionaries(
        {"distribution": mostly(st.sampled_from(sorted(DISTRIBUTIONS)), scalars)},
        optional={k: mostly(numbers, scalars) for k in ("min", "max", "mu", "sigma", "q")},
    ),
    st.dictionaries(st.text(max_size=5), anything, max_size=3) | anything,
)
studies = st.fixed_dictionaries(
    {
        "method": mostly(st.sampled_from(METHODS)),
        "parameters": mostly(
            st.dictionaries(
                mostly(st.sampled_from(PATHS), st.text(max_size=12)), spec, min_size=1, max_size=4
            )
        ),
    },
    optional={
        "run_cap": mostly(st.integers(1, 5)),
        "seed": mostly(st.integers(0, 5)),
        "name": mostly(st.text(min_size=1, max_size=8)),
        "resources": mostly(
            st.fixed_dictionaries({}, optional={"cpu": numbers, "gpu": numbers | st.just(0.5)})
        ),
        "max_concurrent_trials": mostly(st.integers(1, 4)),
        "time_budget_s": mostly(
            st.fixed_dictionaries({}, optional={"study": numbers, "trial": numbers})
        ),
        "metric": mostly(
            st.fixed_dictionaries(
                {"name": mostly(st.sampled_from(["adv_acc", "val/clean_acc", "acc"]))},
                optional={"goal": mostly(st.sampled_from(["maximize", "minimize"]))},
            )
        ),
        "early_terminate": mostly(
            st.fixed_dictionaries(
                {},
                optional={
                    k: mostly(st.integers(1, 4), scalars)
                    for k in ("min_iter", "max_iter", "eta", "s")
                }
                | {"type": mostly(st.just("hyperband")), "metric": mostly(st.just("val/adv_acc"))},
            )
        ),
        "description": anything,
        "project": anything,
        "entity": anything,
    },
)


def _dump(value) -> str:
    def clean(v):  # YAML has no way to write NaN keys; keep everything else as generated
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return yaml.safe_dump(clean(value), allow_unicode=True)


def _check(path, capsys) -> None:
    code = cli.main([str(path), "--dry-run"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2:
        [line] = [x for x in err.splitlines() if x.startswith("error:")]
        assert line.startswith(f"error: {path}:"), line
    else:
        assert code == 0, err


FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(study=studies)
def test_any_study_mapping_ends_in_one_clear_message(study, tmp_path, capsys):
    path = tmp_path / "study.yaml"
    path.write_text(_dump(study))
    _check(path, capsys)


@FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_end_in_one_clear_message(raw, tmp_path, capsys):
    path = tmp_path / "study.yaml"
    path.write_bytes(raw)
    _check(path, capsys)


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, 10**400], ids=["nan", "inf", "-inf", "1e400"]
)
def test_non_finite_bounds_are_named(value, tmp_path, capsys):
    path = tmp_path / "study.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "method": "random",
                "parameters": {"train.learning_rate": {"min": value, "max": 1.0}},
            }
        )
    )
    assert cli.main([str(path), "--dry-run"]) == 2
    assert "parameters.train.learning_rate.min" in capsys.readouterr().err

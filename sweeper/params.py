"""Parameter distributions of a study: W&B sweep syntax, parsed once into `Param` objects.

A `Param` is the one description of a study parameter that every search method uses: grid
enumerates its `values`, random search draws with `sample`, bayes hands Optuna its
`tune_domain()` (the same bounds, so the three methods can never disagree about a space), and the
validation that runs before Ray builds configurations from its `probe_values()`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

DISTRIBUTIONS = {
    "constant": {"value"},
    "categorical": {"values"},
    "int_uniform": {"min", "max"},
    "uniform": {"min", "max"},
    "q_uniform": {"min", "max", "q"},
    "log_uniform_values": {"min", "max"},
    "q_log_uniform_values": {"min", "max", "q"},
    "log_uniform": {"min", "max"},  # W&B: bounds are natural logs of the values
    "normal": {"mu", "sigma"},
    "q_normal": {"mu", "sigma", "q"},
}
NUMBERS = ("min", "max", "mu", "sigma", "q")


class ParamError(ValueError):
    """A parameter spec is malformed; the message names the field (`parameters.<path>...`)."""


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of the search space: a dotted config path and its distribution."""

    path: str
    distribution: str
    spec: dict[str, Any]

    @property
    def values(self) -> list[Any] | None:
        """The finite list of values (constant, categorical), else None."""
        if self.distribution == "constant":
            return [self.spec["value"]]
        if self.distribution == "categorical":
            return list(self.spec["values"])
        return None

    def sample(self, rng: np.random.Generator) -> Any:
        """One random draw (random search)."""
        d, s = self.distribution, self.spec
        if self.values is not None:
            return self.values[rng.integers(len(self.values))]
        if d == "int_uniform":
            return int(rng.integers(s["min"], s["max"] + 1))
        if d in ("uniform", "q_uniform"):
            value = rng.uniform(s["min"], s["max"])
        elif d in ("log_uniform_values", "q_log_uniform_values"):
            value = math.exp(rng.uniform(math.log(s["min"]), math.log(s["max"])))
        elif d == "log_uniform":
            value = math.exp(rng.uniform(s["min"], s["max"]))
        else:
            value = rng.normal(s["mu"], s["sigma"])
        return self._quantise(value)

    def _quantise(self, value: float) -> float:
        q = self.spec.get("q")
        return float(round(value / q) * q) if q else float(value)

    def probe_values(self) -> list[Any]:
        """Values that exercise the whole range: every categorical value, or the bounds and the
        middle of a numeric range (what the pre-Ray validation of a bayes study builds)."""
        if self.values is not None:
            return self.values
        d, s = self.distribution, self.spec
        if d == "int_uniform":
            return sorted({s["min"], s["max"], (s["min"] + s["max"]) // 2})
        if d in ("normal", "q_normal"):
            lo, mid, hi = s["mu"] - 2 * s["sigma"], s["mu"], s["mu"] + 2 * s["sigma"]
        elif d == "log_uniform":
            lo, hi = math.exp(s["min"]), math.exp(s["max"])
            mid = math.sqrt(lo * hi)
        elif d in ("log_uniform_values", "q_log_uniform_values"):
            lo, hi = s["min"], s["max"]
            mid = math.sqrt(lo * hi)
        else:
            lo, hi = s["min"], s["max"]
            mid = (lo + hi) / 2
        return [self._quantise(v) for v in (lo, mid, hi)]

    def tune_domain(self):
        """The same distribution as a Ray Tune search domain (bayes hands it to Optuna)."""
        from ray import tune

        d, s = self.distribution, self.spec
        if self.values is not None:
            return tune.choice(self.values)
        if d == "int_uniform":
            return tune.randint(s["min"], s["max"] + 1)
        if d == "uniform":
            return tune.uniform(s["min"], s["max"])
        if d == "q_uniform":
            return tune.quniform(s["min"], s["max"], s["q"])
        if d == "log_uniform_values":
            return tune.loguniform(s["min"], s["max"])
        if d == "q_log_uniform_values":
            return tune.qloguniform(s["min"], s["max"], s["q"])
        if d == "log_uniform":
            return tune.loguniform(math.exp(s["min"]), math.exp(s["max"]))
        if d == "normal":
            return tune.randn(s["mu"], s["sigma"])
        return tune.qrandn(s["mu"], s["sigma"], s["q"])

    def describe(self) -> dict[str, Any]:
        """The JSON-safe form printed by `--dry-run` and recorded in the study fingerprint."""
        return {"distribution": self.distribution, **self.spec}


def parse_param(key: str, spec: Any) -> Param:
    """Parses one `parameters.<key>` entry; raises ParamError naming the field and the fix."""
    where = f"parameters.{key}"
    if not isinstance(spec, dict):
        raise ParamError(
            f"{where} must be a mapping such as {{values: [...]}} or "
            f"{{distribution: uniform, min: 0, max: 1}}, got {spec!r}"
        )
    spec = dict(spec)
    if "distribution" in spec:
        dist = spec.pop("distribution")
    elif "values" in spec:
        dist = "categorical"
    elif "value" in spec:
        dist = "constant"
    elif {"min", "max"} <= set(spec):
        both_int = all(_is_int(spec[k]) for k in ("min", "max"))
        dist = "int_uniform" if both_int else "uniform"
    else:
        raise ParamError(
            f"{where} needs `values`, `value` or a `distribution` with its bounds; got keys "
            f"{sorted(map(str, spec))}"
        )
    if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
        raise ParamError(
            f"{where}.distribution={dist!r} is not supported; use one of {', '.join(DISTRIBUTIONS)}"
        )
    need = DISTRIBUTIONS[dist]
    if set(spec) != need:
        given = set(map(str, spec))
        fixes = [f"add {', '.join(sorted(need - given))}"] if need - given else []
        fixes += [f"remove {', '.join(sorted(given - need))}"] if given - need else []
        raise ParamError(
            f"{where}: distribution {dist!r} takes exactly {sorted(need)}, got "
            f"{sorted(given)}; {' and '.join(fixes)}"
        )
    if dist == "categorical" and (not isinstance(spec["values"], list) or not spec["values"]):
        raise ParamError(f"{where}.values must be a non-empty list, got {spec['values']!r}")
    for bound in need & set(NUMBERS):
        spec[bound] = _number(f"{where}.{bound}", spec[bound])
        if dist == "int_uniform":
            if spec[bound] != int(spec[bound]) or abs(spec[bound]) >= 2**62:
                raise ParamError(f"{where}.{bound}={spec[bound]} must be an integer")
            spec[bound] = int(spec[bound])
    if "min" in spec and spec["min"] > spec["max"]:
        raise ParamError(f"{where}: min={spec['min']} is larger than max={spec['max']}; swap them")
    if dist in ("log_uniform_values", "q_log_uniform_values") and spec["min"] <= 0:
        raise ParamError(
            f"{where}: {dist} needs min > 0, got {spec['min']}; use a positive min (e.g. "
            "1e-5), or distribution: uniform for a range that includes 0"
        )
    if dist == "log_uniform" and max(abs(spec["min"]), abs(spec["max"])) > 700:
        raise ParamError(
            f"{where}: log_uniform bounds are natural logs (exp(700) overflows); did you mean "
            "log_uniform_values?"
        )
    if spec.get("sigma", 1) <= 0 or spec.get("q", 1) <= 0:
        raise ParamError(f"{where}: sigma and q must be > 0")
    return Param(key, dist, spec)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(where: str, value: Any) -> float:
    """A finite number (fractions such as 8/255 allowed), or ParamError naming `where`."""
    from trial.config import parse_float

    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ParamError(f"{where}={value!r} must be a number")
    try:
        number = parse_float(value, where)
    except ValueError as err:
        raise ParamError(str(err)) from None
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ParamError(f"{where}={value!r} must be a finite number")
    return number

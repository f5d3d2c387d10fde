"""A trial's final evaluation: the attack suite, the original protocol, the curve, the checks.

The evaluation is split into units that can each run as one `Trial.step()`: unit 0 runs the
sanity checks on the first test examples, unit i >= 1 runs test batch i (the suite's cascade, the
original protocol and any curve points). Each finished unit is written to `state_dir` (with a
manifest of the config it belongs to), so an interrupted evaluation resumes from the finished
units instead of starting over; `final_evaluation` runs every unit in one call. Models that the
registry marks random at inference are attacked with EOT and scored as the mean over 10 draws.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from attacks import checks as C
from attacks import suite as S
from attacks.base import build as build_attack
from attacks.config import curve_eps
from attacks.target import Target
from attacks.threat import ThreatModel
from trial import metrics as M
from trial.config import TrialConfig
from trial.targets import (  # noqa: F401  (check_config, validation_attack: used by trial.run)
    check_config,
    load_surrogate,
    make_target,
    original_target,
    validation_attack,
)
from trial.train import logits_fn

log = logging.getLogger(__name__)
FORMAT = 1  # bump when the stored units change meaning


class Evaluator:
    """The final evaluation as resumable units (0: sanity checks; i >= 1: test batch i).

    Args:
        cfg: the trial's config (its `attack` section says what to run).
        model: the trained model.
        data: the trial's data; test examples are read with `data.test.batches`.
        state_dir: where finished units are stored (None: memory only).
    """

    def __init__(self, cfg: TrialConfig, model, data, *, state_dir: Path | None = None) -> None:
        check_config(cfg, data.num_classes)
        self.cfg, self.model, self.data = cfg, model, data
        plan = cfg.attack.plan
        limit = plan.n_test
        self.n_test = len(data.test) if limit <= 0 else min(limit, len(data.test))
        self.batch_size = cfg.attack.batch_size
        if self.n_test < 1:
            raise ValueError(f"data {data.name!r} has no test examples to evaluate on")
        self.total = 1 + math.ceil(self.n_test / self.batch_size)
        self.threat = ThreatModel(cfg.attack.norm, cfg.attack.eps)
        self.target = make_target(cfg, model)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self._memory: dict[int, Any] = {}
        self._built: dict[str, Any] = {}
        self._walk: tuple[int, Any] | None = None  # (last batch read, the split's iterator)
        if self.state_dir is not None:
            self._open_state()

    # ----------------------------------------------------------------------------- storage
    def _manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "config": self.cfg.to_dict(),
            "units": self.total,
            "suite": self.cfg.attack.suite_names(self.target.random),
        }

    def _open_state(self) -> None:
        manifest = self.state_dir / "manifest.json"
        if manifest.exists():
            try:
                same = json.loads(manifest.read_text()) == json.loads(json.dumps(self._manifest()))
            except json.JSONDecodeError:
                same = False
            if not same:
                log.info(
                    "evaluation state in %s is for other settings; starting over", self.state_dir
                )
                for path in self.state_dir.glob("unit_*"):
                    path.unlink()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(manifest, json.dumps(self._manifest(), indent=1).encode())

    def _unit_path(self, unit: int) -> Path:
        return self.state_dir / f"unit_{unit:04d}.npz"

    def done_units(self) -> list[int]:
        if self.state_dir is None:
            return sorted(self._memory)
        return [u for u in range(self.total) if self._unit_path(u).exists()]

    @property
    def finished(self) -> bool:
        return len(self.done_units()) == self.total

    def next_unit(self) -> int:
        done = set(self.done_units())
        return next(u for u in range(self.total) if u not in done)

    def _store(self, unit: int, arrays: dict[str, np.ndarray]) -> None:
        self._memory[unit] = arrays
        if self.state_dir is not None:
            import io

            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            _write_atomic(self._unit_path(unit), buffer.getvalue())

    def _load(self, unit: int) -> dict[str, np.ndarray]:
        if unit not in self._memory:
            with np.load(self._unit_path(unit)) as saved:
                self._memory[unit] = {k: saved[k] for k in saved.files}
        return self._memory[unit]

    # ------------------------------------------------------------------------------- units
    def _attacks(self, key: str, eps: float | None = None):
        if key not in self._built:
            cfg = self.cfg
            if key == "original":
                target = original_target(
                    cfg, self.model, self.data.input_shape, self.data.num_classes
                )
                self._built[key] = (
                    target,
                    [build_attack("original", target, self.threat, seed=cfg.seed)],
                )
            else:
                surrogate = None
                if cfg.attack.transfer_from and key == "suite":
                    model, _ = load_surrogate(
                        Path(cfg.attack.transfer_from), self.data.input_shape, self.data.num_classes
                    )
                    surrogate = Target(logits_fn(model), name="transfer surrogate")
                self._built[key] = S.build(
                    cfg.attack,
                    self.target,
                    eps=eps,
                    seed=cfg.seed + 17,
                    surrogate=surrogate,
                    white_box_only=key != "suite",
                )
        return self._built[key]

    def run_unit(self, unit: int) -> None:
        """Runs one unit and stores its outcome."""
        started = time.perf_counter()
        if unit == 0:
            self._store(0, self._checks())
            log.info(
                "evaluation 1/%d: sanity checks (%.1f s)", self.total, time.perf_counter() - started
            )
            return
        batch = self._batch(unit)

        def progress(name: str, n: int, seconds: float) -> None:
            log.info(
                "evaluation %d/%d: batch %d, %s on %d still-robust examples (%.1f s)",
                unit + 1,
                self.total,
                unit,
                name,
                n,
                seconds,
            )

        suite = self._attacks("suite")
        outcome = S.cascade(self.target, suite, batch.images, batch.labels, progress=progress)
        arrays = outcome.to_arrays("suite/")
        arrays["suite/black_box"] = np.array([not a.white_box for a in suite])
        target, original = self._attacks("original")
        arrays.update(
            S.cascade(target, original, batch.images, batch.labels).to_arrays("original/")
        )
        for eps in curve_eps(self.cfg.attack):
            point = S.cascade(
                self.target,
                self._attacks(f"curve/{eps!r}", eps),
                batch.images,
                batch.labels,
                clean=outcome.clean,
            )
            arrays[f"curve/{eps!r}"] = point.robust
        self._store(unit, arrays)
        log.info(
            "evaluation %d/%d: batch %d done, %d examples, robust %.3f (%.1f s)",
            unit + 1,
            self.total,
            unit,
            len(outcome),
            outcome.robust.mean(),
            time.perf_counter() - started,
        )

    def _batch(self, unit: int):
        """Test batch `unit` (1-based); the walk goes on from the previous unit's batch, and
        starts over only when units run out of order (a resumed evaluation)."""
        if self._walk is None or self._walk[0] != unit - 1:
            self._walk = (0, iter(self.data.test.batches(self.batch_size, limit=self.n_test)))
        position, batches = self._walk
        for _ in range(unit - position - 1):
            next(batches)
        self._walk = (unit, batches)
        return next(batches)

    def _checks(self) -> dict[str, np.ndarray]:
        cfg, n = self.cfg, self.cfg.attack.plan.check_examples
        batch = next(self.data.test.batches(n, limit=n))
        x, y = batch.images, batch.labels
        steps = cfg.attack.steps or cfg.attack.plan.check_steps
        found = [
            C.logits_check(self.target, x),
            C.randomness_check(self.target, x),
            C.gradient_check(self.target, x, y),
            C.unconstrained_check(
                self.target, x, y, norm=cfg.attack.norm, steps=steps, seed=cfg.seed
            ),
            C.incomplete_optimisation_check(
                self.target, self.threat, x, y, steps=steps, seed=cfg.seed
            ),
            C.silent_success_check(self.target, self.threat, x, y, steps=steps, seed=cfg.seed),
        ]
        text = json.dumps([dataclasses.asdict(c) for c in found])
        return {"checks": np.frombuffer(text.encode(), np.uint8)}

    # ------------------------------------------------------------------------------ result
    def result(self) -> dict[str, Any]:
        """The final metrics (contract d); every unit must have run."""
        missing = [u for u in range(self.total) if u not in set(self.done_units())]
        if missing:
            raise RuntimeError(f"evaluation units {missing} have not run yet")
        attack = self.cfg.attack
        batches = [self._load(u) for u in range(1, self.total)]
        suite = S.combine([S.Outcome.from_arrays(b, "suite/") for b in batches])
        original = S.combine([S.Outcome.from_arrays(b, "original/") for b in batches])
        out: dict[str, Any] = {
            M.CLEAN_ACC: float(suite.clean.mean()),
            M.ADV_ACC: float(suite.robust.mean()),
            M.ATTACK_BUDGET: attack.budget,
            M.N_TEST: len(suite),
            M.EOT_SAMPLES: self.target.grad_samples,
        }
        for name, scores in suite.after.items():
            out[M.adv_key(attack.norm, name, attack.eps)] = float(scores.mean())
        out[M.original_key(attack.norm, attack.eps)] = float(original.robust.mean())
        if attack.eps_curve:
            out[M.curve_key(attack.norm, attack.eps)] = out[M.ADV_ACC]
            for eps in curve_eps(attack):
                points = np.concatenate([b[f"curve/{eps!r}"] for b in batches])
                out[M.curve_key(attack.norm, eps)] = float(points.mean())
        stored = json.loads(self._load(0)["checks"].tobytes().decode())
        found = [C.Check(c["name"], bool(c["passed"]), c["numbers"]) for c in stored]
        black_box = dict(zip(suite.after, batches[0]["suite/black_box"].tolist(), strict=True))
        found += C.black_box_checks(suite, black_box, self.target.score_draws)
        for check in found:
            out[M.check_key(check.name)] = check.verdict
            for key, value in check.numbers.items():
                out[M.check_key(check.name, key)] = float(value)
        out[M.CHECKS_PASSED] = int(all(c.passed for c in found))
        return out


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def final_evaluation(
    cfg: TrialConfig, model, data, *, state_dir: Path | str | None = None
) -> dict[str, Any]:
    """Runs (or, from `state_dir`, finishes) the whole final evaluation; returns its metrics."""
    evaluator = Evaluator(
        cfg, model, data, state_dir=None if state_dir is None else Path(state_dir)
    )
    while not evaluator.finished:
        evaluator.run_unit(evaluator.next_unit())
    return evaluator.result()

"""Compact study progress: one line per change, or every 30 s while nothing changes.

    [  2:31] demo: 1 done, 2 running, 1 pending, 0 stopped, 0 errored | best trial_ab12_00001
    coarse_fixations: adv_acc 0.652, clean_acc 0.912

A Tune `Callback` on the driver: it sees every trial's state and results, so it needs nothing
from the trials. Ray's wide progress table is off by default (`--verbose` brings it back).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Collection
from typing import Any, TextIO

from ray.tune import Callback

from sweeper.wandb_run import run_name
from trial import metrics as M

HEARTBEAT_S = 30.0


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:2d}:{secs:02d}"


class Progress(Callback):
    """Prints the study's state whenever it changes, and at least every `heartbeat` seconds.

    Args:
        study: the study's name, shown on every line.
        metric, mode: the study metric and its direction (the best trial's figure).
        varied: the study's varied parameters (for readable trial names).
        out: where lines go (stdout).
        clock: time source (tests pass a fake one).
    """

    def __init__(
        self,
        study: str,
        metric: str,
        mode: str,
        *,
        varied: Collection[str] = (),
        heartbeat: float = HEARTBEAT_S,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.study, self.metric, self.mode = study, metric, mode
        self.varied = tuple(varied)
        self.heartbeat = heartbeat
        self.out = out
        self.clock = clock
        self.start = clock()
        self.last_line_at = -math.inf
        self.last_key: tuple | None = None
        self.results: dict[str, dict[str, Any]] = {}  # trial id -> merged results

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Tune pickles its callbacks with the study and restores them on `--resume`: the
        restored one starts its clock and its memory afresh."""
        self.__dict__.update(state)
        self.start, self.last_line_at, self.last_key = self.clock(), -math.inf, None
        self.results = {}

    # Tune's hooks --------------------------------------------------------------------------
    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self.results.setdefault(trial.trial_id, {}).update(result)
        self.update(trials)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.update(trials)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.update(trials)

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.update(trials)

    def on_step_end(self, iteration, trials, **info) -> None:
        self.update(trials)

    def on_experiment_end(self, trials, **info) -> None:
        self.update(trials)

    # ---------------------------------------------------------------------------------------
    def _result(self, trial) -> dict[str, Any]:
        """What is known of a trial's results: those seen here, over Tune's last result (all
        there is of the trials a resumed study finished before)."""
        return {
            **(getattr(trial, "last_result", None) or {}),
            **self.results.get(trial.trial_id, {}),
        }

    def counts(self, trials) -> dict[str, int]:
        """done (completed or diverged) / running / pending / stopped / errored."""
        counts = dict.fromkeys(("done", "running", "pending", "stopped", "errored"), 0)
        for trial in trials:
            status = trial.status
            if status == "TERMINATED":
                ended = self._result(trial).get(M.STATUS)
                counts["done" if ended in ("completed", "diverged") else "stopped"] += 1
            elif status == "ERROR":
                counts["errored"] += 1
            elif status == "RUNNING":
                counts["running"] += 1
            else:  # PENDING, PAUSED
                counts["pending"] += 1
        return counts

    def leader(self, trials) -> tuple[Any, str] | None:
        """The best trial so far and its figures: by the study metric among trials with a final
        figure, else by the last validation accuracy."""
        final, val = [], []
        for trial in trials:
            result = self._result(trial)
            if _finite(result.get(self.metric)) and M.STATUS in result:
                final.append((result[self.metric], trial, result))
            elif _finite(result.get(M.VAL_CLEAN_ACC)):
                val.append((result[M.VAL_CLEAN_ACC], trial, result))
        sign = 1 if self.mode == "max" else -1
        if final:
            _, trial, r = max(final, key=lambda x: sign * x[0])
            figures = [self.metric, M.CLEAN_ACC, M.ADV_ACC]
            prefix = "best"
        elif val:
            _, trial, r = max(val, key=lambda x: x[0])
            figures = [M.VAL_CLEAN_ACC, M.VAL_ADV_ACC]
            prefix = f"leading (epoch {r.get(M.EPOCH, '?')})"
        else:
            return None
        shown = dict.fromkeys(f for f in figures if _finite(r.get(f)))
        text = ", ".join(f"{k} {r[k]:.3f}" for k in shown)
        name = run_name(trial.config.get("trial", {}), self.varied)
        return trial, f"{prefix} trial_{trial.trial_id} {name}: {text}"

    def line(self, trials) -> tuple[tuple, str]:
        counts = self.counts(trials)
        lead = self.leader(trials)
        text = f"[{_elapsed(self.clock() - self.start)}] {self.study}: " + ", ".join(
            f"{n} {k}" for k, n in counts.items()
        )
        if lead:
            text += f" | {lead[1]}"
        key = (tuple(counts.values()), lead[1] if lead and lead[1].startswith("best") else None)
        key = (*key, lead[0].trial_id if lead else None)
        return key, text

    def update(self, trials) -> None:
        key, text = self.line(trials)
        now = self.clock()
        if key != self.last_key or now - self.last_line_at >= self.heartbeat:
            print(text, file=self.out or sys.stdout, flush=True)
            self.last_key, self.last_line_at = key, now

"""The trials of a study folder, read back from what Tune stored.

Every trial folder (`trial_<id>/`) holds `params.json` (its config under `trial`) and
`result.json` (one JSON line per report: the epochs, then the final evaluation, whose results
carry `phase: "evaluation"`). A folder may hold the trials of several studies (a study extended
by another): each trial stands on its own. How a trial ended comes from its own results
(`status`: completed, diverged, or another ending the runner records, such as
over_time_budget), from `error.txt` (errored), and otherwise from Tune's experiment state
(TERMINATED without a final status: the scheduler stopped it; anything else: unfinished).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from typing import Any

from sweeper.report.store import Store
from trial import metrics as M

log = logging.getLogger(__name__)

EVALUATION = "evaluation"  # the `phase` of the final evaluation's results
UNFINISHED = ("running", "interrupted", "pending")


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    """One stored trial: its config, its per-epoch history and how it ended."""

    name: str  # the folder name, trial_<id>
    config: dict[str, Any]  # flat dotted keys, as the study set them
    history: tuple[dict[str, Any], ...]  # per-epoch results, in order
    final: dict[str, Any]  # the final evaluation's metrics (empty if it never ran)
    status: str  # completed | diverged | stopped | errored | over_time_budget | interrupted ...
    error: str = ""  # first line of error.txt

    @property
    def family(self) -> str:
        return str(self.config.get("model.kind", "resnet"))

    @property
    def epochs(self) -> int:
        return max((int(r.get(M.EPOCH, 0)) for r in self.history), default=0)

    @property
    def has_final(self) -> bool:
        return _finite(self.final.get(M.CLEAN_ACC)) and _finite(self.final.get(M.ADV_ACC))

    def figure(self, key: str) -> float | None:
        """A final figure, else the last per-epoch figure of that name (None if neither)."""
        value = self.final.get(key)
        if _finite(value):
            return float(value)
        return self.last(key)

    def last(self, key: str) -> float | None:
        """The last per-epoch value of a metric."""
        for row in reversed(self.history):
            if _finite(row.get(key)):
                return float(row[key])
        return None

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(epochs, values) of a per-epoch metric."""
        points = [(int(r[M.EPOCH]), float(r[key])) for r in self.history if _finite(r.get(key))]
        return [p[0] for p in points], [p[1] for p in points]

    @property
    def checks(self) -> dict[str, str]:
        """The attack suite's sanity verdicts, `check/<name>` -> pass | fail (not the numbers
        behind them, `check/<name>/<number>`)."""
        return {
            k.split("/", 1)[1]: str(v)
            for k, v in self.final.items()
            if k.startswith("check/") and k.count("/") == 1
        }

    @property
    def failed_checks(self) -> list[str]:
        failed = sorted(k for k, v in self.checks.items() if v != "pass")
        if not failed and self.final.get("checks_passed") in (0, False):
            failed = ["checks_passed=0"]
        return failed

    @property
    def has_gazes(self) -> bool:
        return any(k.startswith("gaze/") for r in self.history for k in r)

    @property
    def n_test(self) -> int | None:
        n = self.final.get("n_test")
        return int(n) if _finite(n) and n > 0 else None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _results(store: Store, rel: str) -> list[dict[str, Any]]:
    if not store.exists(rel):
        return []
    rows = []
    for line in store.read_text(rel).splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by an interruption
                log.warning("%s: skipped an unreadable line", store.url(rel))
    return rows


def tune_states(store: Store) -> dict[str, str]:
    """Trial folder -> Tune's status (TERMINATED, ERROR, RUNNING, PENDING, PAUSED), from the
    experiment state files Tune keeps in the study folder (newest wins). A folder without them
    (or in a format this Ray writes differently) just yields no states."""
    states: dict[str, str] = {}
    files = sorted(n for n, is_dir in store.listdir() if n.startswith("experiment_state-"))
    for name in files:
        try:
            for entry in json.loads(store.read_text(name)).get("trial_data", []):
                state = json.loads(entry[0]) if isinstance(entry[0], str) else entry[0]
                folder = state.get("relative_logdir") or f"trial_{state.get('trial_id')}"
                states[str(folder)] = str(state.get("status", ""))
        except (ValueError, KeyError, TypeError, IndexError) as err:
            log.debug("could not read Tune's state %s: %s", name, err)
    return states


def _status(results: list[dict[str, Any]], error: str, tune_status: str | None) -> str:
    for row in reversed(results):
        if row.get(M.STATUS):
            return str(row[M.STATUS])
    if error or tune_status == "ERROR":
        return "errored"
    if tune_status == "TERMINATED" and results:
        return "stopped"
    if tune_status == "RUNNING":
        return "running"
    return "interrupted" if results else "pending"


def collect(store: Store) -> list[TrialRecord]:
    """Every trial of a study folder, in folder order."""
    states = tune_states(store)
    trials = []
    for name, is_dir in store.listdir():
        if not is_dir or not store.exists(f"{name}/params.json"):
            continue
        params = json.loads(store.read_text(f"{name}/params.json"))
        config = params.get("trial", params)
        results = _results(store, f"{name}/result.json")
        error = ""
        if store.exists(f"{name}/error.txt"):
            lines = store.read_text(f"{name}/error.txt").strip().splitlines()
            error = lines[-1] if lines else "error"
        history = tuple(r for r in results if r.get("phase") != EVALUATION and M.EPOCH in r)
        final: dict[str, Any] = {}
        for row in results:
            if row.get("phase") == EVALUATION or M.CLEAN_ACC in row or M.STATUS in row:
                final.update(row)
        trials.append(
            TrialRecord(
                name=name,
                config=config,
                history=history,
                final=final if M.CLEAN_ACC in final else {},
                status=_status(results, error, states.get(name)),
                error=error,
            )
        )
    return trials

"""How a study ended: each trial's outcome, a one-line summary and the process exit code.

Exit codes (design.md): 0 when every trial completed, diverged or was stopped (by ASHA, by its
own time budget or by the study's); 2 for bad input (before anything ran); 1 when any trial
errored (after its retries); 130 (143 on SIGTERM) when the study was interrupted, with the
`--resume` command that continues it.

Outcomes are read from the experiment state Tune saved last (what `--resume` acts on): after an
interruption Tune's in-memory trials all read TERMINATED, but the saved state keeps the
interrupted ones RUNNING, so that resuming continues them.
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
import sys
from collections import Counter
from typing import Any

EXIT_OK, EXIT_ERRORED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
STATES = ("completed", "stopped", "diverged", "errored", "unfinished")


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
    """One trial's end: `state` is one of STATES; `detail` the error's last line or why it
    stopped."""

    trial: str
    state: str
    detail: str = ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def of_trial(trial: Any) -> TrialOutcome:
    """The outcome of one Tune trial (a `ray.tune.experiment.Trial`)."""
    from sweeper.trainable import STOP_REASON, trial_dirname

    name = trial_dirname(trial.trial_id)
    last = trial.last_result or {}
    if trial.status == "ERROR":
        error = trial.get_error() if hasattr(trial, "get_error") else None
        return TrialOutcome(name, "errored", _last_line(error) if error else "")
    if trial.status != "TERMINATED":
        return TrialOutcome(name, "unfinished")
    status = last.get("status")
    if status in ("completed", "diverged"):
        return TrialOutcome(name, status)
    return TrialOutcome(name, "stopped", last.get(STOP_REASON, "early stopping"))


def of_experiment(experiment: str, filesystem: Any = None) -> list[TrialOutcome]:
    """Every trial of a study, as Tune last saved it (no saved state yet: no trials)."""
    from ray.tune import ExperimentAnalysis

    quiet = logging.getLogger("ray.tune.analysis.experiment_analysis")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # trials without results yet are fine here
    try:
        analysis = ExperimentAnalysis(experiment, storage_filesystem=filesystem)
    except (FileNotFoundError, ValueError):
        return []
    finally:
        quiet.setLevel(level)
    return [of_trial(t) for t in analysis.trials]


def exit_code(outcomes: list[TrialOutcome], *, signal_code: int | None = None) -> int:
    """The study's exit code: interrupted when a trial is left unfinished, with the code of
    the signal that did it (Ctrl-C unless told otherwise); else errored or ok."""
    states = Counter(o.state for o in outcomes)
    if states["unfinished"] or signal_code is not None:
        return signal_code or EXIT_INTERRUPTED
    return EXIT_ERRORED if states["errored"] else EXIT_OK


def summary(study: str, outcomes: list[TrialOutcome], *, budget_ran_out: bool = False) -> str:
    """One line: counts per state, the first error, and whether the study's budget ran out."""
    states = Counter(o.state for o in outcomes)
    counts = ", ".join(f"{states[s]} {s}" for s in STATES if states[s])
    line = f"study {study}: {len(outcomes)} trial(s): {counts or 'none ran'}"
    errors = [o for o in outcomes if o.state == "errored"]
    if errors:
        first = errors[0]
        line += f"; {first.trial}: {first.detail or 'error'} (tracebacks in each trial's error.txt)"
    if budget_ran_out:
        line += (
            "; the study's time budget ran out: trials running then were stopped, pending "
            "ones never started"
        )
    return line


def resume_command(argv: list[str] | None = None) -> str:
    """The exact command that continues this study: the same one with `--resume`."""
    argv = list(sys.argv if argv is None else argv)
    script, args = argv[0], argv[1:]
    head = (
        [sys.executable, "-m", "sweeper"]
        if script.endswith("__main__.py")
        else [sys.executable, script]
    )
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join(head + args)

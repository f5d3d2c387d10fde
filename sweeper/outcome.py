"""How a study ended: each trial's outcome, a one-line summary and the process exit code.

Exit codes (design.md): 0 when every trial completed, diverged or was stopped (by ASHA or its
time budget); 2 for bad input (before anything ran); 1 when any trial errored (after its
retries); 3 when the study's time budget ran out before every trial finished; 130 (143 on
SIGTERM) when the study was interrupted. An interrupted or incomplete study is continued with
the `--resume` command this module spells out.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from collections import Counter
from typing import Any

EXIT_OK, EXIT_ERRORED, EXIT_BAD_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3
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


def of_results(results: Any) -> list[TrialOutcome]:
    """Every trial of a Tune ResultGrid."""
    return [of_trial(t) for t in results._experiment_analysis.trials]


def exit_code(outcomes: list[TrialOutcome], *, interrupted: int | None = None) -> int:
    """The study's exit code from its trials (and the signal that interrupted it, if any)."""
    if interrupted is not None:
        return interrupted
    states = Counter(o.state for o in outcomes)
    if states["errored"]:
        return EXIT_ERRORED
    if states["unfinished"]:
        return EXIT_INCOMPLETE
    return EXIT_OK


def summary(study: str, outcomes: list[TrialOutcome], code: int) -> str:
    """One line: counts per state, and the first error."""
    states = Counter(o.state for o in outcomes)
    counts = ", ".join(f"{states[s]} {s}" for s in STATES if states[s])
    line = f"study {study}: {len(outcomes)} trial(s): {counts or 'none ran'}"
    errors = [o for o in outcomes if o.state == "errored"]
    if errors:
        first = errors[0]
        line += f"; {first.trial}: {first.detail or 'error'} (tracebacks in each trial's error.txt)"
    if code == EXIT_INCOMPLETE:
        line += "; the study's time budget ran out"
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

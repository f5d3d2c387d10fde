"""W&B runs written from the trial side: one run per trial, grouped by study.

The mode is decided once on the driver (`resolve_mode`): `online` needs an API key and fails
before anything starts without one; `auto` means online with a key and offline without. Inside a
trial, `TrialRun` wraps a W&B run so that a W&B failure is logged and never ends the trial.
Offline run folders land in the trial's own directory, under the study folder.
"""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger(__name__)
MODES = ("auto", "online", "offline", "disabled")
# How each way a trial ends closes its run (exit code 0: finished; W&B shows others as failed).
OUTCOMES = {"completed": 0, "stopped": 0, "diverged": 1, "errored": 1, "preempted": 1}


def run_name(flat_config: dict[str, Any]) -> str:
    """A readable run name from a trial's flat config (the model kind and its branch count)."""
    parts = [str(flat_config.get("model.kind", "trial"))]
    if "model.num_transformers" in flat_config:
        parts.append(f"k{flat_config['model.num_transformers']}")
    return "-".join(parts)


def has_api_key() -> bool:
    """Whether W&B credentials are configured (env var or a netrc entry for the W&B host)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    path = os.environ.get("NETRC", str(Path.home() / ".netrc"))
    try:
        return netrc.netrc(path).authenticators(host or "") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_mode(requested: str) -> str:
    """Turns `auto` into online/offline; `online` without credentials is an error."""
    if requested not in MODES:
        raise ValueError(f"--wandb={requested!r} is not one of {', '.join(MODES)}")
    if os.environ.get("WANDB_MODE") in ("offline", "disabled") and requested == "auto":
        return os.environ["WANDB_MODE"]
    if requested == "auto":
        return "online" if has_api_key() else "offline"
    if requested == "online" and not has_api_key():
        raise ValueError(
            "--wandb=online but no W&B API key is configured; run `wandb login` or set "
            "WANDB_API_KEY, or use --wandb offline (sync later with `wandb sync`)"
        )
    return requested


def _detach_atexit_teardown() -> None:
    """Unregisters W&B's atexit teardown of its service; `TrialRun.finish` tears it down.

    When Tune stops a trial (ASHA), the worker exits while the trial thread may still be inside
    W&B, and W&B's atexit hook then fails with ConnectionResetError tracebacks. Everything logged
    is already in the run's file by then. This reaches into wandb's private setup object (tested
    with wandb 0.31); if that changes, the hook simply stays registered.
    """
    try:
        from wandb.sdk import wandb_setup

        connection = wandb_setup.singleton()._connection
        if connection is not None and connection._cleanup is not None:
            connection._cleanup()
    except Exception as err:
        log.debug("could not detach W&B's atexit teardown: %s", err)


def _numeric(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float) and k != "epoch"}


class TrialRun:
    """A W&B run for one trial that never raises into the trial."""

    def __init__(
        self,
        *,
        mode: str,
        directory: Path,
        project: str,
        group: str,
        name: str,
        run_id: str,
        config: dict[str, Any],
        tags: list[str] | None = None,
    ) -> None:
        self._run = None
        if mode == "disabled":
            return
        try:
            import wandb

            directory.mkdir(parents=True, exist_ok=True)
            self._run = wandb.init(
                mode=mode,
                dir=str(directory),
                project=project,
                group=group,
                name=name,
                id=run_id,
                resume="allow",
                config=config,
                tags=tags,
                settings=wandb.Settings(console="off", silent=True, x_disable_stats=True),
            )
        except Exception as err:  # W&B must never end a trial
            log.warning("W&B run could not start (%s); continuing without W&B", err)
            return
        _detach_atexit_teardown()

    def log(self, metrics: dict[str, Any], step: int) -> None:
        if self._run is None:
            return
        try:
            self._run.log(_numeric(metrics), step=step)
            text = {k: v for k, v in metrics.items() if isinstance(v, str)}
            if text:
                self._run.summary.update(text)
        except Exception as err:
            log.warning("W&B log failed (%s); continuing", err)

    def finish(self, outcome: str = "completed") -> None:
        """Closes the run. `outcome`: completed | stopped | diverged | errored | preempted
        (preempted marks the run preempting: resumable, and the resumed trial continues it)."""
        if self._run is None:
            return
        import wandb

        exit_code = OUTCOMES.get(outcome, 1)
        try:
            if outcome == "preempted":
                self._run.mark_preempting()
            self._run.finish(exit_code=exit_code)
        except Exception as err:
            log.warning("W&B finish failed (%s); the run's file holds what was logged", err)
        self._run = None
        # Stop W&B's service now, even if finishing failed: `teardown` also unregisters W&B's own
        # atexit hook, which otherwise races the worker's shutdown (Tune stopping a trial) and
        # prints ConnectionResetError tracebacks.
        try:
            wandb.teardown(exit_code)
        except Exception as err:
            log.debug("W&B teardown: %s", err)

"""One trial as a Ray Tune class trainable: a thin adapter around `trial.run.Trial`.

`setup` (and `reset_config`, when Tune hands a worker its next trial) turns Tune's config into a
`TrialConfig` (dropping, and logging, keys the trial's model kind lacks), opens the trial's W&B
run and builds the Trial; each `step` advances it one step (an epoch, then the evaluation) and
logs it; `save_checkpoint`/`load_checkpoint` hand the epoch checkpoints to Tune and back, so a
trial resumes on any node from its last epoch (naming the epoch folder in the trial's folder
when that lies in storage every node reaches, so the weights are stored once).

How a trial can end, and what its W&B run says:
- completed / diverged: the Trial is done; the run is closed before Tune sees the last result.
- stopped: ASHA or the end of the study (`cleanup`; past the study's time budget its W&B run
  says `stop_reason: study_time_budget`), or the trial's own time budget (marked in its last
  result as `status: over_time_budget`, `stop_reason: trial_time_budget`, which the report
  shows as such).
- errored: a step or the setup raised; the traceback goes to W&B (summary `error`) before the
  exception reaches Tune, which writes it to the trial's `error.txt` and retries it from its
  last checkpoint up to `--max-failures` times.
- preempted: SIGTERM reached the worker (a spot node going away): the run is closed as
  preempting (resumable), the checkpoint stays, and the worker exits non-zero so that Tune
  counts a failure and resumes the trial from its last checkpoint, on this node or another.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from ray import tune

log = logging.getLogger(__name__)

STATE_FILE = "sweeper.json"  # Tune's checkpoint: the trial's time spent so far, and ...
EPOCH_DIR = "epoch_dir"  # ... the epoch checkpoint in the trial's folder it stands for
STOP_REASON = "stop_reason"
OVER_TIME_BUDGET = "over_time_budget"  # the status of a trial stopped by its own time budget
SETUP_TIME = "time/setup_s"  # in a trial's first result: its start (worker, data, model)
FORCED_EXIT_S = 30.0  # a W&B run that cannot close on SIGTERM does not keep the worker alive

_ACTIVE: EpochTrainable | None = None  # the trial this worker process is running


def trial_dirname(trial_id: str) -> str:
    """A trial's folder name inside the study folder."""
    return f"trial_{trial_id}"


def _threads(cpus: float) -> None:
    import tensorflow as tf

    n = max(1, int(cpus))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # TF already initialised in this worker: keep its settings
        pass


def _leave(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _on_sigterm(signum, frame) -> None:
    """SIGTERM in a trial's worker. While a trial runs here, the node is going away (spot
    preemption, a node drained or shut down): close its W&B run as preempted and exit non-zero,
    so that Tune resumes the trial from its last checkpoint. With no trial running (the study
    is ending and Ray stops its idle workers), just leave: Ray's own handler would raise
    SystemExit wherever Python happens to be and print "Exception ignored" tracebacks."""
    trainable = _ACTIVE
    if trainable is None:
        _leave(0)
        return
    code = 128 + signum
    threading.Timer(FORCED_EXIT_S, _leave, (code,)).start()
    trainable.preempted()
    _leave(code)


class EpochTrainable(tune.Trainable):
    """One trial as a Tune class trainable: one `step` per epoch (then the evaluation)."""

    def setup(
        self,
        config: dict[str, Any],
        *,
        study: str,
        project: str,
        wandb_mode: str,
        wandb_root: str | None,
        cpus: float,
        entity: str | None = None,
        varied: tuple[str, ...] = (),
        best_metric: str = "val/clean_acc",
        best_goal: str | None = None,
        trial_budget_s: float | None = None,
        study_deadline: float | None = None,
    ) -> None:
        self.setup_started = time.monotonic()
        import ray

        signal.signal(signal.SIGTERM, _on_sigterm)
        _threads(cpus)
        self.study, self.project, self.wandb_mode = study, project, wandb_mode
        self.entity = entity  # the study's W&B entity (None: the account's default)
        self.varied = varied  # the study's varied parameters, named in W&B run names
        self.wandb_root = Path(wandb_root) if wandb_root else None
        self.best_metric = best_metric  # picks the trial's best checkpoint (the ASHA metric) ...
        self.best_goal = best_goal  # ... read the way ASHA reads it (None: its definition's)
        self.node_id = ray.get_runtime_context().get_node_id()
        self.budget_s = trial_budget_s
        self.deadline = study_deadline  # wall-clock end of the study's time budget, if any
        self._start(config)

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """Runs the next trial in this worker (Tune reuses actors: no new process and no
        TensorFlow import per trial). The previous trial's W&B run is closed (as stopped, if
        ASHA stopped it) and its graphs are freed."""
        import keras

        self.setup_started = time.monotonic()
        self._close("stopped")
        keras.backend.clear_session()
        self._start(new_config)
        return True

    def _start(self, config: dict[str, Any]) -> None:
        global _ACTIVE
        from sweeper.wandb_run import TrialRun, run_name
        from trial.config import TrialConfig, drop_inapplicable

        kept, dropped = drop_inapplicable(config["trial"])
        if dropped:
            log.info("model.kind=%s has no %s; dropped", kept.get("model.kind"), dropped)
        cfg = TrialConfig.from_dict(kept)
        # W&B files go straight into the trial's folder of a local or shared study folder; with
        # remote storage they go to the trial's working directory, which Tune uploads.
        root = self.wandb_root
        # The trial's folder: in a local or shared study folder, or (remote storage) the trial's
        # working directory, which Tune uploads. W&B files, checkpoints (the last two and the
        # best), overlays and plots live there, so they outlive the trial.
        self.folder = root / self.study / trial_dirname(self.trial_id) if root else Path.cwd()
        self.run = TrialRun(
            mode=self.wandb_mode,
            directory=self.folder,
            project=self.project,
            entity=self.entity,
            group=self.study,
            name=run_name(kept, self.varied),
            run_id=f"{self.study}-{self.trial_id}",
            config=cfg.to_dict(),
            tags=(f"study:{self.study}", f"family:{cfg.model.kind}"),
        )
        self.elapsed_s = 0.0  # this trial's time in steps, across restores
        self.latest: Path | None = None
        self.trial = None
        _ACTIVE = self
        try:
            self.trial = self._make_trial(cfg)
        except Exception:
            self._errored(traceback.format_exc())
            raise
        self.setup_s: float | None = time.monotonic() - self.setup_started

    def _make_trial(self, cfg):
        """The Trial this trainable advances, writing into the trial's folder; Tune also keeps
        the copies it is handed in `save_checkpoint` (restored on any node)."""
        from trial.run import Trial

        return Trial(
            cfg,
            checkpoint_dir=self.folder / "checkpoints",
            artifacts_dir=self.folder,
            best_metric=self.best_metric,
            best_goal=self.best_goal,
        )

    def step(self) -> dict[str, Any]:
        if self.trial.done:  # restored after its last step (the driver died before noting it)
            return {**self.trial.result.to_dict(), "node_id": self.node_id, "done": True}
        started = time.monotonic()
        try:
            metrics, self.latest = self.trial.step()
        except Exception:
            self._errored(traceback.format_exc())
            raise
        self.elapsed_s += time.monotonic() - started
        result = {**metrics, "node_id": self.node_id}
        if self.setup_s is not None:  # the first step after setup: how long the start took
            result[SETUP_TIME], self.setup_s = self.setup_s, None
        done = self.trial.done
        if not done and self.budget_s is not None and self.elapsed_s >= self.budget_s:
            result.update({"status": OVER_TIME_BUDGET, STOP_REASON: "trial_time_budget"})
            done = True
        self.run.log(result, step=int(metrics.get("epoch", 0)))
        if done:  # W&B is closed before Tune sees the last result
            self._close(self._outcome(result))
        return {**result, "done": done}

    @staticmethod
    def _outcome(result: dict[str, Any]) -> str:
        """The W&B outcome of a trial's last result (over its time budget: stopped)."""
        status = result.get("status")
        if status == OVER_TIME_BUDGET:
            return "stopped"
        return status if status in ("completed", "diverged", "stopped") else "completed"

    def _close(self, outcome: str) -> None:
        global _ACTIVE
        self.run.finish(outcome)
        if _ACTIVE is self:
            _ACTIVE = None

    def _errored(self, text: str) -> None:
        epoch = self.trial.state.get("epoch", 0) if self.trial is not None else 0
        self.run.log({"error": text}, step=int(epoch))
        self._close("errored")

    def preempted(self) -> None:
        """Closes the W&B run as preempted (resumable); checkpoints stay where Tune put them."""
        log.warning("trial %s: SIGTERM; W&B run closed as preempted", self.trial_id)
        self._close("preempted")

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        """Hands Tune the step's checkpoint. When the trial's folder lies in the study folder
        (local or shared storage, which every node reaches), its epoch checkpoints are already
        stored there, so Tune's checkpoint only names the epoch (one copy of the weights per
        kept checkpoint, however many evaluation steps follow); with remote storage the epoch
        travels inside Tune's checkpoint."""
        state: dict[str, Any] = {"elapsed_s": self.elapsed_s}
        if self.latest is not None:
            if self.wandb_root is not None:
                state[EPOCH_DIR] = self.latest.relative_to(self.folder).as_posix()
            else:
                shutil.copytree(self.latest, checkpoint_dir, dirs_exist_ok=True)
        (Path(checkpoint_dir) / STATE_FILE).write_text(json.dumps(state))

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        state_file = Path(checkpoint_dir) / STATE_FILE
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        self.elapsed_s = float(state.get("elapsed_s", 0.0))
        if state.get(EPOCH_DIR):  # the epoch is in the trial's folder, which this node reaches
            path = self.folder / state[EPOCH_DIR]
            if not (path / "state.json").exists():
                raise FileNotFoundError(
                    f"trial {self.trial_id}: Tune's checkpoint names {path}, which is gone from "
                    "the trial's folder (deleted by hand?); the trial cannot resume from it"
                )
            self.trial.restore(path)
            self.latest = path
        elif any(p.name != STATE_FILE for p in Path(checkpoint_dir).iterdir()):
            self.trial.restore(checkpoint_dir)  # (a diverged last step leaves no weights)

    def cleanup(self) -> None:  # also runs when ASHA, the study's budget or its end stops it
        if _ACTIVE is self and self.deadline is not None and time.time() >= self.deadline:
            epoch = self.trial.state.get("epoch", 0) if self.trial is not None else 0
            self.run.log({STOP_REASON: "study_time_budget"}, step=int(epoch))
        self._close("stopped")

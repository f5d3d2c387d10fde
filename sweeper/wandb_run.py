"""W&B runs written from the trial side: one run per trial, grouped by study, plus one study run.

The mode is decided once on the driver (`resolve_mode`): `online` needs an API key and fails
before anything starts without one; `auto` means online with a key and offline without. Inside a
trial, `TrialRun` wraps a W&B run so that W&B never ends the trial: a server that cannot be
reached makes the trial log offline instead, and any later W&B failure is logged and ignored.
Run files land in the trial's own folder (`<trial>/wandb/`), under the study folder.

A resumed trial continues its own run (id `<study>-<trial_id>`): online, W&B resumes it; offline,
each start writes a new file of the same run id (`wandb sync` uploads them in order), so steps an
earlier file already holds are not logged again with other values.
"""

from __future__ import annotations

import contextlib
import io
import logging
import netrc
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sweeper.wandb_files import last_logged_step

log = logging.getLogger(__name__)
MODES = ("auto", "online", "offline", "disabled")
OUTCOMES = {"completed": 0, "stopped": 0, "diverged": 1, "errored": 1, "preempted": 1}
INIT_TIMEOUT_S = 30.0  # how long a trial waits for an online W&B before logging offline

# Short, readable tokens for the family fields that tell attention models apart, in name order.
NAME_TOKENS: tuple[tuple[str, Any], ...] = (
    ("model.num_transformers", lambda v: f"k{v}"),
    ("model.shared", lambda v: "shared" if v else "unshared"),
    ("model.restricted_attention", lambda v: "restricted" if v else ""),
    ("model.gaze_l2", lambda v: f"l2={v:g}"),
    ("model.gaze_init", str),
    ("model.gaze_param", lambda v: "" if v == "tanh" else str(v)),
)
SHORT_KEYS = {"learning_rate": "lr", "weight_decay": "wd", "num_transformers": "k"}


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


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "x".join(map(_value, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def run_name(flat_config: dict[str, Any], varied: Collection[str] = ()) -> str:
    """A readable run name that says the configuration, e.g. `multi_gaze-k5-shared-l2=0.01-grid`:
    the family, its attention fields where the config sets them, then `key=value` for the other
    `varied` keys (the study's varied parameters), e.g. `resnet-lr=0.003-seed=1`."""
    tokens = [str(flat_config.get("model.kind", "resnet"))]
    for key, fmt in NAME_TOKENS:
        if key in flat_config and (token := fmt(flat_config[key])):
            tokens.append(token)
    named = {"model.kind", *(k for k, _ in NAME_TOKENS)}
    for key in sorted(set(varied) - named, key=lambda k: (k == "seed", k)):
        if key in flat_config:
            short = key.rsplit(".", 1)[-1]
            tokens.append(f"{SHORT_KEYS.get(short, short)}={_value(flat_config[key])}")
    return "-".join(tokens)


def _redact(text: str) -> str:
    key = os.environ.get("WANDB_API_KEY")
    return text.replace(key, "***") if key else text


def _is_image(value: Any) -> bool:
    return isinstance(value, str) and value.lower().endswith(".png")


class TrialRun:
    """A W&B run for one trial (or a study) that never raises into the trial."""

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
        tags: Sequence[str] = (),
        job_type: str = "trial",
        entity: str | None = None,
    ) -> None:
        self._run = None
        self._last_step = -1  # steps up to this one are already in W&B
        if mode == "disabled":
            return
        args = dict(
            dir=str(directory),
            project=project,
            entity=entity,  # None: the account's default entity
            group=group,
            name=name,
            id=run_id,
            config=config,
            tags=list(tags),
            job_type=job_type,
        )
        directory.mkdir(parents=True, exist_ok=True)
        self._run = self._start(mode, args)
        if self._run is None and mode == "online":
            log.warning(
                "W&B server unreachable; run %s logs offline in %s (upload it later with "
                "`wandb sync`)",
                run_id,
                directory / "wandb",
            )
            self._run = self._start("offline", args)
        if self._run is None:
            return
        try:
            if self._run.offline:
                self._last_step = last_logged_step(
                    directory, run_id, skip=Path(self._run.dir).parent
                )
            elif self._run.resumed:
                self._last_step = self._run.starting_step - 1
        except Exception as err:
            log.debug("could not tell which steps W&B already holds: %s", err)

    @staticmethod
    def _start(mode: str, args: dict[str, Any]):
        try:
            import wandb

            timeout = float(os.environ.get("WANDB_INIT_TIMEOUT", INIT_TIMEOUT_S))
            settings = wandb.Settings(
                console="off", silent=True, x_disable_stats=True, init_timeout=timeout
            )
            return wandb.init(mode=mode, resume="allow", settings=settings, **args)
        except Exception as err:  # W&B must never end a trial
            log.warning("W&B %s run could not start (%s)", mode, _redact(str(err)))
            with contextlib.suppress(Exception):  # a failed start holds the run id in W&B
                wandb.teardown()
            return None

    @property
    def active(self) -> bool:
        return self._run is not None

    def log(self, metrics: dict[str, Any], step: int) -> None:
        """Logs one result: numbers per step, `artifact/*` PNG paths as images, text and the
        final evaluation's figures (`phase: evaluation`) into the summary."""
        if self._run is None:
            return
        try:
            import wandb

            final = metrics.get("phase") == "evaluation"
            row: dict[str, Any] = {}
            summary: dict[str, Any] = {}
            for key, value in metrics.items():
                if key in ("phase", "done"):
                    continue
                if key.startswith("artifact/"):
                    if _is_image(value) and Path(value).is_file():
                        row[key] = wandb.Image(value)
                    elif value is not None:
                        log.debug("W&B: %s=%r is not a PNG file; not logged", key, value)
                elif isinstance(value, bool | int | float):
                    (summary if final else row)[key] = value
                elif isinstance(value, str):
                    summary[key] = value
            if row and step > self._last_step:
                self._run.log(row, step=step)
                self._last_step = step
            elif row and not final:
                log.info("W&B already holds step %d of this run; not logged again", step)
            if summary:
                self._run.summary.update(summary)
        except Exception as err:
            log.warning("W&B log failed (%s); continuing", _redact(str(err)))

    def log_report(self, report) -> None:
        """A study's leaderboard as a W&B Table and its report's plots as images."""
        if self._run is None:
            return
        try:
            import wandb
            from PIL import Image

            header, rows = report.board
            data: dict[str, Any] = {"leaderboard": wandb.Table(columns=header, data=rows)}
            for sec in report.sections:
                images = [
                    wandb.Image(Image.open(io.BytesIO(png)), caption=caption)
                    for caption, png in sec.images
                ]
                if images:
                    data[f"plots/{sec.name}"] = images[0] if len(images) == 1 else images
            self._run.log(data, step=self._last_step + 1)
            self._last_step += 1
            if report.best.trial is not None:
                self._run.summary["best_trial"] = report.best.trial.name
        except Exception as err:
            log.warning("W&B study report failed (%s); the report files hold it", _redact(str(err)))

    def finish(self, outcome: str = "completed") -> None:
        """Closes the run with its ending: `outcome` in the summary and as a tag, exit code 0
        for completed/stopped, 1 otherwise; `preempted` also marks the run preempting, so W&B
        keeps it resumable and the resumed trial continues it."""
        if self._run is None:
            return
        import wandb

        if outcome not in OUTCOMES:
            log.warning(
                "W&B outcome %r is not one of %s; recorded as errored", outcome, list(OUTCOMES)
            )
            outcome = "errored"
        run, self._run = self._run, None
        try:
            run.summary["outcome"] = outcome
            run.tags = (
                *(t for t in run.tags if not t.startswith("outcome:")),
                f"outcome:{outcome}",
            )
            if outcome == "preempted":
                run.mark_preempting()
            run.finish(exit_code=OUTCOMES[outcome])
        except Exception as err:
            log.warning(
                "W&B finish failed (%s); the run's file holds what was logged", _redact(str(err))
            )
        # Stop W&B's service process now (public API; it also drops W&B's atexit hook), so a
        # worker that Tune ends right after this has nothing of W&B left to race with.
        try:
            wandb.teardown(OUTCOMES[outcome])
        except Exception as err:
            log.debug("W&B teardown: %s", err)


def log_study(
    report, *, mode: str, directory: Path, project: str, entity: str | None = None
) -> None:
    """The study-level W&B run: the leaderboard as a Table and the report's plots."""
    run = TrialRun(
        mode=mode,
        directory=directory,
        project=project,
        entity=entity,
        group=report.study,
        name=f"{report.study}-report",
        run_id=f"{report.study}-report",
        config={"study": report.study, "trials": len(report.trials)},
        tags=(f"study:{report.study}", "report"),
        job_type="report",
    )
    run.log_report(report)
    run.finish("completed")

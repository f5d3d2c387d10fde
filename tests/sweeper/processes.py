"""Helpers for tests that start studies and Ray clusters as separate processes.

Every process a test starts gets its own session (process group) and a short private temp
folder, so the test can end exactly what it started (never `ray stop`, which would end every Ray
on a shared machine) and nothing of it outlives the test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
RUN = PROJECT / "sweeper" / "run.py"
VENV_BIN = Path(sys.executable).parent


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def short_tmp(prefix: str) -> Path:
    """A temp folder with a short path (Ray's unix sockets live under it: 107-byte limit)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without W&B or Ray settings of the machine, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RAY_", "TUNE_"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["WANDB_API_KEY"] = ""
    env["WANDB_SILENT"] = "true"
    env.update(extra)
    return env


def _ctrl_c_as_in_a_terminal() -> None:
    """A suite started in the background of a script (`make test &`, CI) ignores SIGINT, and
    its children would inherit that; a driver the user starts at a terminal does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cmd: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """Starts `cmd` in a session of its own, output to `log`, Ctrl-C as at a terminal."""
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_ctrl_c_as_in_a_terminal,
        )


def group_alive(pgid: int) -> list[int]:
    """Pids of live (non-zombie) processes in process group `pgid`."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return pids


def end_group(pgid: int, grace_s: float = 10.0) -> list[int]:
    """SIGTERM, then SIGKILL, to the process group the test started; returns the pids that
    needed SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_alive(pgid):
            return []
        stubborn = group_alive(pgid)
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return []
        deadline = time.monotonic() + grace_s
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
    return stubborn


def wait_for(what: str, check: Callable[[], Any], timeout: float, proc=None, log=None) -> Any:
    """Polls `check` until it returns something truthy; fails naming `what` (with the log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.3)
    tail = Path(log).read_text(errors="replace")[-4000:] if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def results(trial_dir: Path) -> list[dict[str, Any]]:
    path = trial_dir / "result.json"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def trial_dirs(run_dir: Path) -> dict[str, Path]:
    """Trial folders of a study folder keyed by their `seed` (or trial folder name)."""
    out = {}
    for params in sorted(run_dir.glob("trial_*/params.json")):
        trial = json.loads(params.read_text()).get("trial", {})
        out[str(trial.get("seed", params.parent.name))] = params.parent
    return out


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

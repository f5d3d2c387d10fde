"""One driver per study folder: a second driver is refused, naming the one that runs.

A driver that runs a study records itself in the study folder (`driver.json`: its PID, host,
start time and command line) before Ray sees the folder, and removes the record when it ends.
Another driver for the same folder reads the record first: a driver still running (same host and
PID, same process start time, not a zombie) or one on another host (which cannot be probed from
here) makes it refuse, with the running one's PID, host and command; a record whose driver is
gone (killed, or its machine rebooted) is stale, and the new driver says so and takes the
folder over. Contenders read and write the record under a short `filelock` guard, so two drivers
started at the same moment cannot both take the folder.

The record needs a path on this machine or a mount every node shares; a study stored at a URI
(`s3://...`) has no lock (one driver per such study is the user's to keep).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

RECORD = "driver.json"
GUARD = ".driver.lock"  # held only while a driver reads and writes RECORD
GUARD_TIMEOUT_S = 30.0


class FolderBusy(ValueError):
    """Another driver runs this study folder; the message names it and what to do."""


def _start_token(pid: int) -> tuple[int, str] | None:
    """(the process's start time in clock ticks since boot, its state letter), where /proc has
    them: the start time tells a recycled PID from the recorded process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = text.rpartition(")")[2].split()
    try:
        return int(fields[19]), fields[0]
    except (IndexError, ValueError):
        return None


@dataclasses.dataclass(frozen=True)
class Driver:
    """A study driver as its record names it."""

    pid: int
    host: str
    started: str  # UTC, ISO 8601
    command: str
    token: int | None = None  # process start time in clock ticks (Linux), to spot PID reuse

    @classmethod
    def this(cls) -> Driver:
        token = _start_token(os.getpid())
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            command=shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
            token=token[0] if token else None,
        )

    def alive(self) -> bool | None:
        """Whether the recorded driver still runs: None when it cannot be told from here (it
        ran on another host)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process with that PID exists
            pass
        now = _start_token(self.pid)
        if now is None:
            return True
        ticks, state = now
        if state in ("Z", "X"):  # killed, not yet reaped
            return False
        return self.token is None or ticks == self.token

    def is_me(self) -> bool:
        me = Driver.this()
        return (self.pid, self.host, self.token) == (me.pid, me.host, me.token)

    def describe(self) -> str:
        return f"PID {self.pid} on host {self.host}, started {self.started}: {self.command}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Driver | None:
        try:
            data: Any = json.loads(text)
            return cls(
                pid=int(data["pid"]),
                host=str(data["host"]),
                started=str(data.get("started", "?")),
                command=str(data.get("command", "?")),
                token=None if data.get("token") is None else int(data["token"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


class StudyLock:
    """The driver record of one study folder (a local or shared path)."""

    def __init__(self, folder: Path, shown: str | None = None) -> None:
        self.folder = Path(folder)
        self.shown = shown or str(folder)
        self.held = False
        self.took_over: Driver | None = None  # the stale driver this one replaced

    @property
    def record(self) -> Path:
        return self.folder / RECORD

    def holder(self) -> Driver | None:
        """The driver the folder's record names, if any (an unreadable record names none)."""
        try:
            text = self.record.read_text()
        except OSError:
            return None
        return Driver.from_json(text)

    def _busy(self, driver: Driver) -> FolderBusy:
        if driver.alive() is None:
            how = (
                f"it runs on another host, which cannot be checked from here; if that driver "
                f"is gone (its machine stopped), delete {self.record} and run again"
            )
        else:
            how = (
                f"wait for it to end, or stop it (Ctrl-C in its terminal, or kill -INT "
                f"{driver.pid}: what it finished is kept) and continue with --resume"
            )
        return FolderBusy(
            f"{self.shown} is in use by another driver ({driver.describe()}). One study folder "
            f"takes one driver at a time: {how}; or run this one elsewhere with --storage"
        )

    def check(self) -> None:
        """Raises FolderBusy when a running driver holds the folder (a stale record passes)."""
        driver = self.holder()
        if driver is not None and not driver.is_me() and driver.alive() is not False:
            raise self._busy(driver)

    def acquire(self) -> Driver | None:
        """Records this driver in the folder (creating it); returns the stale driver it took
        over, if any. Raises FolderBusy when a running driver holds the folder."""
        from filelock import FileLock

        self.folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.folder / GUARD), timeout=GUARD_TIMEOUT_S):
            driver = self.holder()
            if driver is not None and not driver.is_me():
                if driver.alive() is not False:
                    raise self._busy(driver)
                self.took_over = driver
            tmp = self.folder / f".{RECORD}.{os.getpid()}.tmp"
            tmp.write_text(Driver.this().to_json())
            os.replace(tmp, self.record)
        self.held = True
        return self.took_over

    def release(self) -> None:
        """Removes this driver's record (never another driver's)."""
        if not self.held:
            return
        self.held = False
        driver = self.holder()
        if driver is not None and driver.is_me():
            self.record.unlink(missing_ok=True)

"""One driver per study folder: a second one is refused naming the first (PID, host, command), a
record left by a driver that is gone is taken over, and two drivers started at once never both
take the folder."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import textwrap

import pytest

from sweeper import cli
from sweeper.lock import RECORD, Driver, FolderBusy, StudyLock, _start_token
from tests.sweeper.processes import PROJECT

TINY = "name: tiny\nmethod: grid\nparameters: {model.kind: {value: resnet}}\n"


@pytest.fixture
def sleeper():
    """A process that runs while the test does (stands for a running driver)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def _driver_of(pid: int, **changes) -> Driver:
    token = _start_token(pid)
    driver = Driver(
        pid=pid,
        host=socket.gethostname(),
        started="2026-01-01T00:00:00+00:00",
        command="run.py search_spaces/demo.yaml --resume",
        token=token[0] if token else None,
    )
    return dataclasses.replace(driver, **changes)


def _gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_driver_is_refused_before_ray_naming_the_running_one(
    tmp_path, sleeper, capsys, monkeypatch
):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    study = tmp_path / "tiny.yaml"
    study.write_text(TINY)
    folder = tmp_path / "runs" / "tiny"
    folder.mkdir(parents=True)
    (folder / RECORD).write_text(_driver_of(sleeper.pid).to_json())
    code = cli.main([str(study), "--storage", str(tmp_path / "runs"), "--wandb", "disabled"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"PID {sleeper.pid} on host {socket.gethostname()}" in err
    assert "run.py search_spaces/demo.yaml --resume" in err, "the running driver's command"
    assert f"kill -INT {sleeper.pid}" in err and "--storage" in err, "what to do instead"
    assert sorted(p.name for p in folder.iterdir()) == [RECORD], "nothing written beside it"
    import ray

    assert not ray.is_initialized(), "refused before Ray starts"


@pytest.mark.parametrize(
    "stale",
    [
        pytest.param(lambda p: _driver_of(_gone_pid()), id="its-process-ended"),
        pytest.param(
            lambda p: _driver_of(p, token=(_driver_of(p).token or 0) + 1), id="its-pid-reused"
        ),
    ],
)
def test_a_record_whose_driver_is_gone_is_taken_over(tmp_path, sleeper, stale):
    recorded = stale(sleeper.pid)
    (tmp_path / RECORD).write_text(recorded.to_json())
    lock = StudyLock(tmp_path)
    lock.check()  # a stale record does not refuse
    assert lock.acquire() == recorded, "the driver taken over is named (the CLI prints it)"
    assert lock.holder() == dataclasses.replace(Driver.this(), started=lock.holder().started)
    lock.release()
    assert not (tmp_path / RECORD).exists()


def test_a_driver_on_another_host_is_refused_with_how_to_clear_it(tmp_path):
    (tmp_path / RECORD).write_text(_driver_of(1, host="node-7").to_json())
    lock = StudyLock(tmp_path)
    with pytest.raises(FolderBusy, match=f"runs on another host.*delete {tmp_path / RECORD}"):
        lock.acquire()
    assert lock.holder().host == "node-7", "the other driver's record is kept"
    lock.release()  # never removes a record it does not hold
    assert (tmp_path / RECORD).exists()


def test_two_drivers_started_at_once_never_both_take_the_folder(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(PROJECT)!r})
        from sweeper.lock import FolderBusy, StudyLock
        lock = StudyLock({str(tmp_path)!r})
        while time.time() < float(sys.argv[1]):  # both start acquiring at the same moment
            pass
        try:
            lock.acquire()
        except FolderBusy:
            print("refused")
        else:
            print("took")
            time.sleep(2)
            lock.release()
        """
    )
    import time

    start = str(time.time() + 1.5)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, start], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outcomes == ["refused", "took"]
    assert not (tmp_path / RECORD).exists(), "the winner removed its record"

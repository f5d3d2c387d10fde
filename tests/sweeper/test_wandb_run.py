"""W&B mode resolution: online needs a key, auto falls back to offline, nothing crashes."""

from __future__ import annotations

import pytest

from sweeper import wandb_run
from sweeper.wandb_run import TrialRun, resolve_mode


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))


def test_auto_is_offline_without_a_key(no_key):
    assert resolve_mode("auto") == "offline"


def test_online_without_a_key_is_an_error_that_says_how_to_fix(no_key):
    with pytest.raises(ValueError, match="wandb login"):
        resolve_mode("online")


def test_a_netrc_entry_counts_as_a_key(no_key, tmp_path):
    (tmp_path / "netrc").write_text("machine api.wandb.ai login user password abc\n")
    assert wandb_run.has_api_key() and resolve_mode("auto") == "online"


def test_unknown_mode_is_named(no_key):
    with pytest.raises(ValueError, match="--wandb='cloud'"):
        resolve_mode("cloud")


def test_a_failing_wandb_never_raises(monkeypatch, tmp_path):
    import wandb

    def broken(**kwargs):
        raise RuntimeError("no service")

    monkeypatch.setattr(wandb, "init", broken)
    run = TrialRun(
        mode="offline", directory=tmp_path, project="p", group="g", name="n", run_id="r", config={}
    )
    run.log({"val/clean_acc": 0.5}, step=1)
    run.finish()

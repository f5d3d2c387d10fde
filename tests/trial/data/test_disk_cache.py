"""The disk cache: two processes starting together write it once and read the same batches;
an interrupted write leaves nothing a later trial would trust."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from trial.config import TrialConfig
from trial.data import load, stores

CHILD = textwrap.dedent(
    """
    import hashlib, json, os, pathlib, sys, time
    from trial.data import get, load, stores  # not trial.config: no Keras import needed

    wrote = []
    original = stores._write

    def slow_write(tmp, chunks, skipped):  # hold the lock long enough for the other to wait
        wrote.append(True)
        time.sleep(1.0)
        original(tmp, chunks, skipped)

    stores._write = slow_write
    fields = json.loads(sys.argv[1])
    cls = get("imagenet10").config_cls
    imagenet = cls().imagenet.__class__(**fields.pop("imagenet"))
    cfg = cls(**fields, imagenet=imagenet)
    barrier = pathlib.Path(sys.argv[2])
    (barrier / f"ready-{os.getpid()}").touch()  # imports done
    while not (barrier / "go").exists():
        time.sleep(0.005)
    data = load(cfg)
    digest = hashlib.sha1()
    for x, y in data.train_batches(8, seed=3, augment=True):
        digest.update(x.numpy().tobytes())
        digest.update(y.numpy().tobytes())
    for batch in data.val.batches(8):
        digest.update(batch.images.tobytes())
    print(json.dumps({"wrote": bool(wrote), "digest": digest.hexdigest()}))
    """
)


def _flat(tree, cache_dir):
    return {
        "data.name": "imagenet10",
        "data.imagenet.root": str(tree),
        "data.imagenet.train_images": "all",
        "data.image_size": 24,
        "data.val_size": 5,
        "data.cache": "disk",
        "data.cache_dir": str(cache_dir),
    }


def _digest(data) -> str:
    digest = hashlib.sha1()
    for x, y in data.train_batches(8, seed=3, augment=True):
        digest.update(x.numpy().tobytes())
        digest.update(y.numpy().tobytes())
    for batch in data.val.batches(8):
        digest.update(batch.images.tobytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_two_processes_share_one_cache_and_the_same_batches(tree, tmp_path):
    cache = tmp_path / "cache"
    fields = {k.removeprefix("data."): v for k, v in _flat(tree, cache).items() if k != "data.name"}
    imagenet = {k.removeprefix("imagenet."): fields.pop(k) for k in list(fields) if "." in k}
    flat = json.dumps({**fields, "imagenet": imagenet})
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, flat, str(barrier)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    deadline = time.time() + 120
    while len(list(barrier.glob("ready-*"))) < 2 and time.time() < deadline:
        time.sleep(0.01)
    (barrier / "go").touch()  # both past their imports: now they race for the cache
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["wrote"] for r in results) == [False, True]  # one wrote, the other waited
    folders = sorted(p.name for p in cache.iterdir() if p.is_dir())
    assert len(folders) == 2 and not [f for f in folders if ".tmp-" in f]  # train + test
    # the same call gives the same batches in any process (exact resume relies on it)
    here = _digest(load(TrialConfig.from_dict(_flat(tree, cache)).data))
    assert results[0]["digest"] == results[1]["digest"] == here


def test_an_interrupted_write_leaves_no_cache(tree, tmp_path, monkeypatch):
    cfg = TrialConfig.from_dict(_flat(tree, tmp_path / "cache")).data

    def interrupted(chunks):
        yield next(iter(chunks))
        raise KeyboardInterrupt  # Ctrl-C halfway through writing

    real_progress = stores.Progress

    class Interrupting(real_progress):
        def __call__(self, chunks):
            return interrupted(chunks)

    monkeypatch.setattr("trial.data.sources.Progress", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        load(cfg)
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    monkeypatch.setattr("trial.data.sources.Progress", real_progress)
    data = load(cfg)  # a rerun writes the whole cache
    assert data.train_size == len(data.train.store) - 5
    store = data.train.store
    assert isinstance(store, stores.FileStore)
    assert store.path.stat().st_size == len(store) * 24 * 24 * 3
    np.testing.assert_array_equal(store.index, np.sort(store.index))


def test_a_damaged_cache_is_refused_with_a_fix(tree, tmp_path):
    cfg = TrialConfig.from_dict(_flat(tree, tmp_path / "cache")).data
    load(cfg)
    images = next((tmp_path / "cache").glob("imagenet10-train-*/images.u8"))
    with open(images, "r+b") as f:
        f.truncate(100)
    with pytest.raises(ValueError, match="is damaged .*delete that folder and rerun"):
        load(cfg)


def test_an_unwritable_cache_folder_is_named(tree, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cfg = TrialConfig.from_dict(_flat(tree, blocker / "cache")).data
    with pytest.raises(ValueError, match="cannot write the data cache .*data.cache_dir"):
        load(cfg)

"""Epoch checkpoints that resume a trial exactly.

A checkpoint is a folder `epoch_XXXX/` holding `arrays.npz` (every variable that shapes what
follows, stored under a stable name) and `state.json` (the trial's epoch, history, best epoch and
config). Names, not positions, tie saved values to variables, so a checkpoint of another model
or optimiser fails with the names that differ instead of loading silently into the wrong slots:

- `model/<variable path>`: weights and BatchNorm statistics (paths are the layer names that the
  builders set, the same in every process);
- `optimizer/<variable path>`: the optimiser's slots and its iteration count (the schedule's step);
- `rng/<owner>/<attribute>`: random-generator states: Keras `SeedGenerator`s (a fixation model's
  random training gazes; named by their layer, because Keras numbers their variables per process)
  and `tf.random.Generator`s (e.g. the adversarial-training attack's random starts).

Data order and augmentation need no state: the data of epoch e is a pure function of
`cfg.seed + e`. A folder appears complete or not at all (written beside, then renamed), and a
directory keeps the last KEEP_LAST epochs plus the best one.
"""

from __future__ import annotations

import json
import os
import shutil
import types
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

KEEP_LAST = 2
ARRAYS = "arrays.npz"
STATE = "state.json"
_SHOWN = 6  # names listed per kind of mismatch in an error message
_OPAQUE = {"builtins", "keras", "tensorflow", "numpy", "functools"}  # not searched for generators


def _layers(layer) -> list:
    """Every layer nested in `layer` (depth first), through sub-models' `.layers`."""
    out = []
    for sub in getattr(layer, "layers", None) or []:
        out.append(sub)
        out.extend(_layers(sub))
    return out


def _generators(obj: Any, prefix: str, depth: int = 4) -> dict[str, tf.Variable]:
    """The random-generator states reachable from `obj` through its attributes."""
    if isinstance(obj, tf.random.Generator | keras.random.SeedGenerator):
        return {prefix: obj.state}
    if isinstance(obj, list | tuple | dict) and depth > 0:
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        found: dict[str, tf.Variable] = {}
        for key, value in items:
            found.update(_generators(value, f"{prefix}/{key}", depth - 1))
        return found
    module = type(obj).__module__.split(".")[0]
    if (
        depth == 0
        or module in _OPAQUE
        or isinstance(obj, types.FunctionType | types.MethodType)
        or not hasattr(obj, "__dict__")
    ):
        return {}  # models, tf.functions, closures: a model's are named through its layers
    found = {}
    for attr, value in sorted(vars(obj).items()):
        found.update(_generators(value, f"{prefix}/{attr}", depth - 1))
    return found


def named_variables(model, optimizer=None, **rng_owners: Any) -> dict[str, Any]:
    """Every variable a checkpoint holds, under its stable name.

    Args:
        model: the Keras model (weights, statistics and its layers' SeedGenerators).
        optimizer: the optimiser, built; None to leave it out (evaluation only needs weights).
        **rng_owners: objects whose tf.random.Generator / SeedGenerator attributes shape
            training, e.g. `train_adversary=trainer.adversary`; None values are skipped.
    """
    named: dict[str, Any] = {}
    seed_states: set[int] = set()
    for layer in _layers(model):
        for attr, value in sorted(vars(layer).items()):
            if isinstance(value, keras.random.SeedGenerator):
                named[f"rng/model/{layer.name}/{attr}"] = value.state
                seed_states.add(id(value.state))
    for var in model.variables:
        if id(var) not in seed_states:
            _add(named, f"model/{var.path}", var)
    if optimizer is not None:
        for var in optimizer.variables:
            _add(named, f"optimizer/{var.path}", var)
    for owner, obj in rng_owners.items():
        if obj is not None:
            for name, var in _generators(obj, f"rng/{owner}").items():
                _add(named, name, var)
    return named


def _add(named: dict[str, Any], name: str, var: Any) -> None:
    if name in named:
        raise RuntimeError(
            f"two variables share the checkpoint name {name!r}: give the layers distinct names "
            "(a model builder bug, not a user error)"
        )
    named[name] = var


def save(root: Path, epoch: int, variables: dict[str, Any], state: dict[str, Any]) -> Path:
    """Writes `root/epoch_XXXX/` atomically and prunes to the last KEEP_LAST plus the best."""
    path = root / f"epoch_{epoch:04d}"
    tmp = root / f".tmp_epoch_{epoch:04d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.savez(tmp / ARRAYS, **{name: np.asarray(var.numpy()) for name, var in variables.items()})
    (tmp / STATE).write_text(json.dumps(state, indent=1))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)  # a crash never leaves a half-written epoch folder
    prune(root, state.get("best_epoch"))
    return path


def restore(path: Path, variables: dict[str, Any], prefixes: tuple[str, ...] = ()) -> None:
    """Assigns the saved values to `variables` by name.

    Args:
        path: an epoch folder.
        variables: name -> variable, as `named_variables` gives.
        prefixes: restore only saved names with one of these prefixes (e.g. ("model/",)).

    Raises:
        ValueError: naming what is missing, unexpected or of another shape: the checkpoint
            belongs to another model or optimiser.
    """
    with np.load(path / ARRAYS) as saved:
        names = [n for n in saved.files if not prefixes or n.startswith(prefixes)]
        wanted = [n for n in variables if not prefixes or n.startswith(prefixes)]
        missing = sorted(set(wanted) - set(names))
        extra = sorted(set(names) - set(wanted))
        shapes = sorted(
            f"{n} (saved {saved[n].shape}, here {tuple(variables[n].shape)})"
            for n in set(names) & set(wanted)
            if saved[n].shape != tuple(variables[n].shape)
        )
        if missing or extra or shapes:
            parts = [
                f"{label}: {', '.join(items[:_SHOWN])}"
                + (f" (+{len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")
                for label, items in (
                    ("not in the checkpoint", missing),
                    ("not in this trial", extra),
                    ("other shapes", shapes),
                )
                if items
            ]
            raise ValueError(
                f"checkpoint {path} does not fit this trial ({'; '.join(parts)}): it was "
                "written for another model or optimiser; start in a fresh directory "
                "(python -m trial: --fresh or another --workdir)"
            )
        for name in wanted:
            variables[name].assign(saved[name])


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replaces the state of an existing checkpoint atomically (the evaluation's final step
    records its result in the last epoch's checkpoint)."""
    tmp = path / f".{STATE}.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, path / STATE)


def read_state(path: Path) -> dict[str, Any]:
    """The trial state saved with a checkpoint (epoch, history, best epoch, config)."""
    return json.loads((path / STATE).read_text())


def complete(root: Path) -> list[Path]:
    """The complete epoch folders under `root`, oldest first."""
    return [p for p in sorted(root.glob("epoch_*")) if _holds_checkpoint(p)]


def _holds_checkpoint(path: Path) -> bool:
    return (path / STATE).exists() and (path / ARRAYS).exists()


def latest(root: Path) -> Path | None:
    """The newest complete epoch folder under `root`, if any."""
    done = complete(root)
    return done[-1] if done else None


def prune(root: Path, best_epoch: int | None) -> None:
    epochs = sorted(root.glob("epoch_*"))
    keep = set(epochs[-KEEP_LAST:])
    if best_epoch is not None:
        keep.add(root / f"epoch_{best_epoch:04d}")
    for path in epochs:
        if path not in keep:
            shutil.rmtree(path, ignore_errors=True)


def find(run_dir: Path, which: str = "last") -> Path:
    """The `last` (the model a trial's reported figures come from) or `best` checkpoint of a
    stored trial.

    `run_dir` may be a `python -m trial` workdir or a study's trial folder (both hold
    `checkpoints/epoch_XXXX/`), a checkpoints folder, one epoch folder, or a trial folder that
    only holds Tune's `checkpoint_XXXXXX/` copies.
    """
    if which not in ("best", "last"):
        raise ValueError(f"--checkpoint {which!r} is not one of best, last")
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} is not a directory; pass a trial's folder (its --workdir)")
    if _holds_checkpoint(run_dir):
        return run_dir
    for folder in (run_dir / "checkpoints", run_dir):
        done = complete(folder)
        if done:
            break
    else:
        done = [p for p in sorted(run_dir.glob("checkpoint_*")) if _holds_checkpoint(p)]
    if not done:
        raise ValueError(
            f"{run_dir} holds no checkpoint: expected {run_dir}/checkpoints/epoch_XXXX/ with "
            f"{ARRAYS} and {STATE} (a python -m trial --workdir or a study's trial folder)"
        )
    last = done[-1]
    if which == "last":
        return last
    best_epoch = read_state(last).get("best_epoch")
    for path in done:
        if best_epoch is not None and read_state(path).get("epoch") == best_epoch:
            return path
    raise ValueError(
        f"the best checkpoint (epoch {best_epoch}) of {run_dir} is not stored (kept: "
        f"{', '.join(p.name for p in done)}); use --checkpoint last"
    )

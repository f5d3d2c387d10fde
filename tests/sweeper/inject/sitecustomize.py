"""Test-only fault injection for processes started with this folder on PYTHONPATH.

With `SWEEPER_TEST_FAIL_SEED=N` set, `trial.run.Trial.step` raises in every trial whose config
has `seed: N`, in whichever Ray worker runs it: a trial that errors in its first epoch, without a
test hook in the product code. Python imports `sitecustomize` at start-up; this one only adds an
import hook that patches `trial.run` once something imports it.
"""

import importlib.abc
import importlib.util
import os
import sys

SEED = os.environ.get("SWEEPER_TEST_FAIL_SEED")
MESSAGE = "injected failure for the test"


def _patch(module) -> None:
    original = module.Trial.step

    def step(self):
        if str(self.cfg.seed) == SEED:
            raise RuntimeError(f"{MESSAGE} (seed {SEED})")
        return original(self)

    module.Trial.step = step


class _PatchTrialRun(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "trial.run":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


if SEED is not None:
    sys.meta_path.insert(0, _PatchTrialRun())

"""Run a study with Ray Tune: `python sweeper/run.py search_spaces/demo.yaml [flags]`.

This script imports only the installed `sweeper` package, because `ray submit cluster/gpu.yaml
sweeper/run.py ...` copies it alone to the cluster head. See `--help` for the flags.
"""

import sys
from pathlib import Path

# Python puts this script's folder first on sys.path; drop it so that `sweeper`'s own modules
# can never shadow top-level packages (the installed `sweeper` package is what runs).
_here = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]

try:
    from sweeper.cli import main
except ModuleNotFoundError as err:  # e.g. a Ray job whose `python` is not the project's
    sys.exit(
        f"error: {sys.executable} cannot import {err.name!r}: this Python does not have the "
        "project installed. Run the study with the interpreter of the project's environment "
        "(e.g. .venv/bin/python sweeper/run.py ...); in `ray job submit`, name it in the "
        "entrypoint (`-- /path/to/.venv/bin/python sweeper/run.py ...`) or start Ray from that "
        "environment (its `python` is then first on the job's PATH)"
    )

if __name__ == "__main__":
    sys.exit(main())

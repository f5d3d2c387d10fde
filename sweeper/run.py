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

from sweeper.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

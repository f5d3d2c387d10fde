"""`python -m sweeper STUDY.yaml [flags]`: the same as sweeper/run.py."""

import sys

from sweeper.cli import main

sys.exit(main())

"""Defaults shared by the command line and the Tune runner (importing neither Ray nor TF)."""

DEFAULT_MAX_FAILURES = 3  # workers are spot instances: a trial may lose its node a few times

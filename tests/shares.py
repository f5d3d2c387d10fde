"""A property of every accuracy and share a trial reports: it is k/n for the n things counted.

`0 <= x <= 1` holds for almost any bug (an accuracy averaged over probabilities, a wrong
denominator, a mean over padded batches); being a whole number of n-ths does not.
"""

from __future__ import annotations

import math


def assert_share(value: float, n: int, what: str = "share") -> int:
    """Asserts that `value` is k/n for a whole k in [0, n]; returns k."""
    assert isinstance(value, int | float) and math.isfinite(value), f"{what}={value!r}"
    k = round(value * n)
    assert 0 <= k <= n and abs(value * n - k) < 1e-6 * max(n, 1), (
        f"{what}={value!r} is no whole number of 1/{n}ths: not a share of {n} things"
    )
    return k

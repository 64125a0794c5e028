"""Interval estimates the metric checks judge by: one home for each formula.

A check compares the *lower* end of a 95 % interval with a threshold, so seed
noise does not flip a grade (grader/checks/_thresholds.py).
"""

from __future__ import annotations

import math

Z95 = 1.959964
"""The standard normal's 97.5th percentile: a two-sided 95 % interval."""


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927; Brown, Cai & DasGupta 2001 §4.1).

    Unlike the normal approximation it stays inside [0, 1] and keeps close to
    its nominal coverage for small ``n``, which matters for the smoke profile's
    48 evaluation pairs and 12 test frauds. ``n = 0`` raises: no trials is no
    evidence, and a check must fail (or report the grader's error) on it, not
    read an interval of [0, 1] or a lower bound of 0 that a threshold of 0 passes.
    """
    if n <= 0:
        raise ValueError(f"wilson_interval needs n > 0 trials, got {n}: no trials is no evidence")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)

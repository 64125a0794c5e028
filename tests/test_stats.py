"""The interval formulas of grader/oracles/stats.py, on values small enough to check by hand."""

import pytest

from grader.oracles.stats import wilson_interval


def test_wilson_interval_known_values():
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    low, high = wilson_interval(16, 48)
    assert (round(low, 4), round(high, 4)) == (0.2168, 0.4746)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    low, high = wilson_interval(450, 600)
    assert low < 0.75 < high and high - low < 0.07
    # the recall bounds the fraud thresholds were measured with (grader/checks/_thresholds.py)
    assert wilson_interval(0, 12)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson_interval(7, 12)[0] == pytest.approx(0.3195, abs=1e-4)
    assert wilson_interval(12, 12)[0] == pytest.approx(0.7575, abs=1e-4)


def test_wilson_interval_refuses_no_trials_and_impossible_counts():
    """n = 0 is no evidence: an error, never [0, 1] or a lower bound of 0 that a 0.0 threshold would pass."""
    with pytest.raises(ValueError, match=r"^wilson_interval needs n > 0 trials, got 0: no trials is no evidence$"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match=r"successes must be in \[0, 2\], got 3"):
        wilson_interval(3, 2)

"""grader.oracles.adasyn: the arithmetic the checks hold a submission to."""

import numpy as np
import pytest

from grader.checks.adasyn_math import rounding_variant
from grader.oracles.adasyn import (
    ROUNDINGS,
    adasyn_amount,
    adasyn_weights,
    case_expectations,
    majority_ratios,
    minority_neighbours,
    minority_neighbours_in_x,
    round_counts,
    segment_parents,
)

# The 14-point example of tests/test_adasyn.py, worked on paper there:
# r = (1, 1, 0.5, 1), r̂ = (2/7, 2/7, 1/7, 2/7), G = 6, r̂·G = (1.714, 1.714, 0.857, 1.714).
HAND_X = np.array([0, 3.0, 1.1, 2.3, 13.4, 3.6, 10, 5.0, 11.2, 12.5, 20, 22.1, 21.5, 23]).reshape(-1, 1)
HAND_Y = np.array([0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0])
HAND_R_HAT = np.array([2, 2, 1, 2]) / 7


def test_amount_on_the_hand_example():
    assert adasyn_amount(HAND_Y) == (0.4, 6, 1)
    assert adasyn_amount(HAND_Y, beta=0.5) == (0.4, 3, 1)
    assert adasyn_amount(1 - HAND_Y)[2] == 0  # minority is the rarer class, whatever its label


def test_amount_truncates_like_int_and_breaks_count_ties_by_label():
    y = np.array([0] * 129 + [1] * 29)
    assert adasyn_amount(y, beta=0.29)[1] == 28  # (129 - 29) * 0.29 = 28.999999999999996 -> 28
    assert adasyn_amount(np.array(["b", "a", "b", "a"]))[2] == "a"  # equal counts: the smaller label


@pytest.mark.parametrize("y, beta, match", [
    (np.array([0, 1, 2]), 1.0, "exactly two classes"),
    (np.array([1, 1]), 1.0, "exactly two classes"),
    (np.array([0, 1]), 1.1, r"beta must be in \[0, 1\]"),
])
def test_amount_rejects(y, beta, match):
    with pytest.raises(ValueError, match=match):
        adasyn_amount(y, beta)


def test_weights_on_the_hand_example():
    r, r_hat, g = adasyn_weights(HAND_X, HAND_Y, k=2)
    assert r.tolist() == [1.0, 1.0, 0.5, 1.0]
    np.testing.assert_allclose(r_hat, HAND_R_HAT, rtol=1e-15)
    assert g.tolist() == [2, 2, 1, 2]
    assert adasyn_weights(HAND_X, HAND_Y, k=2, rounding="floor")[2].tolist() == [1, 1, 0, 1]
    assert adasyn_weights(HAND_X, HAND_Y, k=2, rounding="largest_remainder")[2].tolist() == [2, 2, 1, 1]


def test_self_is_excluded_even_with_duplicates():
    # k = 1: each 5.0 copy's neighbour is the other copy (minority): r = 0; 8.0's is majority: r = 1.
    X = np.array([0.0, 1.0, 2.0, 3.0, 4.1, 5.0, 5.0, 6.2, 7.0, 8.0, 9.0, 10.0]).reshape(-1, 1)
    y = np.array([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0])
    assert majority_ratios(X, y, k=1).tolist() == [0.0, 0.0, 1.0]
    # Three copies of one minority point and k = 1: still the other copies, never itself.
    X3 = np.array([[0.0], [0.0], [0.0], [0.1], [0.2], [5.0], [6.0]])
    y3 = np.array([1, 1, 1, 0, 0, 0, 0])
    assert majority_ratios(X3, y3, k=1).tolist() == [0.0, 0.0, 0.0]
    assert majority_ratios(X3, y3, k=2).tolist() == [0.0, 0.0, 0.0]


def test_k_must_leave_a_neighbour():
    with pytest.raises(ValueError, match=r"k=14 must be in \[1, n_samples - 1\] = \[1, 13\]"):
        majority_ratios(HAND_X, HAND_Y, k=14)


def test_case_expectations_on_the_hand_example():
    """The values the checks read (grader.tasks.fraud writes them), worked out by hand."""
    e = case_expectations(HAND_X, HAND_Y, k=2, beta=1.0)
    assert (e["d"], e["G"], e["minority"], e["m_s"]) == (0.4, 6, 1, 4)
    assert e["r"] == [1.0, 1.0, 0.5, 1.0]
    np.testing.assert_allclose(e["r_hat"], HAND_R_HAT, rtol=1e-15)
    assert e["g"] == {"rint": [2, 2, 1, 2], "floor": [1, 1, 0, 1], "largest_remainder": [2, 2, 1, 1]}
    # minority rows 3.0, 13.4, 5.0, 22.1: neighbours among them, then in the whole X (indices into X)
    assert e["minority_neighbours"] == [[2, 1], [2, 3], [0, 1], [1, 2]]
    assert e["neighbours"] == [[5, 3], [9, 8], [5, 1], [12, 13]]
    assert minority_neighbours_in_x(HAND_X, HAND_Y, 2).tolist() == e["neighbours"]


def test_case_expectations_leave_r_hat_and_g_out_when_sum_r_is_zero():
    X = np.array([0.0, 0.1, 0.2, 10.0, 10.1, 10.2, 10.3, 10.4]).reshape(-1, 1)
    e = case_expectations(X, np.array([1, 1, 1, 0, 0, 0, 0, 0]), k=2, beta=0.5)
    assert (e["G"], e["r"], e["r_hat"], e["g"]) == (1, [0.0, 0.0, 0.0], None, None)


def test_sum_r_zero_is_an_error():
    X = np.array([0.0, 0.1, 0.2, 10.0, 10.1, 10.2, 10.3, 10.4]).reshape(-1, 1)
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="sum of r is 0"):
        adasyn_weights(X, y, k=2)


def test_round_counts_variants():
    assert round_counts(HAND_R_HAT, 6, "rint").tolist() == [2, 2, 1, 2]
    assert round_counts(HAND_R_HAT, 6, "floor").tolist() == [1, 1, 0, 1]
    # floor sums to 3; the 3 missing go to the largest remainders .857 (index 2), then .714 by order.
    assert round_counts(HAND_R_HAT, 6, "largest_remainder").tolist() == [2, 2, 1, 1]
    assert round_counts(HAND_R_HAT, 6, "largest_remainder").sum() == 6
    assert round_counts([0.5, 0.25, 0.25], 2, "rint").tolist() == [1, 0, 0]  # rint: .5 -> 0 (even)
    with pytest.raises(ValueError, match="unknown rounding 'ceil'"):
        round_counts(HAND_R_HAT, 6, "ceil")


@pytest.mark.parametrize("g, expected", [
    ([2, 2, 1, 2], "rint"),
    ([1, 1, 0, 1], "floor"),
    ([2, 2, 1, 1], "largest_remainder"),
    ([1, 2, 1, 2], "largest_remainder"),  # equal remainders .714: any two of them may go up
    ([2, 2, 0, 2], None),  # index 2 (.857) left at floor while .714s went up
    ([2, 2, 2, 2], None),  # 0.857 -> 2
    ([3, 2, 1, 2], None),
    ([2, 2, 1], None),  # wrong length
    ([2.0, 2.0, 1.0, 2.0], "rint"),  # integral floats are fine
    ([2.5, 2.0, 1.0, 2.0], None),
])
def test_rounding_variant_on_the_hand_example(g, expected):
    assert rounding_variant(np.array(g), HAND_R_HAT, 6) == expected


def test_rounding_variant_tolerates_last_bits_and_half_ties():
    # r̂·G = (0.5, 1.5, 1.0): rint gives (0, 2, 1), round-half-up (1, 2, 1): both nearest integers.
    r_hat = np.array([0.5, 1.5, 1.0]) / 3
    assert rounding_variant([0, 2, 1], r_hat, 3) == "rint"
    assert rounding_variant([1, 2, 1], r_hat, 3) == "rint"
    # A sum of r in another order can move r̂·G by an ulp across an integer: floor stays accepted.
    v = np.array([3.0 - 1e-13, 2.0 + 1e-13]) / 5
    assert rounding_variant([3, 2], v, 5) == "rint"
    assert rounding_variant([2, 2], v, 5) == "floor"
    assert set(ROUNDINGS) == {"rint", "floor", "largest_remainder"}


@pytest.mark.parametrize("seed", [0, 1])
def test_each_variant_is_recognised(seed):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 6, size=40) / 5
    r_hat = r / r.sum()
    for G in (37, 250, 1001):
        for method in ROUNDINGS:
            g = round_counts(r_hat, G, method)
            found = rounding_variant(g, r_hat, G)
            assert found is not None
            assert np.array_equal(round_counts(r_hat, G, found), g) or found == "rint"
        bumped = round_counts(r_hat, G, "rint")
        bumped[np.argmax(bumped)] += 1
        assert rounding_variant(bumped, r_hat, G) is None


# --- segments -------------------------------------------------------------------

def _minority(seed=0, m=30, dim=4):
    return np.random.default_rng(seed).normal(0, 3, (m, dim))


def test_minority_neighbours_exclude_self():
    X_min = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert minority_neighbours(X_min, 2).tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]


def test_rows_on_allowed_segments_are_found():
    X_min = _minority()
    nn = minority_neighbours(X_min, 3)
    rng = np.random.default_rng(1)
    parent = rng.integers(0, 30, 500)
    partner = nn[parent, rng.integers(0, 3, 500)]
    lam = rng.random(500)
    lam[:3] = [0.0, 1.0, 1 - 1e-12]  # the ends count
    rows = X_min[parent] + lam[:, None] * (X_min[partner] - X_min[parent])
    match = segment_parents(X_min, rows, k=3)
    assert match.on_segment.all()
    assert (match.residual < 1e-9).all()
    # The parent/partner found spans the same segment (for mutual neighbours it may be reversed).
    same = (match.parent == parent) & (match.neighbour == partner)
    swapped = (match.parent == partner) & (match.neighbour == parent)
    assert (same | swapped | (lam == 0) | (lam == 1)).all()
    np.testing.assert_allclose(match.lam[same], lam[same], atol=1e-9)


def test_rows_off_the_allowed_segments_are_rejected():
    X_min = _minority(2)
    nn = minority_neighbours(X_min, 3)
    far = minority_neighbours(X_min, 10)[:, -1]  # the 10th neighbour: not among the 3 allowed
    a, b = X_min[0], X_min[nn[0, 0]]
    d = b - a
    perp = np.linalg.svd(d[None, :])[2][1]  # a unit vector orthogonal to the segment
    cases = np.array([
        a + 0.5 * d + 1e-3 * np.linalg.norm(d) * perp,  # slightly off the line
        a + 1.2 * d,  # beyond the neighbour (λ = 1.2), on no other segment
        a - 0.1 * d,  # before the parent (λ < 0)
        a + 0.5 * (X_min[far[0]] - a),  # toward a minority point that is not a k-neighbour
        a + 0.5 * rng_normal(4),  # toward a random (majority-like) point
    ])
    match = segment_parents(X_min, cases, neighbours=nn)
    ok = match.on_segment
    # each case is off every allowed segment unless by accident it lies on another one
    for i, row in enumerate(cases):
        assert not ok[i] or _on_any(row, X_min, nn), i
    assert not ok[0] and not ok[2] and not ok[4]
    assert (np.isnan(match.lam[~ok])).all() and (match.parent[~ok] == -1).all()


def rng_normal(dim):
    return np.random.default_rng(99).normal(0, 10, dim)


def _on_any(row, X_min, nn):
    """Brute force: is ``row`` on any allowed segment?"""
    a = np.repeat(X_min, nn.shape[1], axis=0)
    d = X_min[nn.ravel()] - a
    lam = ((row - a) * d).sum(1) / (d * d).sum(1)
    resid = np.linalg.norm(row - a - lam[:, None] * d, axis=1)
    return bool(((resid < 1e-9) & (lam >= 0) & (lam <= 1)).any())


def test_segment_search_agrees_with_brute_force_on_mixed_rows():
    X_min = _minority(3, m=20, dim=3)
    nn = minority_neighbours(X_min, 4)
    rng = np.random.default_rng(5)
    parent = rng.integers(0, 20, 300)
    partner = nn[parent, rng.integers(0, 4, 300)]
    good = X_min[parent] + rng.random((300, 1)) * (X_min[partner] - X_min[parent])
    noisy = good + rng.normal(0, 0.05, good.shape)
    rows = np.vstack([good, noisy])
    match = segment_parents(X_min, rows, neighbours=nn, chunk=64)  # several chunks
    expected = np.array([_on_any(r, X_min, nn) for r in rows])
    assert np.array_equal(match.on_segment, expected)
    assert match.on_segment[:300].all() and not match.on_segment[300:].any()


def test_collinear_minority_points_fall_back_to_the_right_segment():
    # Points on a line: a row between x1 and x2 has zero defect on several segments; the one found
    # must be an allowed one.
    X_min = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [10.0, 5.0], [11.0, 5.0]])
    nn = minority_neighbours(X_min, 1)  # 0->1, 1->0 or 2, 2->1 or 3, 3->2, 4->5, 5->4
    rows = np.array([[0.5, 0.0], [2.5, 0.0], [10.5, 5.0], [5.0, 2.5]])
    match = segment_parents(X_min, rows, neighbours=nn)
    assert match.on_segment.tolist() == [True, True, True, False]
    for i in range(3):
        p, q = match.parent[i], match.neighbour[i]
        assert q in nn[p]
        np.testing.assert_allclose(X_min[p] + match.lam[i] * (X_min[q] - X_min[p]), rows[i], atol=1e-12)


def test_segment_parents_needs_k_or_neighbours():
    with pytest.raises(ValueError, match="needs k or neighbours"):
        segment_parents(_minority(), _minority()[:2])

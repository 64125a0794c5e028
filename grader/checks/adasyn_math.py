"""ADASYN's numbers: d, G, r_i, r̂_i and g_i (He et al. 2008, steps (a)-(b)).

Each check grades one quantity. Where a quantity is computed from an earlier
one, it is compared with what the submission's *own* earlier value implies
(r̂ from the student's r, g from the student's r̂ and G), so one mistake costs
the points of the step where it was made and no others.

The grader's own numbers (d, G, r, r̂) come from ``case["expected"]``, fixed when
the inputs were prepared. The one rule applied to the submission's own values
is :func:`rounding_variant` (is g_ an accepted rounding of the student's r̂ · G?):
a pure test of three roundings, not an ADASYN.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks._adasyn_common import case_results, generating_cases, student_array
from grader.checks._fraud_common import fmt, report

WHERE_EN = "ADASYN.fit_resample in submission/adasyn.py"
WHERE_FA = "ADASYN.fit_resample در submission/adasyn.py"


def rounding_variant(g, r_hat, G: int, *, tol: float = 1e-6) -> str | None:
    """Which accepted rounding ``g`` follows (``"rint"``, ``"floor"``, ``"largest_remainder"``), or None.

    Tolerant of the last bits of ``r̂ · G`` (a student may sum r in another
    order) and of the tie rule at .5 (nearest integer either way) and between
    equal remainders; strict otherwise.
    """
    g = np.asarray(g)
    v = np.asarray(r_hat, dtype=np.float64) * G
    if g.shape != v.shape or not np.issubdtype(g.dtype, np.number):
        return None
    if not np.array_equal(g, np.round(g)):
        return None
    g = g.astype(np.int64)
    if np.all(np.abs(g - v) <= 0.5 + tol):
        return "rint"
    if np.all((g <= v + tol) & (g > v - 1 - tol)):
        return "floor"
    lo, hi = np.floor(v + tol), np.ceil(v - tol)
    if g.sum() == G and np.all((g == lo) | (g == hi)):
        up = (g == hi) & (hi > lo)
        down = (g == lo) & (hi > lo)
        rem = v - np.floor(v)
        if not up.any() or not down.any() or rem[up].min() >= rem[down].max() - tol:
            return "largest_remainder"
    return None


@pytest.mark.check("adasyn.d")
def test_imbalance_degree(ctx):
    """Step (a): d = m_s / m_l on every case (threshold cases too, when d_ is set)."""
    problems = []
    for case, rec, _ in case_results(ctx):
        expected = case["expected"]["d"]
        d = rec["attributes"].get("d_")
        if d is None:
            if case["kind"] == "generate":
                problems.append((f"Case {case['name']}: the fitted attribute d_ is missing "
                                 f"({rec['attribute_errors'].get('d_', 'not set')}).",
                                 f"مورد {case['name']}: ویژگی d_ وجود ندارد."))
            continue
        if not np.isclose(d, expected, rtol=1e-9, atol=1e-12):
            problems.append((f"Case {case['name']}: expected d_ = m_s/m_l = {expected:.6g}, found {d:.6g}.",
                             f"مورد {case['name']}: انتظار d_ = m_s/m_l = {expected:.6g} بود، "
                             f"{d:.6g} به دست آمد."))
    report(problems, where_en=WHERE_EN, where_fa=WHERE_FA)


@pytest.mark.check("adasyn.G")
def test_amount_to_generate(ctx):
    """Step (b)(1): G = int((m_l - m_s) * beta)."""
    problems = []
    for case, rec, _ in generating_cases(ctx):
        expected = case["expected"]["G"]
        G = rec["attributes"].get("G_")
        if G is None:
            problems.append((f"Case {case['name']}: the fitted attribute G_ is missing.",
                             f"مورد {case['name']}: ویژگی G_ وجود ندارد."))
        elif G != expected:
            problems.append((f"Case {case['name']} (beta = {case['params']['beta']}): expected "
                             f"G_ = int((m_l - m_s) * beta) = {expected}, found {G}.",
                             f"مورد {case['name']} (beta = {case['params']['beta']}): انتظار "
                             f"G_ = int((m_l - m_s) * beta) = {expected} بود، {G} به دست آمد."))
    report(problems, where_en=WHERE_EN, where_fa=WHERE_FA)


@pytest.mark.check("adasyn.r")
def test_majority_ratios(ctx):
    """Step (b)(3): r_i = Δ_i / k, neighbours in the whole X, the sample itself excluded."""
    problems = []
    for case, rec, arrays in generating_cases(ctx):
        expected = case["expected"]["r"]
        r = student_array(rec, arrays, "r", case)
        if r is None:
            if not case.get("lenient"):
                problems.append((f"Case {case['name']}: the fitted attribute r_ is missing.",
                                 f"مورد {case['name']}: ویژگی r_ وجود ندارد."))
            continue
        if r.shape != expected.shape or not np.allclose(r, expected, rtol=1e-9, atol=1e-12):
            problems.append((f"Case {case['name']} (k = {case['params']['k']}): expected r_ = {fmt(expected)} "
                             f"(one value per minority sample, in order of appearance), found {fmt(r)}; "
                             f"the sample itself is not one of its own k neighbours.",
                             f"مورد {case['name']} (k = {case['params']['k']}): انتظار r_ = {fmt(expected)} "
                             f"بود (یک مقدار برای هر نمونهٔ اقلیت به ترتیب ظهور)، {fmt(r)} به دست آمد؛ "
                             f"خود نمونه جزو k همسایهٔ خودش نیست."))
    report(problems, where_en=WHERE_EN, where_fa=WHERE_FA)


@pytest.mark.check("adasyn.r_hat")
def test_normalised_ratios(ctx):
    """Step (b)(4): r̂ = r / Σr, checked against the submission's own r_."""
    problems = []
    for case, rec, arrays in generating_cases(ctx):
        r_hat = student_array(rec, arrays, "r_hat", case)
        if r_hat is None:
            if not case.get("lenient"):
                problems.append((f"Case {case['name']}: the fitted attribute r_hat_ is missing.",
                                 f"مورد {case['name']}: ویژگی r_hat_ وجود ندارد."))
            continue
        r = student_array(rec, arrays, "r", case)
        if r is None or r.shape != r_hat.shape or r.sum() <= 0:
            r = case["expected"]["r"]
        expected = r / r.sum()
        if r_hat.shape != expected.shape or not np.allclose(r_hat, expected, rtol=1e-9, atol=1e-12):
            problems.append((f"Case {case['name']}: expected r_hat_ = r_ / sum(r_) = {fmt(expected)} "
                             f"(summing to 1), found {fmt(r_hat)} (sum {float(np.sum(r_hat)):.4g}).",
                             f"مورد {case['name']}: انتظار r_hat_ = r_ / sum(r_) = {fmt(expected)} بود "
                             f"(با مجموع 1)، {fmt(r_hat)} (با مجموع {float(np.sum(r_hat)):.4g}) به دست آمد."))
    report(problems, where_en=WHERE_EN, where_fa=WHERE_FA)


@pytest.mark.check("adasyn.g")
def test_rounded_counts(ctx):
    """Step (b)(5): g_i = r̂_i · G rounded by np.rint (floor or largest remainder accepted)."""
    problems = []
    for case, rec, arrays in generating_cases(ctx):
        g = student_array(rec, arrays, "g", case)
        if g is None:
            if not case.get("lenient"):
                problems.append((f"Case {case['name']}: the fitted attribute g_ is missing.",
                                 f"مورد {case['name']}: ویژگی g_ وجود ندارد."))
            continue
        m_s = int(np.unique(case["y"], return_counts=True)[1].min())
        if g.shape != (m_s,):      # an empty g_ against an empty r_hat_ would match every rounding
            problems.append((f"Case {case['name']}: expected g_ to hold one count per minority sample ({m_s} "
                             f"values), found shape {g.shape}.",
                             f"مورد {case['name']}: انتظار می‌رفت g_ برای هر نمونهٔ اقلیت یک عدد ({m_s} مقدار) "
                             f"داشته باشد، شکل {g.shape} به دست آمد."))
            continue
        r_hat = student_array(rec, arrays, "r_hat", case)
        if r_hat is None or r_hat.shape != g.shape:
            r_hat = case["expected"]["r_hat"]
        G = rec["attributes"].get("G_")
        if G is None:
            G = case["expected"]["G"]
        if rounding_variant(g, r_hat, G) is None:
            expected = np.rint(r_hat * G).astype(int)
            problems.append((f"Case {case['name']}: expected g_ = np.rint(r_hat_ * G_) = {fmt(expected)} "
                             f"(floor or largest remainder also accepted), found {fmt(g)}.",
                             f"مورد {case['name']}: انتظار g_ = np.rint(r_hat_ * G_) = {fmt(expected)} بود "
                             f"(np.floor یا بزرگ‌ترین باقی‌مانده هم پذیرفته است)، {fmt(g)} به دست آمد."))
    report(problems, where_en=WHERE_EN, where_fa=WHERE_FA)

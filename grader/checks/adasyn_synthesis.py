"""ADASYN's output: originals kept first, Σg synthetic minority rows on the right segments.

He et al. 2008 step (c): each synthetic row is x_i + λ (x_zi − x_i), λ ~ U[0, 1),
x_zi one of the k nearest *minority* neighbours of x_i, and minority sample i
contributes g_i of them. Counts are compared with the submission's own g_ (its
correctness is :mod:`adasyn_math`'s business), so one mistake costs one check.

The segments a row may lie on are fixed by the grader: ``case["expected"]``
holds each minority sample's k nearest minority neighbours (and its neighbours
in the whole X, for the diagnosis), computed when the inputs were prepared.
What runs here on the submission's rows is geometry only
(:func:`segment_candidates`: is a row on a given segment?), not an ADASYN.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks._adasyn_common import (case_results, generates_somewhere, generating_cases, no_evidence,
                                         no_rows, outputs, split_synthetic, student_array)
from grader.checks._fraud_common import fmt, report

WHERE_EN = "the synthesis loop of ADASYN.fit_resample (submission/adasyn.py)"
WHERE_FA = "حلقهٔ تولید نمونه در ADASYN.fit_resample (submission/adasyn.py)"


def _student_or_oracle_g(case, rec, arrays) -> np.ndarray:
    """The submission's g_ when it holds one count per minority sample, else the grader's (np.rint) g."""
    g = student_array(rec, arrays, "g", case)
    expected = case["expected"]
    if g is not None and g.shape == (expected["m_s"],):
        return g.astype(np.int64)
    return expected["g"]["rint"] if expected["g"] is not None else np.zeros(expected["m_s"], int)


@pytest.mark.check("adasyn.originals_first")
def test_originals_first_in_order(ctx):
    """X_res starts with X (every row, in its order) and y_res with y."""
    problems = []
    for case, rec, arrays in generating_cases(ctx):
        X_res, y_res = outputs(case, arrays)
        X, y = case["X"], case["y"]
        n = len(X)
        head_ok = (X_res.ndim == 2 and X_res.shape[1] == X.shape[1] and len(X_res) >= n
                   and np.allclose(X_res[:n], X, rtol=1e-6, atol=1e-9) and np.array_equal(y_res[:n], y))
        if not head_ok:
            problems.append((f"Case {case['name']}: expected the first {n} rows of X_res / y_res to be X / y "
                             f"unchanged and in their order, then the synthetic rows; found X_res of shape "
                             f"{X_res.shape} whose first rows differ.",
                             f"مورد {case['name']}: انتظار می‌رفت {n} سطر اول X_res / y_res همان X / y "
                             f"بدون تغییر و به همان ترتیب باشند و سپس سطرهای مصنوعی بیایند؛ X_res با شکل "
                             f"{X_res.shape} به دست آمد که سطرهای اولش فرق دارند."))
    report(problems, where_en="how X_res is assembled in ADASYN.fit_resample",
           where_fa="نحوهٔ ساختن X_res در ADASYN.fit_resample")


@pytest.mark.check("adasyn.synthetic_count")
def test_synthetic_count_and_labels(ctx):
    """Σ g_i synthetic rows, each labelled with the minority class."""
    problems, judged = [], 0
    for case, rec, arrays in generating_cases(ctx):
        X_res, y_res = outputs(case, arrays)
        _, S, y_S = split_synthetic(case, X_res, y_res)
        judged += len(S)
        g = _student_or_oracle_g(case, rec, arrays)
        minority = case["expected"]["minority"]
        if len(S) != int(g.sum()):
            problems.append((f"Case {case['name']}: expected sum(g_) = {int(g.sum())} synthetic rows, "
                             f"found {len(S)} rows that are not copies of input rows.",
                             f"مورد {case['name']}: انتظار sum(g_) = {int(g.sum())} سطر مصنوعی بود، "
                             f"{len(S)} سطر غیرتکراری به دست آمد."))
        wrong = int(np.sum(y_S != minority))
        if wrong:
            problems.append((f"Case {case['name']}: every synthetic row must be labelled with the minority "
                             f"class {minority}; {wrong} are not.",
                             f"مورد {case['name']}: برچسب هر سطر مصنوعی باید کلاس اقلیت {minority} باشد؛ "
                             f"{wrong} سطر چنین نیست."))
    if not judged and not problems:
        problems.append(no_evidence("a synthetic row whose label could be checked",
                                    "سطر مصنوعی‌ای که برچسبش بررسی شود"))
    report(problems, where_en=WHERE_EN, where_fa=WHERE_FA)


def _toward_any_neighbour(case, rows: np.ndarray):
    """Diagnosis for rows on no allowed segment: how many head from a minority sample to one of
    its *majority* neighbours (in the whole X) instead?"""
    X, y, expected = case["X"], case["y"], case["expected"]
    neighbours = expected["neighbours"]
    majority_only = np.where(y[neighbours] != expected["minority"], neighbours, -1)
    cand = segment_candidates(X[y == expected["minority"]], rows, majority_only, ends=X)
    return int(cand.any(axis=1).sum())


@pytest.mark.check("adasyn.segments")
def test_synthetic_rows_on_minority_segments(ctx):
    """Each synthetic row is x_i + λ (x_zi − x_i), λ in [0, 1), x_zi a k-nearest minority neighbour."""
    problems, judged = [], 0
    for case, rec, arrays in generating_cases(ctx):
        X_res, y_res = outputs(case, arrays)
        _, S, _ = split_synthetic(case, X_res, y_res)
        if len(S) == 0:
            expected = int(_student_or_oracle_g(case, rec, arrays).sum())
            if expected > 0:
                problems.append(no_rows(case, expected))
            continue
        judged += len(S)
        X_min = case["X"][case["y"] == case["expected"]["minority"]]
        off = ~segment_candidates(X_min, S, case["expected"]["minority_neighbours"]).any(axis=1)
        if off.any():
            majority = _toward_any_neighbour(case, S[off])
            hint_en = (f" {majority} of them lie on a segment toward a *majority* neighbour." if majority else
                       " Check that λ is drawn from [0, 1) and that x_zi is a minority neighbour of x_i.")
            hint_fa = (f" {majority} سطر از آن‌ها روی پاره‌خطی به سمت همسایهٔ *اکثریت* هستند." if majority else
                       " بررسی کنید که λ از بازهٔ [0, 1) انتخاب شود و x_zi همسایهٔ اقلیتِ x_i باشد.")
            problems.append((f"Case {case['name']} (k = {case['params']['k']}): expected every synthetic row on a "
                             f"segment x_i + λ (x_zi − x_i) with λ in [0, 1) and x_zi one of the k nearest "
                             f"minority neighbours of x_i (itself excluded); {int(off.sum())} of {len(S)} are "
                             f"not (e.g. row {fmt(S[np.argmax(off)], 3, 4)}).{hint_en}",
                             f"مورد {case['name']} (k = {case['params']['k']}): انتظار می‌رفت هر سطر مصنوعی "
                             f"روی پاره‌خط x_i + λ (x_zi − x_i) با λ در [0, 1) باشد و x_zi یکی از k نزدیک‌ترین "
                             f"همسایه‌های اقلیتِ x_i (بدون خودش)؛ {int(off.sum())} سطر از {len(S)} سطر "
                             f"چنین نیستند.{hint_fa}"))
    if not judged and not problems:
        problems.append(no_evidence("a synthetic row to place on a segment", "سطر مصنوعی‌ای برای بررسی پاره‌خط"))
    report(problems, where_en=WHERE_EN, where_fa=WHERE_FA)


def segment_candidates(X_min: np.ndarray, S: np.ndarray, neighbours: np.ndarray, *, ends: np.ndarray | None = None,
                       rtol: float = 1e-6, atol: float = 1e-9) -> np.ndarray:
    """``(len(S), m_s)`` booleans: row s lies on a segment from minority sample i to one of its neighbours.

    ``neighbours[i]`` are row indices of ``ends`` (the minority rows themselves by
    default); -1 stands for none. A row is on x_i + λ (x_z − x_i) when its distance
    to that line is at most ``atol + rtol * max(|x_i|, |x_z|)`` and λ ∈ [0, 1]
    within ``rtol``. Every parent a row could have is kept: on a segment between
    mutual neighbours either end is one.
    """
    ends = X_min if ends is None else ends
    cand = np.zeros((len(S), len(X_min)), dtype=bool)
    norms = np.linalg.norm(X_min, axis=1)
    end_norms = np.linalg.norm(ends, axis=1)
    for i in range(len(X_min)):
        a = X_min[i]
        for z in neighbours[i]:
            if z < 0:
                continue
            d = ends[z] - a
            dd = float(d @ d)
            if dd == 0.0:
                continue
            lam = (S - a) @ d / dd
            resid = np.linalg.norm(S - a - lam[:, None] * d, axis=1)
            tol = atol + rtol * max(norms[i], end_norms[z])
            cand[:, i] |= (resid <= tol) & (lam >= -rtol) & (lam <= 1 + rtol)
    return cand


def parents_within_counts(cand: np.ndarray, g: np.ndarray) -> tuple[bool, int]:
    """Can every row that has a parent be given one so that parent i gets at most g_i rows?

    A bipartite b-matching, solved as a maximum flow (source → row: 1, row →
    candidate parent: 1, parent i → sink: g_i). Returns (feasible, rows placed).
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    rows = np.flatnonzero(cand.any(axis=1))
    n, m = len(rows), cand.shape[1]
    if n == 0:
        return True, 0
    src, sink = 0, n + m + 1
    r_idx, p_idx = np.nonzero(cand[rows])
    heads = np.r_[np.full(n, src), 1 + r_idx, 1 + n + np.arange(m)]
    tails = np.r_[1 + np.arange(n), 1 + n + p_idx, np.full(m, sink)]
    caps = np.r_[np.ones(n, np.int32), np.ones(len(r_idx), np.int32), np.maximum(g, 0).astype(np.int32)]
    graph = csr_matrix((caps, (heads, tails)), shape=(n + m + 2, n + m + 2))
    placed = int(maximum_flow(graph, src, sink).flow_value)
    return placed == n, placed


@pytest.mark.check("adasyn.per_sample_counts")
def test_each_sample_gets_g_i_rows(ctx):
    """Minority sample i is the parent of (at most, and with Σg rows in all: exactly) g_i synthetic rows."""
    problems, judged = [], 0
    for case, rec, arrays in generating_cases(ctx):
        X_res, y_res = outputs(case, arrays)
        _, S, _ = split_synthetic(case, X_res, y_res)
        g = _student_or_oracle_g(case, rec, arrays)
        if len(S) == 0:
            if int(g.sum()) > 0:
                problems.append(no_rows(case, int(g.sum())))
            continue
        X_min = case["X"][case["y"] == case["expected"]["minority"]]
        cand = segment_candidates(X_min, S, case["expected"]["minority_neighbours"])
        judged += int(cand.any(axis=1).sum())          # rows off every segment are adasyn.segments' finding
        feasible, placed = parents_within_counts(cand, g)
        if not feasible:
            only = cand[cand.sum(axis=1) == 1].sum(axis=0)        # rows with a single possible parent
            over = np.flatnonzero(only > g)[:5].tolist()
            where = f" (e.g. minority sample(s) {over})" if over else ""
            problems.append((f"Case {case['name']}: expected minority sample i to generate g_[i] rows "
                             f"(g_ = {fmt(g)}); the synthetic rows cannot be shared out that way: only "
                             f"{placed} of {int(cand.any(axis=1).sum())} fit within g_{where}. Draw the "
                             f"parents from g_, not at random.",
                             f"مورد {case['name']}: انتظار می‌رفت نمونهٔ اقلیت i دقیقاً g_[i] سطر بسازد "
                             f"(g_ = {fmt(g)})؛ سطرهای مصنوعی این‌گونه تقسیم نمی‌شوند: فقط {placed} از "
                             f"{int(cand.any(axis=1).sum())} سطر در سهم g_ جا می‌گیرند{where}. والدها را "
                             f"بر اساس g_ انتخاب کنید، نه تصادفی."))
    if not judged and not problems:
        problems.append(no_evidence("a synthetic row on a segment from a minority sample (a row whose parent "
                                    "could be counted)",
                                    "سطر مصنوعی‌ای روی پاره‌خطی از یک نمونهٔ اقلیت (سطری که والدش شمرده شود)"))
    report(problems, where_en=WHERE_EN, where_fa=WHERE_FA)


@pytest.mark.check("adasyn.threshold")
def test_nothing_generated_above_threshold(ctx):
    """d >= d_threshold: X_res is X and y_res is y, nothing added (He et al. 2008 step (b)).

    Zero rows is only evidence of a threshold when the case would otherwise
    generate (G > 0) and the same ADASYN does generate where d < d_threshold.
    """
    problems, exercised = [], 0
    for case, rec, arrays in case_results(ctx, ("threshold",)):
        X_res, y_res = outputs(case, arrays)
        d, G = case["expected"]["d"], case["expected"]["G"]
        exercised += int(d >= case["params"]["d_threshold"] and G > 0)
        same = (X_res.shape == case["X"].shape and np.allclose(X_res, case["X"], rtol=1e-6, atol=1e-9)
                and np.array_equal(y_res, case["y"]))
        if not same:
            problems.append((f"Case {case['name']}: d = {d:.3g} >= d_threshold = {case['params']['d_threshold']}, "
                             f"so expected X_res = X ({len(case['X'])} rows, nothing generated); found "
                             f"{len(X_res)} rows.",
                             f"مورد {case['name']}: d = {d:.3g} >= d_threshold = "
                             f"{case['params']['d_threshold']} است، پس انتظار X_res = X ({len(case['X'])} سطر، "
                             f"بدون نمونهٔ جدید) می‌رفت؛ {len(X_res)} سطر به دست آمد."))
    if not exercised:
        problems.append(("No threshold case of the grader has d >= d_threshold and rows to generate otherwise "
                         "(G > 0), so the threshold could not be exercised.",
                         "هیچ مورد آستانه‌ای در ارزیاب d >= d_threshold و در غیر این صورت سطری برای تولید (G > 0) "
                         "ندارد، پس آستانه آزموده نشد."))
    elif not problems and not generates_somewhere(ctx):
        problems.append(("X_res = X on the threshold cases, but nothing was generated on any case with "
                         "d < d_threshold either, so no threshold is at work: expected synthetic rows when "
                         "d < d_threshold and none when d >= d_threshold.",
                         "روی موردهای آستانه X_res = X است، اما روی هیچ موردی با d < d_threshold هم چیزی تولید "
                         "نشد، پس آستانه‌ای در کار نیست: انتظار سطر مصنوعی وقتی d < d_threshold و هیچ سطری وقتی "
                         "d >= d_threshold می‌رفت."))
    report(problems, where_en="the d_threshold test in ADASYN.fit_resample",
           where_fa="شرط d_threshold در ADASYN.fit_resample")


@pytest.mark.check("adasyn.reproducible")
def test_same_random_state_same_rows(ctx):
    """Two runs with the same random_state return identical X_res (one seeded generator)."""
    problems, repeated = [], 0
    for case, rec, arrays in generating_cases(ctx):
        if not case.get("repeat"):
            continue
        repeated += 1
        again = arrays.get(f"X_res_again__{case['name']}")
        X_res, y_res = outputs(case, arrays)
        if not len(split_synthetic(case, X_res, y_res)[1]):
            problems.append((f"Case {case['name']}: no synthetic row was generated, so there was no random draw "
                             f"to repeat; expected sum(g_) rows, identical on both runs.",
                             f"مورد {case['name']}: هیچ سطر مصنوعی‌ای تولید نشد، پس انتخاب تصادفی‌ای برای تکرار "
                             f"نبود؛ انتظار sum(g_) سطر، یکسان در هر دو اجرا، می‌رفت."))
        elif again is None or again.shape != X_res.shape or not np.array_equal(again, X_res):
            problems.append((f"Case {case['name']}: two runs with random_state = "
                             f"{case['params']['random_state']} returned different X_res; expected identical "
                             f"rows. Draw all randomness from one generator seeded with random_state.",
                             f"مورد {case['name']}: دو اجرا با random_state = {case['params']['random_state']} "
                             f"X_res متفاوتی دادند؛ انتظار سطرهای یکسان می‌رفت. همهٔ تصادف را از یک مولد "
                             f"با random_state بگیرید."))
    if not repeated:
        problems.append(("The grader's ADASYN cases hold no case run twice, so reproducibility had no evidence.",
                         "موردهای ADASYN ارزیاب هیچ موردی با دو اجرا ندارند، پس برای تکرارپذیری شاهدی نیست."))
    report(problems, where_en="how ADASYN uses random_state", where_fa="نحوهٔ استفادهٔ ADASYN از random_state")

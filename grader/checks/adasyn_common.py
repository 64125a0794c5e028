"""Reading the ``fraud.adasyn_cases`` artifacts next to the grader's own copy of each case.

No check lives here. A case whose ``fit_resample`` raised or timed out fails
every check that needs it, with the exception's type and message.
"""

from __future__ import annotations

import numpy as np

from grader.checks.fraud_common import heldback_cases, not_implemented
from grader.checks.support import CheckFailed

STEP = "fraud.adasyn_cases"


def _load(ctx):
    records = ctx.artifact_json("fraud/adasyn_cases.json", step=STEP)
    arrays = ctx.artifact_npz("fraud/adasyn_cases.npz", step=STEP)
    if not isinstance(records, dict):
        raise CheckFailed("fraud/adasyn_cases.json is not a record per case.",
                          "fraud/adasyn_cases.json رکوردی برای هر مورد ندارد.")
    cases = heldback_cases(ctx, "adasyn_cases")
    for case in cases:
        case["lenient"] = case["kind"] == "generate" and case["params"]["beta"] == 0.0
    return cases, records, arrays


def case_results(ctx, kinds: tuple[str, ...] = ("generate", "threshold")):
    """``(case, record, arrays)`` for every case of ``kinds`` that ran; fail if one crashed."""
    cases, records, arrays = _load(ctx)
    out, crashed = [], []
    for case in cases:
        if case["kind"] not in kinds:
            continue
        rec = records.get(case["name"])
        if not isinstance(rec, dict):
            crashed.append((f"case {case['name']}: no record (the step stopped before it)",
                            f"مورد {case['name']}: رکوردی نیست (مرحله پیش از آن متوقف شد)"))
        elif rec.get("status") != "ok":
            if rec.get("error_type") == "NotImplementedError":
                raise not_implemented("ADASYN.fit_resample (submission/adasyn.py)")
            crashed.append((f"case {case['name']} (k = {case['params']['k']}, beta = {case['params']['beta']}): "
                            f"fit_resample raised {rec.get('error_type')}: {str(rec.get('message'))[:200]}",
                            f"مورد {case['name']}: fit_resample خطای {rec.get('error_type')} داد: "
                            f"{str(rec.get('message'))[:200]}"))
        else:
            rec.setdefault("attributes", {})
            rec.setdefault("attribute_errors", {})
            out.append((case, rec, arrays))
    if crashed:
        raise CheckFailed("This check could not be graded because " + "; ".join(c[0] for c in crashed[:3])
                          + ". Look at ADASYN.fit_resample in submission/adasyn.py.",
                          "این بررسی انجام نشد زیرا " + "؛ ".join(c[1] for c in crashed[:3])
                          + ". ADASYN.fit_resample در submission/adasyn.py را بررسی کنید.")
    return out


def generating_cases(ctx):
    return case_results(ctx, ("generate",))


def student_array(rec: dict, arrays: dict, key: str, case: dict) -> np.ndarray | None:
    """The student's fitted array ``key`` (r, r_hat, g) for ``case``, or None when missing/unusable."""
    value = arrays.get(f"{key}__{case['name']}")
    if value is None or f"{key}_" in rec.get("attribute_errors", {}):
        return None
    return np.asarray(value).reshape(-1)


def outputs(case: dict, arrays: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(X_res, y_res)`` the submission returned for ``case``."""
    X_res = np.asarray(arrays[f"X_res__{case['name']}"], dtype=np.float64)
    y_res = np.asarray(arrays[f"y_res__{case['name']}"])
    return X_res, y_res


def split_synthetic(case: dict, X_res: np.ndarray, y_res: np.ndarray, *, rtol: float = 1e-6):
    """``(is_original, S, y_S)``: which returned rows copy an original row, and the others.

    A synthetic row x_i + λ(x_z − x_i) equals an original only for λ = 0 exactly
    (probability 2^-53 per row), so "not a copy of an input row" is what
    synthetic means here, whatever order the rows were returned in.
    """
    from sklearn.neighbors import NearestNeighbors

    X = case["X"]
    if X_res.ndim != 2 or X_res.shape[1] != X.shape[1] or len(X_res) == 0:
        return np.zeros(len(X_res), bool), X_res[:0] if X_res.ndim == 2 else np.empty((0, X.shape[1])), y_res[:0]
    dist = NearestNeighbors(n_neighbors=1).fit(X).kneighbors(X_res)[0][:, 0]
    scale = np.linalg.norm(X_res, axis=1)
    is_original = dist <= 1e-9 + rtol * scale
    return is_original, X_res[~is_original], y_res[~is_original]

"""Reading the ``fraud.adasyn_cases`` artifacts next to the grader's own copy of each case.

No check lives here. A case whose ``fit_resample`` raised or timed out fails
every check that needs it, with the exception's type and message. Each case
carries ``case["expected"]``: the values trusted code fixed for it when the
inputs were prepared (grader.tasks.fraud.adasyn_expected), so no check runs an
ADASYN of its own.
"""

from __future__ import annotations

import numpy as np

from grader.checks._fraud_common import heldback_cases, not_implemented
from grader.checks._support import CheckFailed
from grader.tasks.fraud import EXPECTED_FILE, read_adasyn_expected

STEP = "fraud.adasyn_cases"


def _load(ctx):
    records = ctx.artifact_json("fraud/adasyn_cases.json", step=STEP)
    arrays = ctx.artifact_npz("fraud/adasyn_cases.npz", step=STEP)
    if not isinstance(records, dict):
        raise CheckFailed("fraud/adasyn_cases.json is not a record per case.",
                          "fraud/adasyn_cases.json رکوردی برای هر مورد ندارد.")
    cases = heldback_cases(ctx, "adasyn_cases")
    expected = read_adasyn_expected(ctx.heldback_path(f"fraud/{EXPECTED_FILE}"))
    for case in cases:
        case["lenient"] = case["kind"] == "generate" and case["params"]["beta"] == 0.0
        case["expected"] = expected[case["name"]]
    return cases, records, arrays


def require_cases(cases: list[dict], kinds: tuple[str, ...]) -> None:
    """Fail unless every kind is represented and a generating case is not lenient: no evidence, no pass."""
    missing = [k for k in kinds if not any(c["kind"] == k for c in cases)]
    if "generate" in kinds and not any(c["kind"] == "generate" and not c["lenient"] for c in cases):
        missing.append("generate (beta > 0)")
    if missing:
        raise CheckFailed(f"This check has no evidence: the grader's ADASYN cases hold no case of kind "
                          f"{', '.join(missing)}, so nothing could be compared.",
                          f"این بررسی شاهدی ندارد: موردهای ADASYN ارزیاب هیچ موردی از نوع {', '.join(missing)} "
                          f"ندارند، پس چیزی برای مقایسه نیست.")


def case_results(ctx, kinds: tuple[str, ...] = ("generate", "threshold")):
    """``(case, record, arrays)`` for every case of ``kinds`` that ran; fail if one crashed."""
    cases, records, arrays = _load(ctx)
    require_cases(cases, kinds)
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


def no_rows(case: dict, expected: int) -> tuple[str, str]:
    """The (en, fa) problem of a case that returned no synthetic row where ``expected`` were due."""
    return (f"Case {case['name']}: expected sum(g_) = {expected} synthetic rows to judge, found none (X_res holds "
            f"only copies of input rows).",
            f"مورد {case['name']}: انتظار sum(g_) = {expected} سطر مصنوعی برای بررسی می‌رفت، هیچ سطری پیدا نشد "
            f"(X_res فقط کپی سطرهای ورودی است).")


def no_evidence(what_en: str, what_fa: str) -> tuple[str, str]:
    """The (en, fa) problem of a check whose evidence came out empty on every case: that is a failure."""
    return (f"No case produced {what_en}, so this property could not be verified; an ADASYN that generates "
            f"nothing does not pass it.",
            f"هیچ موردی {what_fa} تولید نکرد، پس این ویژگی قابل بررسی نبود؛ ADASYN ای که چیزی تولید نمی‌کند "
            f"این بررسی را نمی‌گذراند.")


def generates_somewhere(ctx) -> bool:
    """Whether fit_resample returned a synthetic row on some generating case that ran (a crash elsewhere aside)."""
    cases, records, arrays = _load(ctx)
    for case in cases:
        rec = records.get(case["name"])
        keys = (f"X_res__{case['name']}", f"y_res__{case['name']}")
        if case["kind"] != "generate" or not isinstance(rec, dict) or rec.get("status") != "ok" \
                or not all(k in arrays for k in keys):
            continue
        X_res, y_res = outputs(case, arrays)
        if len(split_synthetic(case, X_res, y_res)[1]):
            return True
    return False

"""ADASYN rejects bad input with a ValueError that names the problem (DESIGN.md, submission/adasyn.py)."""

from __future__ import annotations

import pytest

from grader.checks._fraud_common import heldback_cases, not_implemented, report
from grader.checks._support import fail

STEP = "fraud.adasyn_errors"
# The Persian of each bad input's description (grader.tasks.fraud.adasyn_error_cases writes the English);
# an input not listed here is described by its name alone.
PROBLEM_FA = {
    "non_binary_y": "y سه کلاس دارد",
    "length_mismatch": "len(y) != len(X)",
    "nan_in_X": "X مقدار NaN دارد",
    "inf_in_X": "X مقدار inf دارد",
    "k_equals_m_s": "k >= m_s",
    "beta_above_one": "beta = 1.5 بیرون از [0, 1]",
    "beta_negative": "beta = -0.1 بیرون از [0, 1]",
    "no_majority_neighbour": "هیچ نمونهٔ اقلیتی همسایهٔ اکثریت ندارد (Σ r = 0)",
}


@pytest.mark.check("adasyn.errors")
def test_bad_input_raises_value_error(ctx):
    """Each listed bad input raises ValueError; the valid control input does not raise."""
    records = ctx.artifact_json("fraud/adasyn_errors.json", step=STEP)
    control = records.get("control") if isinstance(records, dict) else None
    if isinstance(control, dict) and control.get("error_type") == "NotImplementedError":
        raise not_implemented("ADASYN.fit_resample (submission/adasyn.py)")
    problems = []
    cases = heldback_cases(ctx, "adasyn_errors")
    if not any(case["name"] != "control" for case in cases):
        fail(en="This check has no evidence: the grader's list of bad ADASYN inputs is empty, so no ValueError "
                "could be asked for.",
             fa="این بررسی شاهدی ندارد: فهرست ورودی‌های نادرست ADASYN در ارزیاب خالی است، پس ValueError ای "
                "خواسته نشد.")
    for case in cases:
        rec = records.get(case["name"]) if isinstance(records, dict) else None
        name, problem = case["name"], case["problem"]
        named_fa = f"{name} ({PROBLEM_FA[name]})" if name in PROBLEM_FA else name
        if not isinstance(rec, dict):
            problems.append((f"Input {name}: no record (the step stopped before it).",
                             f"ورودی {name}: رکوردی نیست (مرحله پیش از آن متوقف شد)."))
        elif name == "control":
            if rec.get("raised"):
                problems.append((f"A valid input (k = {case['params']['k']}, beta = {case['params']['beta']}) "
                                 f"must not raise, but it raised {rec.get('error_type')}: {rec.get('message')}.",
                                 f"یک ورودی معتبر نباید خطا بدهد، اما {rec.get('error_type')} داد: "
                                 f"{rec.get('message')}."))
        elif not rec.get("raised"):
            problems.append((f"Input {name} ({problem}): expected ValueError, but no exception was raised.",
                             f"ورودی {named_fa}: انتظار ValueError می‌رفت، اما هیچ خطایی رخ نداد."))
        elif not rec.get("is_value_error"):
            problems.append((f"Input {name} ({problem}): expected ValueError, found {rec.get('error_type')}: "
                             f"{str(rec.get('message'))[:150]}.",
                             f"ورودی {named_fa}: انتظار ValueError می‌رفت، {rec.get('error_type')} "
                             f"به دست آمد: {str(rec.get('message'))[:150]}."))
    report(problems, where_en="the input validation at the start of ADASYN.fit_resample",
           where_fa="اعتبارسنجی ورودی در ابتدای ADASYN.fit_resample")

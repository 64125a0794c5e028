"""Shared helpers of the fraud checks: trusted inputs, per-case records, bilingual messages.

No check lives here (no ``test_*``/``check_*`` names): the plugin collects every
module of ``grader/checks``. Inputs are read from the held-back copies that
``grader.tasks.fraud.prepare_inputs`` wrote, never from what the sandbox saw.
"""

from __future__ import annotations

import json

import numpy as np

from grader.checks._support import CheckContext, CheckFailed, fail

MAX_LISTED = 4          # problems spelled out in one message; the rest are counted


def heldback_cases(ctx: CheckContext, stem: str) -> list[dict]:
    """The grader's cases ``stem`` (adasyn_cases | adasyn_errors) with their X and y."""
    meta = json.loads(ctx.heldback_path(f"fraud/{stem}.json").read_text(encoding="utf-8"))
    with np.load(ctx.heldback_path(f"fraud/{stem}.npz"), allow_pickle=False) as data:
        for case in meta:
            case["X"] = np.array(data[f"X__{case['name']}"])
            case["y"] = np.array(data[f"y__{case['name']}"])
    return meta


def not_implemented(what: str) -> CheckFailed:
    """The starter's NotImplementedError, said once instead of once per case."""
    return CheckFailed(f"{what} is not implemented yet (it raised NotImplementedError).",
                       f"{what} هنوز پیاده‌سازی نشده است (NotImplementedError داد).")


def report(problems: list[tuple[str, str]], *, where_en: str, where_fa: str) -> None:
    """Fail with the first problems (en, fa) and a pointer to the code to look at; pass if none."""
    if not problems:
        return
    shown = problems[:MAX_LISTED]
    more = len(problems) - len(shown)
    en = " ".join(p[0] for p in shown)
    fa = " ".join(p[1] for p in shown)
    if more:
        en += f" (and {more} more of the same kind)"
        fa += f" (و {more} مورد دیگر از همین نوع)"
    fail(en=f"{en} Look at {where_en}.", fa=f"{fa} {where_fa} را بررسی کنید.")


def fmt(values, digits: int = 4, limit: int = 8) -> str:
    """A short rendering of a number or an array for messages."""
    arr = np.asarray(values)
    if arr.ndim == 0:
        v = arr.item()
        return f"{v:.{digits}g}" if isinstance(v, float) else str(v)
    items = [f"{v:.{digits}g}" if isinstance(v, float) else str(v) for v in arr.tolist()[:limit]]
    tail = ", …" if arr.size > limit else ""
    return "[" + ", ".join(items) + tail + "]"

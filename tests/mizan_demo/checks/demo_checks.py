"""Checks of the test-only "demo" task."""

import numpy as np
import pytest

from grader.checks._support import CheckContext, fail


@pytest.mark.check("demo.count")
def test_count(ctx: CheckContext):
    got = ctx.artifact_json("demo/count.json", step="demo.count")
    want = ctx.heldback_json("demo/answers.json")
    if got != {"trainable": want["trainable"], "total": want["total"]}:
        fail(en=f"Expected (trainable, total) = ({want['trainable']}, {want['total']}), found {got}.",
             fa=f"انتظار (trainable, total) = ({want['trainable']}, {want['total']}) بود، {got} یافت شد.")


@pytest.mark.check("demo.adasyn_originals")
def test_adasyn_keeps_originals(ctx: CheckContext):
    arrays = ctx.artifact_npz("demo/adasyn.npz", step="demo.adasyn")
    X = np.arange(24, dtype=float).reshape(12, 2)
    X_res = arrays.get("X_res")
    if X_res is None or X_res.ndim != 2 or X_res.shape[0] <= 12 or not np.array_equal(X_res[:12], X):
        fail(en="Expected X_res to start with the 12 original rows followed by synthetic ones.",
             fa="انتظار می‌رفت X_res با ۱۲ سطر اصلی شروع شود و پس از آن سطرهای ساختگی بیاید.")

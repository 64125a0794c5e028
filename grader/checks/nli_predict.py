"""Check of ``predict``: one label id per pair, in input order, the argmax of the model's logits.

Judged without training: the ``nli.predict`` step hands ``predict`` a model
whose output bias the grader shifted so that all three labels occur, and
records that model's own argmax (on the student's own ``encode_pairs``).
A constant output, a lost or shuffled order, logits read along the wrong
axis, or dropout left on all show up here on any profile, including smoke,
where nothing can be learnt and the accuracy checks cannot tell.
"""

from __future__ import annotations

import pytest

from grader.checks._support import CheckContext, fail

STEP = "nli.predict"
MARGIN_RTOL = 1e-2
"""Pairs whose top-two logits are closer than this (relative to the logits' spread, scaled to 1 by the
step) are not judged: a different batch padding may legitimately flip a near-tie."""


@pytest.mark.check("nli.predict_argmax")
def test_predict_returns_the_models_argmax(ctx: CheckContext):
    import numpy as np

    ref = ctx.artifact_npz("nli/predict_reference.npz", step=STEP)
    got = np.asarray(ctx.artifact_npz("nli/predict.npz", step=STEP).get("labels", np.zeros(0)))
    want, margin = np.asarray(ref["labels"]), np.asarray(ref["margin"], dtype=np.float64)
    n = want.size
    if got.shape != want.shape:
        fail(en=f"predict(model, tokenizer, premises, hypotheses, batch_size=8) on {n} pairs returned an array of "
                f"shape {got.shape}; expected ({n},): one label id per pair.",
             fa=f"predict(model, tokenizer, premises, hypotheses, batch_size=8) برای {n} جفت آرایه‌ای با شکل "
                f"{got.shape} برگرداند؛ انتظار ({n},) می‌رفت: یک شناسهٔ برچسب برای هر جفت.")
    if got.dtype.kind not in "iu":
        if got.dtype.kind != "f" or not np.all(np.isfinite(got)) or not np.all(got == np.rint(got)):
            fail(en=f"predict returned values of dtype {got.dtype}; expected integer label ids 0, 1, 2 "
                    f"(argmax over the logits), not probabilities or logits.",
                 fa=f"predict مقادیری از نوع {got.dtype} برگرداند؛ انتظار شناسه‌های صحیح 0، 1، 2 (argmax روی "
                    f"logitها) می‌رفت، نه احتمال یا logit.")
    got = got.astype(np.int64)
    scale = float(np.asarray(ref["scale"]))
    judged = margin > MARGIN_RTOL * scale
    if margin.shape != want.shape or not judged.any():
        fail(en=f"nli/predict_reference.npz holds no clear-cut probe pair ({n} pairs, margins of shape "
                f"{margin.shape}), so predict could not be compared with the model's argmax.",
             fa=f"فایل nli/predict_reference.npz هیچ جفت بی‌ابهامی ندارد ({n} جفت، حاشیه‌هایی با شکل "
                f"{margin.shape})، پس predict با argmax مدل مقایسه نشد.")
    wrong = np.flatnonzero((got != want) & judged)
    if wrong.size:
        shown = ", ".join(f"pair {i}: expected {int(want[i])}, found {int(got[i])}" for i in wrong[:5])
        shown_fa = "، ".join(f"جفت {i}: انتظار {int(want[i])}، یافته {int(got[i])}" for i in wrong[:5])
        single = np.unique(got).size == 1
        hint = (f" Every prediction is {int(got[0])}: is the result of the model ever stored?" if single else
                " Keep the input order (undo any sorting by length), take argmax over the last axis, and call "
                "model.eval() so dropout is off.")
        hint_fa = (f" همهٔ پیش‌بینی‌ها {int(got[0])} است: آیا خروجی مدل اصلاً ذخیره می‌شود؟" if single else
                   " ترتیب ورودی را حفظ کنید (مرتب‌سازی بر اساس طول را برگردانید)، argmax را روی محور آخر بگیرید و "
                   "model.eval() را صدا بزنید تا لایه‌های Dropout خاموش باشند.")
        fail(en=f"Expected predict to return, for each pair in input order, the argmax of the given model's logits; "
                f"{wrong.size} of {int(judged.sum())} clear-cut pairs differ ({shown}).{hint}",
             fa=f"انتظار می‌رفت predict برای هر جفت، به ترتیب ورودی، argmax ِ logitهای مدل داده‌شده را برگرداند؛ "
                f"{wrong.size} از {int(judged.sum())} جفتِ بی‌ابهام فرق دارند ({shown_fa}).{hint_fa}")

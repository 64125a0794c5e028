"""Checks of ``prepare_model`` in full and freeze mode, of ``count_parameters``, and of an unknown mode.

Each trainable set is judged twice: on the profile's model (what the student
trains) and on RoBERTa-large built on the meta device (what the homework's
parameter table is about), against the exact counts DESIGN.md fixes:
355,362,819 weights, of which the classification head holds 1,052,675.
"""

from __future__ import annotations

import pytest

from grader.checks import _nli_support as S
from grader.checks._support import CheckContext, fail
from grader.tasks import nli as T


@pytest.mark.check("nli.full_trainable")
def test_full_mode_trains_every_parameter(ctx: CheckContext):
    for kind in (S.PROFILE, S.META):
        st = S.state(ctx, kind, "full")
        expected = S.expected_records(ctx, kind)
        S.same_names_or_fail(st["params"], expected, S.describe(kind, "full"), S.describe_fa(kind, "full"))
        frozen = [name for name, _shape, flag in st["params"] if flag is not True]
        if frozen:
            fail(en=f"Expected every parameter trainable after {S.describe(kind, 'full')}; found "
                    f"{len(frozen)} frozen tensors: {S.listing(frozen)}. Set requires_grad=True on all of "
                    f"model.parameters() in the 'full' branch of prepare_model.",
                 fa=f"انتظار می‌رفت پس از {S.describe_fa(kind, 'full')} همهٔ پارامترها قابل آموزش باشند؛ "
                    f"{len(frozen)} تانسور منجمد پیدا شد: {S.listing_fa(frozen)}. در شاخهٔ 'full' تابع "
                    f"prepare_model برای همهٔ model.parameters() مقدار requires_grad=True بگذارید.")
    trainable, total = T.count_from_records(S.state(ctx, S.META, "full")["params"])
    if (trainable, total) != (T.ROBERTA_LARGE_TOTAL, T.ROBERTA_LARGE_TOTAL):
        fail(en=f"RoBERTa-large in full mode should have {S.fmt_int(T.ROBERTA_LARGE_TOTAL)} of "
                f"{S.fmt_int(T.ROBERTA_LARGE_TOTAL)} weights trainable; found {S.fmt_int(trainable)} of "
                f"{S.fmt_int(total)}.",
             fa=f"RoBERTa-large در حالت full باید {S.fmt_int(T.ROBERTA_LARGE_TOTAL)} از "
                f"{S.fmt_int(T.ROBERTA_LARGE_TOTAL)} وزن قابل آموزش داشته باشد؛ {S.fmt_int(trainable)} از "
                f"{S.fmt_int(total)} پیدا شد.")


@pytest.mark.check("nli.freeze_trainable")
def test_freeze_mode_trains_only_the_head(ctx: CheckContext):
    for kind in (S.PROFILE, S.META):
        st = S.state(ctx, kind, "freeze")
        expected = S.expected_records(ctx, kind)
        call, call_fa = S.describe(kind, "freeze"), S.describe_fa(kind, "freeze")
        S.same_names_or_fail(st["params"], expected, call, call_fa)
        head = S.head_names(expected)
        trainable = {name for name, _shape, flag in st["params"] if flag is True}
        extra, frozen_head = trainable - head, head - trainable
        if extra or frozen_head:
            found = []
            found_fa = []
            if extra:
                found.append(f"{len(extra)} encoder tensors trainable ({S.listing(extra)})")
                found_fa.append(f"{len(extra)} تانسور رمزگذار قابل آموزش است ({S.listing_fa(extra)})")
            if frozen_head:
                found.append(f"{len(frozen_head)} head tensors frozen ({S.listing(frozen_head)})")
                found_fa.append(f"{len(frozen_head)} تانسور سر طبقه‌بند منجمد است ({S.listing_fa(frozen_head)})")
            fail(en=f"Expected exactly the classification head (model.classifier: {S.listing(head)}) trainable "
                    f"after {call}; found {' and '.join(found)}. In the 'freeze' branch set requires_grad=False "
                    f"on every parameter, then True on model.classifier.parameters() only.",
                 fa=f"انتظار می‌رفت پس از {call_fa} فقط سر طبقه‌بند (model.classifier: {S.listing_fa(head)}) "
                    f"قابل آموزش باشد؛ اما {' و '.join(found_fa)}. در شاخهٔ 'freeze' ابتدا requires_grad=False "
                    f"را برای همهٔ پارامترها و سپس True را فقط برای model.classifier.parameters() بگذارید.")
        trainable_n, total_n = T.count_from_records(st["params"])
        want = T.count_from_records([[n, s, n.startswith(T.HEAD_PREFIX)] for n, s, _f in expected])
        if kind == S.META:
            want = (T.ROBERTA_LARGE_HEAD, T.ROBERTA_LARGE_TOTAL)
        if (trainable_n, total_n) != want:
            fail(en=f"After {call} the trainable/total counts should be {S.fmt_int(want[0])} / "
                    f"{S.fmt_int(want[1])} ({100 * want[0] / want[1]:.3f} %); found {S.fmt_int(trainable_n)} / "
                    f"{S.fmt_int(total_n)}.",
                 fa=f"پس از {call_fa} تعداد پارامترهای قابل آموزش/کل باید {S.fmt_int(want[0])} / "
                    f"{S.fmt_int(want[1])} باشد؛ {S.fmt_int(trainable_n)} / {S.fmt_int(total_n)} پیدا شد.")


@pytest.mark.check("nli.count_parameters")
def test_count_parameters_matches_the_graders_count(ctx: CheckContext):
    """The student's answer on every model ``nli.params`` prepared, against peft's
    ``get_nb_trainable_parameters`` semantics applied by the grader to the same records."""
    judged, wrong, wrong_fa = 0, [], []
    for st in S.states(ctx):
        if st.get("error") or not isinstance(st.get("params"), list):
            continue  # prepare_model itself failed here: judged by the mode's own check
        call = S.describe(st.get("model"), st.get("mode"), st.get("r"), st.get("alpha"))
        call_fa = S.describe_fa(st.get("model"), st.get("mode"), st.get("r"), st.get("alpha"))
        want = T.count_from_records(st["params"])
        if st.get("count_error"):
            err = st["count_error"]
            fail(en=f"count_parameters raised {err.get('type')} on the model from {call}: {err.get('message')}. "
                    f"It must return (trainable, total) for any model, peft-wrapped or not, on any device.",
                 fa=f"count_parameters روی مدلِ حاصل از {call_fa} خطای {err.get('type')} داد: "
                    f"{err.get('message')}. این تابع باید برای هر مدلی (با یا بدون peft، روی هر دستگاهی) "
                    f"زوج `(trainable, total)` را برگرداند.")
        got = st.get("count")
        judged += 1
        if not isinstance(got, list) or tuple(got) != want:
            wrong.append(f"{call}: returned {tuple(got) if isinstance(got, list) else got}, expected "
                         f"({S.fmt_int(want[0])}, {S.fmt_int(want[1])})")
            wrong_fa.append(f"{call_fa}: مقدار {tuple(got) if isinstance(got, list) else got} برگشت، انتظار "
                            f"({S.fmt_int(want[0])}, {S.fmt_int(want[1])}) بود")
    if judged == 0:
        fail(en="No prepared model could be counted: prepare_model failed in every mode (see the other checks).",
             fa="هیچ مدلی برای شمارش آماده نشد: prepare_model در همهٔ حالت‌ها شکست خورد (بررسی‌های دیگر را ببینید).")
    if wrong:
        fail(en="count_parameters disagrees with the grader's count (sum of numel() over named_parameters(); "
                "trainable = those with requires_grad=True, each shared tensor once, as peft's "
                "get_nb_trainable_parameters). " + "; ".join(wrong[:4]) +
                (f"; and {len(wrong) - 4} more" if len(wrong) > 4 else "") + ".",
             fa="خروجی count_parameters با شمارش ارزیاب نمی‌خواند (جمع numel() روی named_parameters()؛ "
                "قابل آموزش یعنی requires_grad=True، هر تانسور مشترک یک بار، مانند get_nb_trainable_parameters "
                "در peft). " + "؛ ".join(wrong_fa[:4]) +
                (f"؛ و {len(wrong_fa) - 4} مورد دیگر" if len(wrong_fa) > 4 else "") + ".")


@pytest.mark.check("nli.unknown_mode")
def test_unknown_mode_raises_value_error(ctx: CheckContext):
    data = ctx.artifact_json(S.PARAMS, step=S.PARAMS_STEP)
    bogus = data.get("bogus") if isinstance(data, dict) else None
    if not isinstance(bogus, dict):
        fail(en="The step did not record what prepare_model(model, 'bogus') did.",
             fa="مرحله ثبت نکرده است که prepare_model(model, 'bogus') چه کرد.")
    if bogus.get("is_value_error") is not True:
        found = f"it raised {bogus.get('raised')}" if bogus.get("raised") else "it returned normally"
        found_fa = f"خطای {bogus.get('raised')} داد" if bogus.get("raised") else "بدون خطا برگشت"
        fail(en=f"Expected prepare_model(model, 'bogus') to raise ValueError naming the mode; {found}. "
                f"Check the mode first: if mode not in ('full', 'freeze', 'lora'): raise ValueError(...).",
             fa=f"انتظار می‌رفت prepare_model(model, 'bogus') خطای ValueError با نام حالت بدهد؛ اما {found_fa}. "
                f"اول حالت را بررسی کنید: `if mode not in ('full', 'freeze', 'lora'): raise ValueError(...)`.")

"""Checks of ``prepare_model(mode="lora")``: where the adapters sit, their rank and scaling, what trains.

Judged on the profile's model with three (r, alpha) pairs (8/16, 16/32, 2/8)
and on RoBERTa-large (meta device) with r=8 and r=32, so that an
implementation ignoring its ``r`` or ``alpha`` arguments is caught while one
honouring them is not. LoRA (Hu et al. 2021 §4.1): ``h = W0 x + (alpha/r) B A x``
with ``A`` of shape (r, d_in) and ``B`` of shape (d_out, r); on RoBERTa-large,
query+value in 24 layers adds 98,304·r weights.
"""

from __future__ import annotations

import pytest

from grader.checks import _nli_support as S
from grader.checks._support import CheckContext, fail
from grader.tasks import nli as T

SCALING_RTOL = 1e-3


def _no_adapters(call: str, call_fa: str):
    fail(en=f"No LoRA adapters (lora_A / lora_B parameters) found after {call}. Use peft: "
            f"get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=alpha, "
            f"lora_dropout=dropout, target_modules=list(target_modules))).",
         fa=f"پس از {call_fa} هیچ آداپتور LoRA (پارامترهای lora_A / lora_B) پیدا نشد. از peft استفاده کنید: "
            f"get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=alpha, "
            f"lora_dropout=dropout, target_modules=list(target_modules))).")


@pytest.mark.check("nli.lora_targets")
def test_adapters_on_exactly_query_and_value(ctx: CheckContext):
    for kind, r, alpha in S.lora_plan():
        st = S.state(ctx, kind, "lora", r, alpha)
        call, call_fa = S.describe(kind, "lora", r, alpha), S.describe_fa(kind, "lora", r, alpha)
        groups = S.by_role(st["params"])
        with_a = {c for c, *_ in groups["lora_A"]}
        with_b = {c for c, *_ in groups["lora_B"]}
        want = S.target_modules(S.expected_records(ctx, kind))
        adapted = with_a | with_b
        missing, extra, half = want - adapted, adapted - want, with_a ^ with_b
        if missing or extra or half:
            fail(en=f"Expected LoRA adapters on exactly the query and value projections of every layer "
                    f"({len(want)} modules) after {call}; adapters missing on {len(missing)} "
                    f"({S.listing(missing) or 'none'}), unexpected on {len(extra)} ({S.listing(extra) or 'none'}), "
                    f"A without B or B without A on {len(half)}. Pass target_modules=list(target_modules) "
                    f"(default ('query', 'value')) to LoraConfig.",
                 fa=f"انتظار می‌رفت پس از {call_fa} آداپتورهای LoRA دقیقاً روی query و value همهٔ لایه‌ها "
                    f"({len(want)} ماژول) باشند؛ روی {len(missing)} ماژول نیست ({S.listing_fa(missing) or 'هیچ'})، "
                    f"روی {len(extra)} ماژول ناخواسته هست ({S.listing_fa(extra) or 'هیچ'}) و {len(half)} ماژول "
                    f"فقط A یا فقط B دارند. target_modules=list(target_modules) (پیش‌فرض ('query', 'value')) "
                    f"را به LoraConfig بدهید.")


def _measured_scaling(ctx: CheckContext, st: dict, r: int, alpha: int, call: str, call_fa: str) -> float:
    """The scaling s solving ``delta = s * x A^T B^T`` in least squares, from the step's measurement."""
    import numpy as np

    info = st.get("scaling") or {}
    if not info.get("measured"):
        err = info.get("error") or {}
        fail(en=f"Could not measure the LoRA scaling after {call}: a forward pass of the adapted layer failed "
                f"({err.get('type')}: {err.get('message')}).",
             fa=f"ضریب مقیاس LoRA پس از {call_fa} اندازه‌گیری نشد: اجرای لایهٔ آداپته‌شده خطا داد "
                f"({err.get('type')}: {err.get('message')}).")
    arrays = ctx.artifact_npz("nli/lora_scaling.npz", step=S.PARAMS_STEP)
    key = f"r{r}_a{alpha}"
    try:
        x, a, b, delta = (np.asarray(arrays[f"{key}__{n}"], dtype=np.float64) for n in ("x", "A", "B", "delta"))
        basis = x @ a.T @ b.T
        if basis.shape != delta.shape:
            raise ValueError(f"shapes {basis.shape} and {delta.shape}")
    except (KeyError, ValueError) as err:
        fail(en=f"The scaling measurement of {call} is incomplete ({err}).",
             fa=f"اندازه‌گیری ضریب مقیاس {call_fa} ناقص است ({err}).")
    denom = float((basis * basis).sum())
    if denom == 0.0:
        fail(en=f"After {call} the LoRA factor A of {info.get('module')} is all zeros, so the adapter cannot "
                f"change the output; A must start random.",
             fa=f"پس از {call_fa} ماتریس A در {info.get('module')} تماماً صفر است و آداپتور نمی‌تواند خروجی را "
                f"تغییر دهد؛ A باید تصادفی شروع شود.")
    s = float((basis * delta).sum() / denom)
    residual = float(np.linalg.norm(delta - s * basis) / max(np.linalg.norm(delta), 1e-30))
    if residual > 1e-3:
        fail(en=f"After {call} the adapted layer {info.get('module')} does not add s·B·A·x to its output "
                f"(relative residual {residual:.2e}); use peft's LoRA layers.",
             fa=f"پس از {call_fa} لایهٔ {info.get('module')} مقدار s·B·A·x را به خروجی اضافه نمی‌کند "
                f"(باقی‌ماندهٔ نسبی {residual:.2e})؛ از لایه‌های LoRA در peft استفاده کنید.")
    return s


@pytest.mark.check("nli.lora_rank_alpha")
def test_lora_honours_rank_and_alpha(ctx: CheckContext):
    for kind, r, alpha in S.lora_plan():
        st = S.state(ctx, kind, "lora", r, alpha)
        call, call_fa = S.describe(kind, "lora", r, alpha), S.describe_fa(kind, "lora", r, alpha)
        groups = S.by_role(st["params"])
        if not groups["lora_A"] or not groups["lora_B"]:
            _no_adapters(call, call_fa)
        base = S.shapes(S.expected_records(ctx, kind))
        wrong = []
        for factor in ("lora_A", "lora_B"):
            for module, shape, _flag, raw in groups[factor]:
                w = base.get(module + ".weight")
                if w is not None and len(w) == 2:
                    want = (r, w[1]) if factor == "lora_A" else (w[0], r)
                else:  # an adapter on a module the grader does not know: judge the rank only
                    want = (r, shape[1]) if factor == "lora_A" else (shape[0], r)
                if len(shape) != 2 or tuple(shape) != want:
                    wrong.append(f"{raw} {tuple(shape)} (expected {want})")
        if wrong:
            fail(en=f"After {call} every A must be (r, d_in) and every B (d_out, r) with r={r}; found "
                    f"{len(wrong)} factors of another shape: {'; '.join(wrong[:3])}. Pass r=r to LoraConfig "
                    f"instead of a fixed number.",
                 fa=f"پس از {call_fa} هر A باید (r, d_in) و هر B باید (d_out, r) با r={r} باشد؛ {len(wrong)} "
                    f"ماتریس با شکل دیگر پیدا شد: {'; '.join(wrong[:3])}. به‌جای عدد ثابت، r=r را به LoraConfig "
                    f"بدهید.")
        if kind != S.PROFILE:
            continue
        s = _measured_scaling(ctx, st, r, alpha, call, call_fa)
        want_s = alpha / r
        if abs(s - want_s) > SCALING_RTOL * want_s:
            peft_s = (st.get("scaling") or {}).get("peft_scaling")
            fail(en=f"After {call} the adapter's update is scaled by {s:.4g}; expected alpha/r = {alpha}/{r} = "
                    f"{want_s:.4g} (Hu et al. 2021 §4.1; peft reports {peft_s}). Pass lora_alpha=alpha to "
                    f"LoraConfig and do not use use_rslora.",
                 fa=f"پس از {call_fa} به‌روزرسانی آداپتور با ضریب {s:.4g} مقیاس شده است؛ انتظار alpha/r = "
                    f"{alpha}/{r} = {want_s:.4g} بود (peft گزارش می‌دهد {peft_s}). lora_alpha=alpha را به "
                    f"LoraConfig بدهید و use_rslora را به کار نبرید.")


@pytest.mark.check("nli.lora_head_trainable")
def test_lora_trains_the_head(ctx: CheckContext):
    for kind, r, alpha in S.lora_plan():
        st = S.state(ctx, kind, "lora", r, alpha)
        call, call_fa = S.describe(kind, "lora", r, alpha), S.describe_fa(kind, "lora", r, alpha)
        head = S.head_names(S.expected_records(ctx, kind))
        trainable_head = {c for c, _shape, flag, _raw in S.by_role(st["params"])["head"] if flag}
        missing = head - trainable_head
        if missing:
            fail(en=f"Expected the classification head to train in LoRA mode (peft's trainable copy "
                    f"classifier.modules_to_save.default.*, made by task_type=SEQ_CLS); after {call} "
                    f"{len(missing)} head tensors are frozen or absent: {S.listing(missing)}. Do not freeze the "
                    f"head after get_peft_model.",
                 fa=f"انتظار می‌رفت در حالت LoRA سر طبقه‌بند آموزش ببیند (نسخهٔ قابل آموزش peft یعنی "
                    f"classifier.modules_to_save.default.* که task_type=SEQ_CLS می‌سازد)؛ پس از {call_fa} "
                    f"{len(missing)} تانسور سر منجمد یا غایب است: {S.listing_fa(missing)}. پس از "
                    f"get_peft_model سر را منجمد نکنید.")


@pytest.mark.check("nli.lora_frozen_base")
def test_lora_freezes_the_pretrained_weights(ctx: CheckContext):
    for kind, r, alpha in S.lora_plan():
        st = S.state(ctx, kind, "lora", r, alpha)
        call, call_fa = S.describe(kind, "lora", r, alpha), S.describe_fa(kind, "lora", r, alpha)
        groups = S.by_role(st["params"])
        base_names = {c for c, *_ in groups["base"]}
        want = {n for n, _s, _f in S.expected_records(ctx, kind) if not n.startswith(T.HEAD_PREFIX)}
        missing = want - base_names
        if missing:
            fail(en=f"After {call} {len(missing)} pretrained weights are gone from the model "
                    f"({S.listing(missing)}); LoRA adds adapters beside the frozen weights, it replaces nothing.",
                 fa=f"پس از {call_fa} {len(missing)} وزن پیش‌آموخته از مدل حذف شده‌اند ({S.listing_fa(missing)})؛ "
                    f"LoRA آداپتورها را کنار وزن‌های منجمد اضافه می‌کند و چیزی را جایگزین نمی‌کند.")
        trainable = [raw for _c, _shape, flag, raw in groups["base"] if flag]
        if trainable:
            fail(en=f"Expected every pretrained weight outside the head frozen in LoRA mode; after {call} "
                    f"{len(trainable)} are trainable: {S.listing(trainable)}. Let get_peft_model freeze the base "
                    f"model and do not set requires_grad=True on it afterwards.",
                 fa=f"انتظار می‌رفت در حالت LoRA همهٔ وزن‌های پیش‌آموختهٔ بیرون از سر منجمد باشند؛ پس از "
                    f"{call_fa} {len(trainable)} وزن قابل آموزش است: {S.listing_fa(trainable)}. بگذارید "
                    f"get_peft_model مدل پایه را منجمد کند و بعد از آن requires_grad=True نگذارید.")

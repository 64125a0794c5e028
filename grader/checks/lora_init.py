"""Checks of LoRA's initialisation: B = 0, A random, and the adapted model starting at the pretrained one.

Hu et al. 2021 §4.1: "We use a random Gaussian initialization for A and zero
for B, so ΔW = BA is zero at the beginning of training"; peft draws A from
Kaiming-uniform (a=√5, so std = 1/√(3·d_in)) by default, or from N(0, 1/r)
with ``init_lora_weights="gaussian"``. Both are accepted; a zero, constant or
wildly scaled A is not. The exact zero of B is checked the way peft's own
``test_initialization.py`` does: ``(lora_B == 0).all()``.
"""

from __future__ import annotations

import math

import pytest

from grader.checks import _nli_support as S
from grader.checks._support import CheckContext, fail
from grader.tasks import nli as T

STEP = "nli.lora_init"
FACTORS = "nli/lora_init.safetensors"
OUTPUTS = "nli/lora_init.npz"
LOGIT_ATOL = 1e-5
STD_LOW, STD_HIGH = 0.25, 4.0


def _factors(ctx: CheckContext, kind: str) -> dict:
    tensors = ctx.artifact_safetensors(FACTORS, step=STEP)
    picked = {name: t for name, t in tensors.items() if T.classify_param(name)[0] == kind}
    if not picked:
        r, alpha = ctx.profile.nli.lora_r, ctx.profile.nli.lora_alpha
        fail(en=f"No {kind} tensors found after prepare_model(model, 'lora', r={r}, alpha={alpha}): the model "
                f"has no LoRA adapters. Use peft's get_peft_model with a LoraConfig (see nli.lora_targets).",
             fa=f"پس از prepare_model(model, 'lora', r={r}, alpha={alpha}) هیچ تانسور {kind} پیدا نشد: مدل "
                f"آداپتور LoRA ندارد. از get_peft_model با یک LoraConfig در peft استفاده کنید "
                f"(nli.lora_targets را ببینید).")
    return picked


@pytest.mark.check("nli.lora_zero_init")
def test_lora_starts_at_the_pretrained_model(ctx: CheckContext):
    import numpy as np

    nonzero = {name: int(np.count_nonzero(t)) for name, t in _factors(ctx, "lora_B").items()}
    bad = {name: n for name, n in nonzero.items() if n}
    if bad:
        fail(en=f"Expected every LoRA B to be exactly 0 at initialisation so that BA = 0 and training starts "
                f"from the pretrained model (Hu et al. 2021 §4.1); {len(bad)} of {len(nonzero)} B matrices hold "
                f"non-zero values ({S.listing(bad)}). Keep peft's default init_lora_weights=True and do not "
                f"re-initialise the adapters.",
             fa=f"انتظار می‌رفت همهٔ ماتریس‌های B در LoRA در آغاز دقیقاً صفر باشند تا BA = 0 و آموزش از مدل "
                f"پیش‌آموخته شروع شود (Hu et al. 2021 §4.1)؛ {len(bad)} از {len(nonzero)} ماتریس B مقدار غیرصفر "
                f"دارند ({S.listing_fa(bad)}). init_lora_weights=True (پیش‌فرض peft) را نگه دارید و آداپتورها را "
                f"دوباره مقداردهی نکنید.")
    out = ctx.artifact_npz(OUTPUTS, step=STEP)
    try:
        base = np.asarray(out["base_logits"], dtype=np.float64)
        lora = np.asarray(out["lora_logits"], dtype=np.float64)
    except KeyError as err:
        fail(en=f"{OUTPUTS} lacks {err}.", fa=f"فایل {OUTPUTS} کلید {err} را ندارد.")
    if base.size == 0:
        fail(en=f"{OUTPUTS} holds no logits for the grader's probe pairs, so the adapted model's output at "
                f"initialisation could not be compared with the pretrained model's.",
             fa=f"فایل {OUTPUTS} هیچ logit ای برای جفت‌های آزمون ارزیاب ندارد، پس خروجی مدل آداپته‌شده در آغاز با "
                f"مدل پیش‌آموخته مقایسه نشد.")
    if base.shape != lora.shape:
        fail(en=f"The LoRA model's logits have shape {lora.shape}, the base model's {base.shape}; the adapted "
                f"model must keep the 3-way head.",
             fa=f"شکل logits مدل LoRA برابر {lora.shape} و مدل پایه {base.shape} است؛ مدل آداپته‌شده باید همان "
                f"سر سه‌کلاسه را نگه دارد.")
    gap = float(np.max(np.abs(base - lora)))
    if not math.isfinite(gap) or gap > LOGIT_ATOL * (1 + float(np.max(np.abs(base)))):
        fail(en=f"Right after prepare_model(mode='lora') the model should compute exactly what the pretrained "
                f"model computes (B = 0, same head); its logits differ by up to {gap:.3g} on the grader's probe "
                f"pairs. Do not change the weights or the head when adding the adapters.",
             fa=f"درست پس از prepare_model(mode='lora') مدل باید دقیقاً همان خروجی مدل پیش‌آموخته را بدهد "
                f"(B = 0 و همان سر)؛ logits روی جفت‌های آزمون ارزیاب تا {gap:.3g} اختلاف دارند. هنگام افزودن "
                f"آداپتورها وزن‌ها یا سر را تغییر ندهید.")


@pytest.mark.check("nli.lora_a_init")
def test_lora_a_is_random(ctx: CheckContext):
    import numpy as np

    r = ctx.profile.nli.lora_r
    problems = []
    for name, tensor in sorted(_factors(ctx, "lora_A").items()):
        a = np.asarray(tensor, dtype=np.float64)
        if a.ndim != 2 or a.size == 0:
            problems.append(f"{name}: shape {a.shape}")
            continue
        fan_in = a.shape[1]
        if not np.all(np.isfinite(a)):
            problems.append(f"{name}: holds NaN or inf")
            continue
        std = float(a.std())
        kaiming, gaussian = 1 / math.sqrt(3 * fan_in), 1 / r
        low, high = STD_LOW * min(kaiming, gaussian), STD_HIGH * max(kaiming, gaussian)
        if not low <= std <= high:
            problems.append(f"{name}: std {std:.3g} outside [{low:.3g}, {high:.3g}]")
            continue
        rank = int(np.linalg.matrix_rank(a))
        if rank < min(a.shape):
            problems.append(f"{name}: rank {rank} < {min(a.shape)} (rows not independent draws)")
    if problems:
        fail(en=f"Expected every LoRA A drawn at random (peft's Kaiming-uniform, std ≈ 1/√(3·d_in), or N(0, 1/r)) "
                f"so the adapter can learn from the first step; found {len(problems)} implausible: "
                f"{'; '.join(problems[:3])}. Keep peft's default initialisation of A.",
             fa=f"انتظار می‌رفت همهٔ ماتریس‌های A در LoRA تصادفی باشند (توزیع یکنواخت Kaiming در peft با انحراف معیار "
                f"≈ 1/√(3·d_in)، یا N(0, 1/r)) تا آداپتور از گام نخست یاد بگیرد؛ {len(problems)} مورد نامعقول "
                f"پیدا شد: {'; '.join(problems[:3])}. مقداردهی اولیهٔ پیش‌فرض peft را برای A نگه دارید.")

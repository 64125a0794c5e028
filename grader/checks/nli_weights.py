"""Weight-level checks: what training really changed, judged against the pretrained weights.

The grader loads the pretrained model itself (``grader.models.load_nli_model``
with the profile's seed, exactly what the training step started from) and
compares it with the trained weights the step fingerprinted:

- after ``freeze`` training every encoder tensor is bit-identical (only
  ``classifier.*`` may move);
- after ``lora`` training, with the adapters merged (peft's
  ``merge_and_unload``: W = W0 + (alpha/r) B A), only the query/value
  matrices differ, each by a delta of rank ≤ r (Hu et al. 2021 §4.1); the
  numerical rank counts singular values above the float32 rounding floor.
"""

from __future__ import annotations

import pytest

from grader.checks import _nli_support as S
from grader.checks._support import CheckContext, fail
from grader.tasks import nli as T

EPS32 = 1.1920929e-07


def _pretrained_digests(ctx: CheckContext) -> dict[str, dict]:
    return T.state_digests(T.pretrained_model(ctx.profile.nli.model, ctx.profile.nli.seed))


def _canonical(digests: dict) -> dict[str, dict]:
    """Recorded fingerprints keyed by the pretrained model's names (peft wrappers removed)."""
    out = {}
    for name, info in digests.items():
        role, canonical, _module = T.classify_param(str(name))
        if role == "base" and isinstance(info, dict):
            out[canonical] = info
    return out


def _changed(recorded: dict, pretrained: dict) -> tuple[set, set]:
    """(missing, changed) encoder tensor names: the head is allowed to move."""
    encoder = {n for n in pretrained if not n.startswith(T.HEAD_PREFIX)}
    if not encoder:
        fail(en="The grader's pretrained model lists no encoder weight, so no weight could be compared.",
             fa="مدل پیش‌آموختهٔ ارزیاب هیچ وزن رمزگذاری ندارد، پس هیچ وزنی مقایسه نشد.")
    missing = {n for n in encoder if n not in recorded}
    changed = {n for n in encoder - missing if recorded[n].get("sha256") != pretrained[n]["sha256"]}
    return missing, changed


@pytest.mark.check("nli.freeze_weights")
def test_freeze_training_leaves_the_encoder_bit_identical(ctx: CheckContext):
    digests = ctx.artifact_json("nli/freeze_digests.json", step="nli.train_freeze")
    if not isinstance(digests, dict):
        fail(en="nli/freeze_digests.json is not a name -> fingerprint table.",
             fa="فایل nli/freeze_digests.json جدول نام -> اثر انگشت نیست.")
    pretrained = _pretrained_digests(ctx)
    missing, changed = _changed(_canonical(digests), pretrained)
    if missing:
        fail(en=f"After freeze training {len(missing)} encoder weights are missing from the model "
                f"({S.listing(missing)}); train the model prepare_model returned, without replacing its parts.",
             fa=f"پس از آموزش در حالت freeze، {len(missing)} وزن رمزگذار در مدل نیست ({S.listing_fa(missing)})؛ "
                f"همان مدلی را که prepare_model برگرداند آموزش دهید و بخش‌هایش را جایگزین نکنید.")
    if changed:
        fail(en=f"Expected the encoder bit-identical to the pretrained weights after freeze training (only "
                f"model.classifier may change); {len(changed)} encoder tensors changed: {S.listing(changed)}. "
                f"Either prepare_model(mode='freeze') left them trainable, or train() updates or re-enables "
                f"gradients for frozen parameters (optimise only parameters with requires_grad=True).",
             fa=f"انتظار می‌رفت پس از آموزش در حالت freeze رمزگذار بیت‌به‌بیت با وزن‌های پیش‌آموخته یکسان بماند "
                f"(فقط model.classifier تغییر کند)؛ {len(changed)} تانسور رمزگذار تغییر کرده است: "
                f"{S.listing_fa(changed)}. یا prepare_model(mode='freeze') آن‌ها را قابل آموزش گذاشته، یا train() "
                f"پارامترهای منجمد را به‌روز می‌کند یا گرادیانشان را دوباره روشن می‌کند (فقط پارامترهای "
                f"requires_grad=True را بهینه کنید).")


def numerical_rank(delta, reference_norm: float) -> tuple[int, list[float]]:
    """Rank of ``delta`` above the rounding floor of a float32 merge ``W0 + ΔW``.

    Rounding each entry of the merged float32 matrix adds an error matrix E
    with ``||E||_2 <= ||E||_F <= eps32/2 * ||W||_F``, so singular values up to
    ``eps32 * ||W||_F`` can be rounding alone; any genuine direction lies above.
    """
    import numpy as np

    singular = np.linalg.svd(delta, compute_uv=False)
    tol = max(EPS32 * reference_norm, 1e-6 * float(singular[0]) if singular.size else 0.0)
    return int((singular > tol).sum()), [float(s) for s in singular[:12]]


@pytest.mark.check("nli.lora_weights")
def test_lora_training_changes_only_query_value_by_low_rank(ctx: CheckContext):
    import numpy as np

    data = ctx.artifact_json("nli/lora_digests.json", step="nli.train_lora")
    if not isinstance(data, dict) or not isinstance(data.get("digests"), dict):
        fail(en="nli/lora_digests.json does not hold the expected 'digests' table.",
             fa="فایل nli/lora_digests.json جدول 'digests' را ندارد.")
    info, digests = data.get("info") or {}, data["digests"]
    leftover = [n for n in digests if T.classify_param(str(n))[0] in ("lora_A", "lora_B")]
    if leftover:
        err = info.get("merge_error") or {}
        fail(en=f"The trained LoRA model could not be merged into plain weights with peft's merge_and_unload "
                f"({err.get('type')}: {err.get('message')}); {len(leftover)} adapter tensors remain. Return the "
                f"PeftModel from prepare_model and train it in place.",
             fa=f"مدل LoRA آموزش‌دیده با merge_and_unload در peft در وزن‌های ساده ادغام نشد "
                f"({err.get('type')}: {err.get('message')})؛ {len(leftover)} تانسور آداپتور باقی ماند. "
                f"PeftModel را از prepare_model برگردانید و همان را آموزش دهید.")
    pretrained = _pretrained_digests(ctx)
    missing, changed = _changed(_canonical(digests), pretrained)
    if missing:
        fail(en=f"After LoRA training and merging, {len(missing)} pretrained weights are missing "
                f"({S.listing(missing)}).",
             fa=f"پس از آموزش LoRA و ادغام، {len(missing)} وزن پیش‌آموخته در مدل نیست ({S.listing_fa(missing)}).")
    outside = {n for n in changed if not T.is_target_weight(n)}
    if outside:
        fail(en=f"Expected LoRA training to change only the query and value weight matrices (through their "
                f"adapters); {len(outside)} other pretrained tensors changed: {S.listing(outside)}. Adapt only "
                f"target_modules, keep the base frozen, and make train() optimise only parameters with "
                f"requires_grad=True.",
             fa=f"انتظار می‌رفت آموزش LoRA فقط ماتریس‌های وزن query و value را (از راه آداپتورها) تغییر دهد؛ "
                f"{len(outside)} تانسور پیش‌آموختهٔ دیگر تغییر کرده است: {S.listing_fa(outside)}. فقط "
                f"target_modules را آداپته کنید، مدل پایه را منجمد نگه دارید و train() فقط پارامترهای "
                f"requires_grad=True را بهینه کند.")
    if not changed:
        r = ctx.profile.nli.lora_r
        fail(en=f"Expected LoRA training to change the query and value matrices through their adapters (merged "
                f"W = W0 + (alpha/r)·B·A with r={r}); no pretrained weight changed at all, so the adapters never "
                f"trained (B stayed 0). Check that train() optimises the lora_A / lora_B parameters with a "
                f"learning rate above 0 and leaves their requires_grad=True.",
             fa=f"انتظار می‌رفت آموزش LoRA ماتریس‌های query و value را از راه آداپتورها تغییر دهد (پس از ادغام "
                f"W = W0 + (alpha/r)·B·A با r={r})؛ هیچ وزن پیش‌آموخته‌ای تغییر نکرد، پس آداپتورها هرگز آموزش "
                f"ندیدند (B صفر ماند). بررسی کنید که train() پارامترهای lora_A / lora_B را با نرخ یادگیری بزرگ‌تر از "
                f"صفر بهینه کند و requires_grad=True آن‌ها را نگه دارد.")
    merged = ctx.artifact_safetensors("nli/lora_targets.safetensors", step="nli.train_lora")
    model = T.pretrained_model(ctx.profile.nli.model, ctx.profile.nli.seed)
    weights = dict(model.named_parameters())
    r = ctx.profile.nli.lora_r
    for name in sorted(changed):
        if name not in merged:
            fail(en=f"{name} changed during LoRA training but its merged value was not recorded.",
                 fa=f"{name} در آموزش LoRA تغییر کرد ولی مقدار ادغام‌شده‌اش ثبت نشد.")
        w0 = weights[name].detach().double().numpy()
        w = np.asarray(merged[name], dtype=np.float64)
        if w.shape != w0.shape:
            fail(en=f"{name} has shape {w.shape} after training, {w0.shape} before.",
                 fa=f"شکل {name} پس از آموزش {w.shape} و پیش از آن {w0.shape} است.")
        rank, top = numerical_rank(w - w0, float(np.linalg.norm(w)))
        if rank > r:
            fail(en=f"After LoRA training (r={r}) the merged {name} differs from the pretrained matrix by a delta "
                    f"of rank {rank} > r (largest singular values {', '.join(f'{s:.2e}' for s in top[:r + 2])}). "
                    f"A LoRA update B·A has rank at most r: the base weight itself was trained. Keep "
                    f"base_layer frozen and let only lora_A / lora_B learn.",
                 fa=f"پس از آموزش LoRA (r={r}) ماتریس ادغام‌شدهٔ {name} با ماتریس پیش‌آموخته به اندازهٔ یک دلتا "
                    f"با رتبهٔ {rank} > r فرق دارد. به‌روزرسانی B·A در LoRA رتبه‌ای حداکثر r دارد: پس خود وزن پایه "
                    f"آموزش دیده است. base_layer را منجمد نگه دارید و فقط lora_A / lora_B یاد بگیرند.")

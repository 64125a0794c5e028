"""Checks of ``encode_pairs``: a true sentence pair, and truncation to ``max_length``.

The oracle is the model's own tokenizer called as a pair,
``tokenizer(premises, hypotheses)``, loaded by the grader: RoBERTa reads
``<s> p </s></s> h </s>``, BERT/MiniLM ``[CLS] p [SEP] h [SEP]``. Padding is
the student's choice (none, longest, max_length), so tokens are compared
where ``attention_mask`` is 1. Truncation strategy is also the student's
choice; what is required is that a long pair fits ``max_length`` and keeps its
closing special token (slicing ``input_ids[:max_length]`` cuts it off).
"""

from __future__ import annotations

import functools

import pytest

from grader.checks._support import CheckContext, fail
from grader.tasks import nli as T

STEP = "nli.encode"
ARTIFACT = "nli/encode.json"
DEFAULT_MAX_LENGTH = 128


@functools.lru_cache(maxsize=2)
def _tokenizer(model_name: str):
    return T.load_tokenizer(model_name)


def _case(ctx: CheckContext, name: str, call: str) -> list[list[int]]:
    """Unpadded token rows of one recorded ``encode_pairs`` call, validated."""
    data = ctx.artifact_json(ARTIFACT, step=STEP)
    record = data.get(name) if isinstance(data, dict) else None
    if not isinstance(record, dict):
        fail(en=f"{ARTIFACT} has no record of {call}.", fa=f"فایل {ARTIFACT} نتیجهٔ {call} را ندارد.")
    err = record.get("error")
    if err:
        fail(en=f"{call} failed: {err.get('type')}: {err.get('message')}. encode_pairs must return a dict with "
                f"input_ids and attention_mask, one row per pair.",
             fa=f"{call} شکست خورد: {err.get('type')}: {err.get('message')}. encode_pairs باید یک دیکشنری با "
                f"input_ids و attention_mask برگرداند، یک سطر برای هر جفت.")
    ids, mask = record.get("input_ids"), record.get("attention_mask")
    if not isinstance(ids, list) or not isinstance(mask, list) or len(ids) != record.get("n") or len(mask) != len(ids):
        fail(en=f"{call} returned {len(ids) if isinstance(ids, list) else 'no'} rows of input_ids and "
                f"{len(mask) if isinstance(mask, list) else 'no'} of attention_mask for {record.get('n')} pairs.",
             fa=f"{call} برای {record.get('n')} جفت، {len(ids) if isinstance(ids, list) else 'هیچ'} سطر "
                f"input_ids و {len(mask) if isinstance(mask, list) else 'هیچ'} سطر attention_mask برگرداند.")
    rows = []
    for i, (row, m) in enumerate(zip(ids, mask)):
        if not isinstance(row, list) or not isinstance(m, list) or len(row) != len(m):
            fail(en=f"{call}: row {i} has {len(row) if isinstance(row, list) else '?'} ids but "
                    f"{len(m) if isinstance(m, list) else '?'} mask values.",
                 fa=f"{call}: سطر {i} تعداد {len(row) if isinstance(row, list) else '?'} شناسه ولی "
                    f"{len(m) if isinstance(m, list) else '?'} مقدار ماسک دارد.")
        rows.append([t for t, keep in zip(row, m) if keep])
    return rows


def _same_count_or_fail(rows: list, pairs: list, call: str) -> None:
    """One row per pair the grader sent: fewer rows would leave pairs unjudged (a vacuous pass)."""
    if len(rows) != len(pairs) or not pairs:
        fail(en=f"{call} returned {len(rows)} rows for the grader's {len(pairs)} pairs; expected one row per pair, "
                f"in order, so that every pair can be judged.",
             fa=f"{call} برای {len(pairs)} جفت ارزیاب {len(rows)} سطر برگرداند؛ انتظار یک سطر برای هر جفت، به همان "
                f"ترتیب، می‌رفت تا همهٔ جفت‌ها بررسی شوند.")


def _encode_inputs(ctx: CheckContext) -> dict:
    """The pairs the step encoded; prepare_inputs keeps the grader's copy with the held-back data."""
    return ctx.heldback_json(T.HELDBACK_ENCODE)


def _show(tokenizer, ids: list[int], limit: int = 24) -> str:
    tokens = tokenizer.convert_ids_to_tokens(ids[:limit])
    return " ".join(str(t) for t in tokens) + (" …" if len(ids) > limit else "")


@pytest.mark.check("nli.encode_pair")
def test_pairs_are_encoded_as_sentence_pairs(ctx: CheckContext):
    tokenizer = _tokenizer(ctx.profile.nli.model)
    pairs = _encode_inputs(ctx)["short"]
    for name, max_length in (("short_default", None), ("short_profile", ctx.profile.nli.max_length)):
        call = ("encode_pairs(tokenizer, premises, hypotheses)" if max_length is None
                else f"encode_pairs(tokenizer, premises, hypotheses, max_length={max_length})")
        rows = _case(ctx, name, call)
        _same_count_or_fail(rows, pairs, call)
        limit = max_length or DEFAULT_MAX_LENGTH
        judged = 0
        for i, (pair, row) in enumerate(zip(pairs, rows)):
            want = tokenizer(pair["premise"], pair["hypothesis"])["input_ids"]
            if len(want) > limit:
                continue  # needs truncation: judged by nli.encode_truncation
            judged += 1
            if row != want:
                fail(en=f"{call}: pair {i} is not encoded as a sentence pair. Expected the tokenizer's pair "
                        f"encoding tokenizer(premise, hypothesis): [{_show(tokenizer, want)}]; found "
                        f"[{_show(tokenizer, row)}]. Pass premises and hypotheses as two arguments, "
                        f"tokenizer(premises, hypotheses, truncation=True, max_length=max_length), instead of "
                        f"joining them into one string.",
                     fa=f"{call}: جفت {i} به‌صورت جفت‌جمله رمزگذاری نشده است. انتظار رمزگذاری جفتی خود "
                        f"توکنایزر یعنی tokenizer(premise, hypothesis) می‌رفت: [{_show(tokenizer, want)}]؛ اما "
                        f"[{_show(tokenizer, row)}] پیدا شد. مقدمه‌ها و فرضیه‌ها را به‌صورت دو آرگومان جدا بدهید، "
                        f"tokenizer(premises, hypotheses, truncation=True, max_length=max_length)، نه با چسباندن "
                        f"آن‌ها در یک رشته.")
        if not judged:
            fail(en=f"{call}: none of the grader's {len(pairs)} short pairs fits max_length={limit} untruncated, so "
                    f"no pair encoding could be compared.",
                 fa=f"{call}: هیچ‌یک از {len(pairs)} جفت کوتاه ارزیاب بدون برش در max_length={limit} جا نمی‌گیرد، پس "
                    f"هیچ رمزگذاری جفتی مقایسه نشد.")


@pytest.mark.check("nli.encode_truncation")
def test_long_pairs_are_truncated(ctx: CheckContext):
    tokenizer = _tokenizer(ctx.profile.nli.model)
    inputs = _encode_inputs(ctx)
    max_length = inputs["long_max_length"]
    call = f"encode_pairs(tokenizer, premises, hypotheses, max_length={max_length})"
    rows = _case(ctx, "long", call)
    _same_count_or_fail(rows, inputs["long"], call)
    first, last = tokenizer.cls_token_id, tokenizer.sep_token_id
    longest = 0
    for i, (pair, row) in enumerate(zip(inputs["long"], rows)):
        full = len(tokenizer(pair["premise"], pair["hypothesis"])["input_ids"])
        longest = max(longest, full)
        if len(row) > max_length:
            fail(en=f"{call}: pair {i} ({full} tokens untruncated) came back with {len(row)} tokens; expected at "
                    f"most max_length={max_length}. Pass truncation=True and max_length=max_length to the "
                    f"tokenizer.",
                 fa=f"{call}: جفت {i} (بدون برش {full} توکن) با {len(row)} توکن برگشت؛ انتظار حداکثر "
                    f"max_length={max_length} توکن می‌رفت. truncation=True و max_length=max_length را به "
                    f"توکنایزر بدهید.")
        if not row or row[0] != first or row[-1] != last:
            fail(en=f"{call}: pair {i} does not start with {tokenizer.cls_token} and end with "
                    f"{tokenizer.sep_token} after truncation (found [{_show(tokenizer, row)}]). Let the tokenizer "
                    f"truncate (truncation=True) rather than slicing input_ids, which cuts off the closing token.",
                 fa=f"{call}: جفت {i} پس از برش با {tokenizer.cls_token} شروع و با {tokenizer.sep_token} تمام "
                    f"نمی‌شود ([{_show(tokenizer, row)}]). بگذارید توکنایزر برش بزند (truncation=True) به‌جای بریدن "
                    f"input_ids که توکن پایانی را حذف می‌کند.")
    if longest <= max_length:
        fail(en=f"{call}: none of the grader's {len(rows)} long pairs is longer than max_length={max_length} "
                f"untruncated, so truncation was not exercised.",
             fa=f"{call}: هیچ‌یک از {len(rows)} جفت بلند ارزیاب بدون برش از max_length={max_length} بلندتر نیست، پس "
                f"برش آزموده نشد.")

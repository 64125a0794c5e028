"""Checks of training: the per-epoch history, and accuracy on held-back evaluation pairs.

The steps hand ``predict`` evaluation *inputs* only; the labels stay with the
grader (``heldback/nli/eval_labels.npy``). A mode passes when the lower end of
the 95 % Wilson interval of its accuracy (Wilson 1927) clears the profile's
threshold, so an unlucky seed costs nothing while, wherever the reference
measurably learns, a model no better than chance or one predicting a single
label fails (:mod:`grader.checks._thresholds` says where that is and how each
threshold was measured).
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from grader.checks._support import CheckContext, fail
from grader.checks._thresholds import threshold
from grader.oracles.stats import wilson_interval
from grader.tasks import nli as T


def _predictions(ctx: CheckContext, mode: str):
    import numpy as np

    step = f"nli.train_{mode}"
    record = ctx.artifact_json(f"nli/train_{mode}.json", step=step)
    err = record.get("predictions_error") if isinstance(record, dict) else None
    if err:
        fail(en=f"predict after {mode} training did not return label ids: {err.get('message')}. Return a numpy "
                f"array of ints 0 (entailment), 1 (neutral), 2 (contradiction), one per pair.",
             fa=f"predict پس از آموزش در حالت {mode} شناسهٔ برچسب برنگرداند: {err.get('message')}. یک آرایهٔ "
                f"NumPy از اعداد صحیح 0 (استلزام)، 1 (خنثی)، 2 (تناقض)، یکی برای هر جفت برگردانید.")
    labels = ctx.heldback_npy(T.HELDBACK_LABELS)
    preds = np.asarray(ctx.artifact_npz(f"nli/predictions_{mode}.npz", step=step).get("labels", np.zeros(0)))
    if preds.shape != labels.shape:
        fail(en=f"predict after {mode} training returned {preds.shape} label ids for {labels.size} evaluation "
                f"pairs; expected one id per pair, in input order.",
             fa=f"predict پس از آموزش در حالت {mode} برای {labels.size} جفت ارزیابی {preds.shape} شناسه برگرداند؛ "
                f"انتظار یک شناسه برای هر جفت، به همان ترتیب ورودی، می‌رفت.")
    outside = sorted(set(int(v) for v in np.unique(preds)) - {0, 1, 2})
    if outside:
        fail(en=f"predict after {mode} training returned label ids {outside}; ids are 0 entailment, 1 neutral, "
                f"2 contradiction (argmax over the 3 logits).",
             fa=f"predict پس از آموزش در حالت {mode} شناسه‌های {outside} را برگرداند؛ شناسه‌ها 0 استلزام، 1 خنثی "
                f"و 2 تناقض هستند (argmax روی سه logit).")
    return preds, labels


def _accuracy_check(ctx: CheckContext, mode: str) -> None:
    preds, labels = _predictions(ctx, mode)
    n = int(labels.size)
    if n == 0:      # no evidence is no pass; the held-back set is the grader's, so this is its error
        raise ValueError(f"the held-back evaluation labels ({T.HELDBACK_LABELS}) are empty: accuracy cannot be judged")
    correct = int((preds == labels).sum())
    low, high = wilson_interval(correct, n)
    need = threshold(ctx.profile, "nli", mode)
    if low < need:
        counts = Counter(int(v) for v in preds)
        spread = ", ".join(f"{name} {counts.get(i, 0)}" for i, name in enumerate(("entailment", "neutral",
                                                                                    "contradiction")))
        spread_fa = f"استلزام {counts.get(0, 0)}، خنثی {counts.get(1, 0)}، تناقض {counts.get(2, 0)}"
        single = len(counts) == 1
        hint = (" Every prediction is the same label: look for a constant in predict, a collapsed training run "
                "(learning rate far too high) or a frozen head." if single else
                " Check the learning rate, that the right parameters train, and that predict encodes pairs "
                "the way train does.")
        hint_fa = (" همهٔ پیش‌بینی‌ها یک برچسب‌اند: دنبال مقدار ثابت در predict، آموزش فروپاشیده (نرخ یادگیری بسیار "
                   "بزرگ) یا سر منجمد بگردید." if single else
                   " نرخ یادگیری، قابل آموزش بودن پارامترهای درست و یکسان بودن رمزگذاری جفت‌ها در predict و "
                   "train را بررسی کنید.")
        fail(en=f"Expected the {mode} model's held-back accuracy to be convincingly above {need:.2f} (lower end "
                f"of the 95 % Wilson interval ≥ {need:.2f}); found {correct}/{n} = {correct / n:.3f}, interval "
                f"[{low:.3f}, {high:.3f}]. Predicted labels: {spread}.{hint}",
             fa=f"انتظار می‌رفت صحت مدل {mode} روی دادهٔ نگه‌داشته به‌طور قانع‌کننده بالاتر از {need:.2f} باشد "
                f"(کران پایین بازهٔ ویلسون ۹۵٪ ≥ {need:.2f})؛ {correct}/{n} = {correct / n:.3f} با بازهٔ "
                f"[{low:.3f}, {high:.3f}] به دست آمد. برچسب‌های پیش‌بینی‌شده: {spread_fa}.{hint_fa}")


@pytest.mark.check("nli.accuracy_full")
def test_full_accuracy(ctx: CheckContext):
    _accuracy_check(ctx, "full")


@pytest.mark.check("nli.accuracy_freeze")
def test_freeze_accuracy(ctx: CheckContext):
    _accuracy_check(ctx, "freeze")


@pytest.mark.check("nli.accuracy_lora")
def test_lora_accuracy(ctx: CheckContext):
    _accuracy_check(ctx, "lora")


@pytest.mark.check("nli.train_history")
def test_train_returns_one_record_per_epoch(ctx: CheckContext):
    epochs = ctx.profile.nli.epochs
    for mode in T.MODES:
        record = ctx.artifact_json(f"nli/train_{mode}.json", step=f"nli.train_{mode}")
        history = record.get("history") if isinstance(record, dict) else None
        problem = None
        if not isinstance(history, list):
            problem = f"returned {type(history).__name__}, not a list of dicts"
        elif len(history) != epochs:
            problem = f"returned {len(history)} records for epochs={epochs}"
        else:
            for i, entry in enumerate(history, start=1):
                if not isinstance(entry, dict):
                    problem = f"record {i} is {type(entry).__name__}, not a dict"
                    break
                missing = [k for k in ("epoch", "train_loss", "eval_loss", "eval_accuracy") if k not in entry]
                if missing:
                    problem = f"record {i} lacks {', '.join(missing)}"
                    break
                values = [entry[k] for k in ("epoch", "train_loss", "eval_loss", "eval_accuracy")]
                if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                           for v in values):
                    problem = f"record {i} has a non-numeric or non-finite value ({values})"
                    break
                if entry["epoch"] != i or entry["train_loss"] < 0 or entry["eval_loss"] < 0 \
                        or not 0 <= entry["eval_accuracy"] <= 1:
                    problem = (f"record {i} reads epoch={entry['epoch']}, train_loss={entry['train_loss']}, "
                               f"eval_loss={entry['eval_loss']}, eval_accuracy={entry['eval_accuracy']}")
                    break
        if problem:
            fail(en=f"train(...) in {mode} mode {problem}. Expected one dict per epoch, epochs numbered from 1, "
                    f"with finite train_loss ≥ 0, eval_loss ≥ 0 and eval_accuracy in [0, 1].",
                 fa=f"train(...) در حالت {mode}: {problem}. انتظار یک دیکشنری برای هر دوره می‌رفت، با کلید `epoch` که "
                    f"از 1 شماره می‌خورد و مقادیر متناهی train_loss ≥ 0، eval_loss ≥ 0 و eval_accuracy در [0, 1].")

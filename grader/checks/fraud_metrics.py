"""The detector on held-back, untouched test rows: PR-AUC and recall, judged by an interval's lower bound.

The submission's ``FraudDetector`` was trained by the sandbox on the grader's
resampled training part and predicted the test inputs without their labels;
the labels are only here. With few frauds in a test part a point estimate
moves with the seed, so each check compares the *lower* end of a 95 % interval
(a stratified bootstrap for PR-AUC, Wilson's score interval for recall) with
the profile's threshold (:mod:`grader.checks._thresholds`, which says how
the thresholds were measured). A predictor that only ever says "legitimate"
has PR-AUC = base rate and recall 0 and fails both.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks._support import CheckFailed, fail
from grader.checks._thresholds import threshold
from grader.oracles.fraud_metrics import metrics_at, pr_auc_lower_bound
from grader.oracles.stats import wilson_interval

STEP = "fraud.detector"
WHERE_EN = "FraudDetector in submission/fraud.py (fit: scaling with training statistics, the CNN, its training)"
WHERE_FA = "FraudDetector در submission/fraud.py (متد fit(): مقیاس‌بندی با آمار آموزش، CNN و آموزش آن)"


def predictions(ctx) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of the test part; fail when the predictions cannot be scored."""
    proba = np.asarray(ctx.artifact_npz("fraud/detector.npz", step=STEP)["proba"], dtype=np.float64)
    y = np.asarray(ctx.heldback_npy("fraud/test_labels.npy")).astype(np.int64)
    if proba.size != len(y) or not np.all(np.isfinite(proba)):
        raise CheckFailed(f"predict_proba returned {proba.size} values (finite: {bool(np.all(np.isfinite(proba)))}) "
                          f"for {len(y)} test rows; the metric cannot be computed. Look at {WHERE_EN}.",
                          f"predict_proba برای {len(y)} سطر آزمون {proba.size} مقدار برگرداند؛ معیار قابل "
                          f"محاسبه نیست. {WHERE_FA} را بررسی کنید.")
    return y, proba.reshape(-1)


@pytest.mark.check("fraud.proba_contract")
def test_predict_proba_contract(ctx):
    """predict_proba(X) returns one probability in [0, 1] per row, shape (n,)."""
    proba = np.asarray(ctx.artifact_npz("fraud/detector.npz", step=STEP)["proba"])
    n = len(ctx.heldback_npy("fraud/test_labels.npy"))
    finite = bool(np.all(np.isfinite(proba)))
    in_range = finite and proba.size > 0 and float(proba.min()) >= 0.0 and float(proba.max()) <= 1.0
    if proba.shape != (n,) or not in_range:
        fail(en=f"Expected predict_proba(X) to return shape ({n},) with probabilities in [0, 1]; found shape "
                f"{proba.shape}" + ("" if finite else " with NaN/inf") +
                ("" if not finite or in_range else f" with values in [{proba.min():.3g}, {proba.max():.3g}]") +
                f". Return model.predict(X).ravel() of the sigmoid output. Look at {WHERE_EN}.",
             fa=f"انتظار می‌رفت predict_proba(X) آرایه‌ای با شکل ({n},) و احتمال‌هایی در [0, 1] برگرداند؛ "
                f"شکل {proba.shape} به دست آمد. خروجی sigmoid را با ravel() برگردانید. {WHERE_FA} را بررسی کنید.")


@pytest.mark.check("fraud.pr_auc")
def test_pr_auc_above_threshold(ctx):
    """The bootstrap lower bound of the held-back PR-AUC (average precision) reaches the profile's threshold."""
    from sklearn.metrics import average_precision_score

    y, p = predictions(ctx)
    need = threshold(ctx.profile, "fraud", "pr_auc")
    point = float(average_precision_score(y, p))
    lower = pr_auc_lower_bound(y, p)
    if lower < need:
        fail(en=f"Expected the held-back PR-AUC's 95 % lower bound to reach {need:.3f} (profile "
                f"{ctx.profile.name}); found PR-AUC {point:.3f} with lower bound {lower:.3f} (base rate "
                f"{y.mean():.4f}, {int(y.sum())} frauds in {len(y)} rows). Look at {WHERE_EN}.",
             fa=f"انتظار می‌رفت حد پایین بازهٔ ۹۵٪ PR-AUC روی داده‌های نگه‌داشته به {need:.3f} برسد "
                f"(پروفایل {ctx.profile.name})؛ PR-AUC برابر {point:.3f} با حد پایین {lower:.3f} به دست آمد "
                f"(نرخ پایه {y.mean():.4f}). {WHERE_FA} را بررسی کنید.")


@pytest.mark.check("fraud.recall")
def test_recall_above_threshold(ctx):
    """Wilson's lower bound of the recall at threshold 0.5 reaches the profile's threshold."""
    y, p = predictions(ctx)
    need = threshold(ctx.profile, "fraud", "recall")
    at = metrics_at(y, p, 0.5)
    tp = at["confusion_matrix"][1][1]
    positives = int(y.sum())
    if positives == 0:      # no evidence is no pass; the held-back labels are the grader's, so this is its error
        raise ValueError("the held-back test labels (fraud/test_labels.npy) hold no fraud: recall cannot be judged")
    lower = wilson_interval(tp, positives)[0]
    if lower < need:
        fail(en=f"Expected the recall at 0.5 to have a 95 % Wilson lower bound of at least {need:.3f} (profile "
                f"{ctx.profile.name}); found recall {at['recall']:.3f} ({tp} of {positives} frauds caught, "
                f"lower bound {lower:.3f}). A model that predicts 'legitimate' for everything catches none. "
                f"Look at {WHERE_EN}.",
             fa=f"انتظار می‌رفت حد پایین ویلسون (۹۵٪) بازیابی در آستانهٔ 0.5 دست‌کم {need:.3f} باشد "
                f"(پروفایل {ctx.profile.name})؛ بازیابی {at['recall']:.3f} ({tp} از {positives} تقلب، حد پایین "
                f"{lower:.3f}) به دست آمد. مدلی که همه را «سالم» پیش‌بینی کند هیچ تقلبی را نمی‌گیرد. "
                f"{WHERE_FA} را بررسی کنید.")

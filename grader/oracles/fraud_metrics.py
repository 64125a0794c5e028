"""The fraud metric set: what the report shows and the checks compare, computed once.

With 0.17 % frauds accuracy is meaningless (predicting "no fraud" scores 99.8 %),
so the headline is the area under the precision-recall curve, computed as
scikit-learn's ``average_precision_score`` (the step-wise sum, no trapezoidal
interpolation, which would be optimistic; Davis & Goadrich 2006 §4). The base rate
is what a random classifier's PR-AUC would be, shown beside it.
"""

from __future__ import annotations

import numpy as np

PR_CURVE_MAX_POINTS = 200
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 0


def _validate(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    if y.ndim != 1 or p.ndim != 1:
        raise ValueError(f"fraud_metrics: y_true and proba must be 1-D, got shapes {y.shape} and {p.shape}")
    if len(y) != len(p):
        raise ValueError(f"fraud_metrics: {len(y)} labels but {len(p)} probabilities; one per test row is needed")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"fraud_metrics: y_true must hold 0/1 labels, got values {np.unique(y)[:5].tolist()}")
    y = y.astype(np.int64)
    if y.min() == y.max():
        raise ValueError("fraud_metrics: y_true holds only one class; PR-AUC and ROC-AUC need frauds and non-frauds")
    if not np.isfinite(p).all():
        raise ValueError("fraud_metrics: proba contains NaN or infinite values")
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError(
            f"fraud_metrics: proba must be probabilities in [0, 1], got range [{p.min():.4g}, {p.max():.4g}]"
        )
    return y, p


def downsample_curve(precision: np.ndarray, recall: np.ndarray, max_points: int = PR_CURVE_MAX_POINTS) -> dict:
    """At most ``max_points`` evenly spaced points of the curve, both end points kept."""
    n = len(precision)
    if n <= max_points:
        index = np.arange(n)
    else:
        index = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return {"precision": [float(v) for v in precision[index]], "recall": [float(v) for v in recall[index]]}


def metrics_at(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    """Precision, recall, F1 and the 2×2 confusion matrix of ``p >= threshold``.

    ``confusion_matrix[i][j]``: true class i predicted as j (0 legitimate, 1 fraud).
    Precision is 0 when nothing is flagged (scikit-learn's ``zero_division=0``).
    """
    pred = (p >= threshold).astype(np.int64)
    tp = int(np.sum((pred == 1) & (y == 1)))
    fp = int(np.sum((pred == 1) & (y == 0)))
    fn = int(np.sum((pred == 0) & (y == 1)))
    tn = int(np.sum((pred == 0) & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": float(threshold), "precision": float(precision), "recall": float(recall),
            "f1": float(f1), "confusion_matrix": [[tn, fp], [fn, tp]]}


def fraud_metrics(y_true, proba) -> dict:
    """The ``correct`` / ``leaky`` block of ``fraud.json`` (docs/CONTRACTS.md).

    ``best_f1`` picks, among the thresholds of ``precision_recall_curve``, the one
    with the highest F1 (the lowest such threshold on ties); it is chosen on the
    test set itself, so it is an optimistic upper bound, reported as such.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    y, p = _validate(y_true, proba)
    precision, recall, thresholds = precision_recall_curve(y, p)
    # The last curve point (precision 1, recall 0) has no threshold.
    p_t, r_t = precision[:-1], recall[:-1]
    denom = p_t + r_t
    f1 = np.divide(2 * p_t * r_t, denom, out=np.zeros_like(denom), where=denom > 0)
    best = int(np.argmax(f1))
    return {
        "pr_auc": float(average_precision_score(y, p)),
        "roc_auc": float(roc_auc_score(y, p)),
        "base_rate": float(y.mean()),
        "pr_curve": downsample_curve(precision, recall),
        "at_0.5": metrics_at(y, p, 0.5),
        "best_f1": metrics_at(y, p, float(thresholds[best])),
    }


def pr_auc_lower_bound(y: np.ndarray, p: np.ndarray, *, samples: int = BOOTSTRAP_SAMPLES,
                       seed: int = BOOTSTRAP_SEED, alpha: float = 0.05) -> float:
    """Lower end of a ``1 - alpha`` interval of PR-AUC: the ``alpha / 2`` quantile of average precision over
    class-stratified bootstrap resamples of the test set (each class resampled with replacement at its own
    size, so every resample keeps the base rate; Efron & Tibshirani 1993, §13.3 percentile interval)."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    values = np.empty(samples)
    for b in range(samples):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        values[b] = average_precision_score(y[idx], p[idx])
    return float(np.quantile(values, alpha / 2))

"""The fraud metric oracle on an example small enough to check by hand."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from grader.oracles.fraud_metrics import PR_CURVE_MAX_POINTS, downsample_curve, fraud_metrics, metrics_at

# Six rows, three frauds. Sorted by score: 0.9(1) 0.8(1) 0.6(0) 0.4(0) 0.35(1) 0.1(0).
Y = np.array([0, 0, 1, 1, 0, 1])
P = np.array([0.1, 0.4, 0.35, 0.8, 0.6, 0.9])


def test_hand_checked_example():
    m = fraud_metrics(Y, P)
    # AP = mean precision at each fraud's rank = (1/1 + 2/2 + 3/5) / 3.
    assert m["pr_auc"] == pytest.approx((1 + 1 + 0.6) / 3)
    # ROC-AUC = fraction of (fraud, legit) pairs ranked right: 0.35 beats only 0.1 -> (1 + 3 + 3) / 9.
    assert m["roc_auc"] == pytest.approx(7 / 9)
    assert m["base_rate"] == 0.5
    # At 0.5: flagged 0.9, 0.8 (frauds) and 0.6 (legit); missed 0.35.
    assert m["at_0.5"] == {"threshold": 0.5, "precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3),
                           "f1": pytest.approx(2 / 3), "confusion_matrix": [[2, 1], [1, 2]]}
    # F1 per threshold: 0.9 -> 0.5, 0.8 -> 0.8, 0.6 -> 2/3, 0.4 -> 4/7, 0.35 -> 0.75, 0.1 -> 2/3.
    assert m["best_f1"] == {"threshold": 0.8, "precision": 1.0, "recall": pytest.approx(2 / 3),
                            "f1": pytest.approx(0.8), "confusion_matrix": [[3, 0], [1, 2]]}
    assert set(m) == {"pr_auc", "roc_auc", "base_rate", "pr_curve", "at_0.5", "best_f1"}


def test_pr_curve_of_small_input_is_kept_whole():
    curve = fraud_metrics(Y, P)["pr_curve"]
    # precision_recall_curve: one point per distinct threshold (6) plus the (recall 0, precision 1) end.
    assert curve["recall"] == pytest.approx([1, 1, 2 / 3, 2 / 3, 2 / 3, 1 / 3, 0])
    assert curve["precision"] == pytest.approx([0.5, 0.6, 0.5, 2 / 3, 1, 1, 1])


def test_pr_curve_is_downsampled_keeping_its_ends():
    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.05).astype(int)
    p = np.clip(rng.random(5000) * 0.7 + 0.3 * y, 0, 1)
    curve = fraud_metrics(y, p)["pr_curve"]
    assert 150 <= len(curve["recall"]) <= PR_CURVE_MAX_POINTS
    assert curve["recall"][0] == 1.0 and curve["recall"][-1] == 0.0
    assert curve["precision"][-1] == 1.0
    assert np.all(np.diff(curve["recall"]) <= 0)  # recall never increases along the curve
    assert fraud_metrics(y, p)["pr_auc"] == pytest.approx(average_precision_score(y, p))


def test_downsample_keeps_exact_points():
    precision, recall = np.linspace(0, 1, 1001), np.linspace(1, 0, 1001)
    curve = downsample_curve(precision, recall, max_points=11)
    assert curve["precision"] == pytest.approx([i / 10 for i in range(11)])


def test_nothing_flagged_gives_zero_precision_not_nan():
    m = metrics_at(np.array([0, 1, 0]), np.array([0.1, 0.2, 0.3]), 0.5)
    assert m == {"threshold": 0.5, "precision": 0.0, "recall": 0.0, "f1": 0.0, "confusion_matrix": [[2, 0], [1, 0]]}


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1, 1], [0.1, 0.2], "3 labels but 2 probabilities"),
        ([0, 2, 1], [0.1, 0.2, 0.3], "0/1 labels"),
        ([0, 0, 0], [0.1, 0.2, 0.3], "only one class"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "NaN or infinite"),
        ([0, 1, 1], [0.1, 1.5, 0.3], r"probabilities in \[0, 1\]"),
        ([[0, 1]], [[0.1, 0.2]], "must be 1-D"),
    ],
)
def test_bad_input_names_the_problem(y, p, message):
    with pytest.raises(ValueError, match=message):
        fraud_metrics(y, p)

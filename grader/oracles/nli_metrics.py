"""Metrics of a 3-way NLI classifier, shared by the reference experiment and the grader.

The keys are those of ``nli_<mode>.json`` (docs/CONTRACTS.md). scikit-learn
computes every number; this module only fixes the label order (GLUE: 0
entailment, 1 neutral, 2 contradiction) so that a class absent from the
predictions still gets its row, column and zero scores instead of vanishing.
"""

from __future__ import annotations

import numpy as np

from grader.errors import DataError
from grader.homework import NLI_LABELS as LABELS  # tests/test_nli_metrics.py imports LABELS here


def _labels_array(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"{name} must be a 1-D sequence of label ids, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.mod(array, 1) == 0):
            raise DataError(f"{name} must hold integer label ids 0, 1, 2; got dtype {array.dtype}")
        array = array.astype(np.int64)
    bad = array[(array < 0) | (array >= len(LABELS))] if array.size else array
    if bad.size:
        raise DataError(f"{name} holds label id {int(bad[0])}; ids are 0 entailment, 1 neutral, 2 contradiction")
    return array.astype(np.int64)


def nli_metrics(y_true, y_pred) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    ``confusion_matrix[i][j]`` counts true label ``i`` predicted as ``j``.
    Precision of a class never predicted is 0 (``zero_division=0``), as an
    all-"entailment" predictor should score on the other two classes.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    y_true = _labels_array(y_true, "y_true")
    y_pred = _labels_array(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise DataError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}: pass one prediction per example")
    if y_true.size == 0:
        raise DataError("no examples: y_true and y_pred are empty")
    ids = list(range(len(LABELS)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(LABELS)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }

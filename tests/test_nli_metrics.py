"""nli_metrics on examples small enough to check by hand."""

import numpy as np
import pytest

from grader.errors import DataError
from grader.oracles.nli_metrics import LABELS, nli_metrics


def test_hand_checked_example():
    # true 0 0 0 1 1 2 / predicted 0 0 1 1 2 2:
    # entailment P 2/2 R 2/3 F1 0.8; neutral P 1/2 R 1/2 F1 0.5; contradiction P 1/2 R 1/1 F1 2/3.
    m = nli_metrics([0, 0, 0, 1, 1, 2], np.array([0, 0, 1, 1, 2, 2]))
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert m["per_class"]["entailment"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["per_class"]["neutral"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["contradiction"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert list(m["per_class"]) == list(LABELS)


def test_class_never_predicted_keeps_its_row_with_zero_scores():
    m = nli_metrics([0, 1, 2], [0, 0, 0])
    assert m["confusion_matrix"] == [[1, 0, 0], [1, 0, 0], [1, 0, 0]]
    assert m["per_class"]["neutral"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_class"]["entailment"]["precision"] == pytest.approx(1 / 3)
    assert m["macro_f1"] == pytest.approx(0.5 / 3)


def test_values_are_plain_python_types_for_json():
    m = nli_metrics(np.array([2, 2]), np.array([2.0, 1.0]))
    assert type(m["accuracy"]) is float and type(m["per_class"]["contradiction"]["support"]) is int
    assert all(type(v) is int for row in m["confusion_matrix"] for v in row)


@pytest.mark.parametrize(("y_true", "y_pred", "message"), [
    ([0, 1], [0], "y_true has 2 labels but y_pred has 1"),
    ([0, 3], [0, 1], "y_true holds label id 3"),
    ([0, 1], [0, -1], "y_pred holds label id -1"),
    ([0, 1], [0.5, 1.0], "integer label ids"),
    ([[0, 1]], [[0, 1]], "1-D sequence"),
    ([], [], "no examples"),
])
def test_bad_input_names_the_problem(y_true, y_pred, message):
    with pytest.raises(DataError, match=message):
        nli_metrics(y_true, y_pred)

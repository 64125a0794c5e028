"""The trusted summary turns artifacts + held-back labels into the report's results JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grader.profiles import get_profile
from grader.summary import fraud_summary, nli_summary, write_summaries

PROFILE = get_profile("smoke")


def _nli_run(tmp: Path, predictions) -> tuple[Path, Path]:
    art, held = tmp / "artifacts", tmp / "heldback"
    (art / "nli").mkdir(parents=True)
    (held / "nli").mkdir(parents=True)
    np.save(held / "nli" / "eval_labels.npy", np.array([0, 1, 2, 0, 1, 2]), allow_pickle=False)
    record = {"params": [["encoder.w", [10, 4], False], ["classifier.w", [3, 4], True], ["classifier.b", [3], True]],
              "history": [{"epoch": 1, "train_loss": 1.1, "eval_loss": 1.0, "eval_accuracy": 0.5},
                          {"epoch": 2, "train_loss": float("nan"), "eval_loss": "x"}],
              "train_s": 2.5, "examples_per_s": 40.0, "peak_memory_mb": 300.0, "n_train": 50}
    (art / "nli" / "train_freeze.json").write_text(json.dumps(record))
    if predictions is not None:
        np.savez(art / "nli" / "predictions_freeze.npz", labels=np.asarray(predictions))
    return art, held


def test_nli_summary_scores_predictions_against_held_back_labels(tmp_path: Path):
    art, held = _nli_run(tmp_path, [0, 1, 2, 0, 2, 2])
    s = nli_summary(art, held, PROFILE, "freeze")
    assert s["accuracy"] == pytest.approx(5 / 6)
    assert s["confusion_matrix"] == [[2, 0, 0], [0, 1, 1], [0, 0, 2]]
    # Counted by the grader from the parameter records: 12 + 3 trainable of 55.
    assert (s["trainable_params"], s["total_params"]) == (15, 55)
    assert s["trainable_percent"] == pytest.approx(100 * 15 / 55)
    # Non-finite and non-numeric history values are dropped, never passed on.
    assert s["history"] == [{"epoch": 1, "train_loss": 1.1, "eval_loss": 1.0, "eval_accuracy": 0.5}, {"epoch": 2}]
    assert (s["train_time_s"], s["n_eval"]) == (2.5, 6)


@pytest.mark.parametrize("predictions", [None, [0, 1, 2], [0, 1, 2, 0, 1, 7]])
def test_nli_summary_without_usable_predictions_has_no_metrics(tmp_path: Path, predictions):
    art, held = _nli_run(tmp_path, predictions)
    s = nli_summary(art, held, PROFILE, "freeze")
    assert "accuracy" not in s
    assert "no accuracy could be computed" in s["metrics_note"]


def test_fraud_summary_and_writer(tmp_path: Path):
    art, held = tmp_path / "artifacts", tmp_path / "heldback"
    (art / "fraud").mkdir(parents=True)
    (held / "fraud").mkdir(parents=True)
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    np.save(held / "fraud" / "test_labels.npy", y, allow_pickle=False)
    np.savez(art / "fraud" / "detector.npz", proba=np.array([0.1, 0.2, 0.1, 0.3, 0.2, 0.7, 0.9, 0.6]))
    (art / "fraud" / "detector.json").write_text(json.dumps(
        {"history": {"loss": [0.5, 0.4]}, "times": {"train_s": 3.0, "predict_s": 0.1}}))
    counts = {"0": 6, "1": 2}
    (held / "fraud" / "detector_meta.json").write_text(json.dumps(
        {"class_counts": {"original": counts, "train_before": counts, "train_after": counts, "test": counts},
         "adasyn": {"d": 0.33, "G": 4, "r": [0.2, 0.4], "k": 5, "beta": 1.0}}))
    s = fraud_summary(art, held, PROFILE)
    # Ranking: one legitimate row (0.7) outranks one fraud (0.6): AP = (1 + 2/3) / 2.
    assert s["correct"]["pr_auc"] == pytest.approx(5 / 6)
    assert s["adasyn"]["r"] == [0.2, 0.4]
    assert s["leaky"] is None
    written = write_summaries(art, held, PROFILE, tmp_path / "summary")
    assert [p.name for p in written] == ["fraud.json"]

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


def _fraud_run(tmp: Path, history, save=np.savez) -> tuple[Path, Path]:
    art, held = tmp / "artifacts", tmp / "heldback"
    (art / "fraud").mkdir(parents=True)
    (held / "fraud").mkdir(parents=True)
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    np.save(held / "fraud" / "test_labels.npy", y, allow_pickle=False)
    save(art / "fraud" / "detector.npz", proba=np.array([0.1, 0.2, 0.1, 0.3, 0.2, 0.7, 0.9, 0.6]))
    (art / "fraud" / "detector.json").write_text(json.dumps(
        {"history": history, "times": {"train_s": 3.0, "predict_s": 0.1}}))
    counts = {"0": 6, "1": 2}
    (held / "fraud" / "detector_meta.json").write_text(json.dumps(
        {"class_counts": {"original": counts, "train_before": counts, "train_after": counts, "test": counts},
         "adasyn": {"d": 0.33, "G": 4, "r": [0.2, 0.4], "k": 5, "beta": 1.0}}))
    return art, held


def test_fraud_summary_and_writer(tmp_path: Path):
    art, held = _fraud_run(tmp_path, {"loss": [0.5, 0.4]})
    s = fraud_summary(art, held, PROFILE)
    assert s["history"] == {"loss": [0.5, 0.4]} and "history_malformed" not in s
    # Ranking: one legitimate row (0.7) outranks one fraud (0.6): AP = (1 + 2/3) / 2.
    assert s["correct"]["pr_auc"] == pytest.approx(5 / 6)
    assert s["adasyn"]["r"] == [0.2, 0.4]
    assert s["leaky"] is None
    written = write_summaries(art, held, PROFILE, tmp_path / "summary")
    assert [p.name for p in written] == ["fraud.json"]


def test_a_five_million_point_keras_history_is_cut_to_the_epochs_and_flagged(tmp_path: Path):
    history = {"loss": [0.5] * 5_000_000, "val_loss": [0.25, 0.5], "auc": ["x", 1], "note": "text"}
    art, held = _fraud_run(tmp_path, history)
    s = fraud_summary(art, held, PROFILE)                # smoke: fraud.epochs == 2
    assert s["history"] == {"loss": [0.5, 0.5], "val_loss": [0.25, 0.5]}   # non-numeric lists dropped
    assert s["history_malformed"] == {"found": 5_000_000, "kept": 2}
    written = write_summaries(art, held, PROFILE, tmp_path / "summary")
    assert written[0].stat().st_size < 10_000


def test_a_five_million_point_nli_history_is_cut_to_the_epochs_and_flagged(tmp_path: Path):
    art, held = _nli_run(tmp_path, [0, 1, 2, 0, 2, 2])
    record = json.loads((art / "nli" / "train_freeze.json").read_text())
    record["history"] = [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.4}] + [0] * 4_999_998
    (art / "nli" / "train_freeze.json").write_text(json.dumps(record, separators=(",", ":")))
    s = nli_summary(art, held, PROFILE, "freeze")        # smoke: nli.epochs == 2
    assert s["history"] == [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.4}]
    assert s["history_malformed"] == {"found": 5_000_000, "kept": 2}
    assert s["accuracy"] == pytest.approx(5 / 6)


def test_too_many_history_names_are_cut_and_flagged():
    from grader.summary import MAX_HISTORY_KEYS, cap_history

    history = {f"m{i}": [1.0] for i in range(MAX_HISTORY_KEYS + 8)}
    capped, flag = cap_history(history, 4)
    assert list(capped) == [f"m{i}" for i in range(MAX_HISTORY_KEYS)]
    assert flag == {"found": 1, "kept": 4, "keys": MAX_HISTORY_KEYS + 8}
    assert cap_history([1, 2], 4) == ([1, 2], None) and cap_history("x", 4) == ("x", None)


def test_hostile_artifacts_are_left_out_not_a_crash(tmp_path: Path):
    art, held = _fraud_run(tmp_path, {"loss": [0.5]}, save=np.savez_compressed)
    s = fraud_summary(art, held, PROFILE)
    assert s["correct"] is None and "no PR-AUC could be computed" in s["metrics_note"]
    (art / "fraud" / "detector.json").write_text("[" * 200_000 + "]" * 200_000)
    assert fraud_summary(art, held, PROFILE) is None
    assert write_summaries(art, held, PROFILE, tmp_path / "summary") == []

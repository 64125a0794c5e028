"""Trusted summary of a graded run: artifacts + held-back labels → results JSON.

The experiments (``grader experiments``, :mod:`grader.experiments`) and a graded
submission produce the same files (``nli_<mode>.json``, ``fraud.json``, see
docs/CONTRACTS.md), so one report builder serves both. Here every number that
needs a label is computed on the trusted side from the held-back labels; the
artifacts contribute only what the untrusted run may honestly report
(predictions, histories, timings, parameter records). Anything malformed is
left out with a note, never guessed.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np

from grader.homework import NLI_MODES
from grader.results.safe_io import read_json, read_npz

MAX_HISTORY_KEYS = 32
"""Metric names kept from a Keras history (loss, val_loss and a few metrics are all a run records)."""


def _read_json(path: Path):
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def _read_npz_array(path: Path, key: str) -> np.ndarray | None:
    try:
        return read_npz(path, [key])[key]
    except (OSError, KeyError, ValueError):
        return None


def cap_history(history, epochs: int):
    """``(history cut to epochs entries, None)``, or ``(cut history, flag)`` when it was longer.

    A run trains for the profile's ``epochs``, so a longer history is malformed, and copying it
    whole let one artifact blow up the summary and the report (5 million points: a 116 MB summary,
    a 45 s report). Takes a per-epoch list (NLI) or a dict of per-epoch lists (Keras ``history_``,
    at most MAX_HISTORY_KEYS names); anything else is returned unchanged for the caller to drop.
    The flag, ``{"found": longest length, "kept": epochs}`` (plus ``"keys"`` when names were
    dropped), is what the summary records as ``history_malformed`` and the report shows.
    """
    if isinstance(history, list):
        if len(history) <= epochs:
            return history, None
        return history[:epochs], {"found": len(history), "kept": epochs}
    if not isinstance(history, dict):
        return history, None
    capped = {key: value[:epochs] if isinstance(value, list) else value
              for key, value in itertools.islice(history.items(), MAX_HISTORY_KEYS)}
    longest = max((len(v) for v in history.values() if isinstance(v, list)), default=0)
    flag = {"found": longest, "kept": epochs} if longest > epochs else None
    if len(history) > MAX_HISTORY_KEYS:
        flag = {"found": longest, "kept": epochs, "keys": len(history)}
    return capped, flag


def _keras_history(history) -> dict[str, list[float]]:
    """Keep the metric lists made only of numbers (as floats); drop anything else."""
    kept: dict[str, list[float]] = {}
    for key, values in history.items() if isinstance(history, dict) else ():
        if not isinstance(values, list):
            continue
        try:
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                kept[str(key)[:64]] = [float(v) for v in values]
        except OverflowError:      # an integer too large for a float
            continue
    return kept


def _finite_history(history) -> list[dict]:
    """Keep the per-epoch dicts whose numbers are finite floats; drop anything else."""
    rows = []
    if not isinstance(history, list):
        return rows
    for i, item in enumerate(history, start=1):
        if not isinstance(item, dict):
            continue
        row = {"epoch": i}
        for key in ("epoch", "train_loss", "eval_loss", "eval_accuracy"):
            value = item.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                row[key] = float(value) if key != "epoch" else value
        rows.append(row)
    return rows


def nli_summary(artifacts: Path, heldback: Path, profile, mode: str) -> dict | None:
    """``nli_<mode>.json`` for one trained mode, or None when the run left nothing usable."""
    from grader.oracles.nli_metrics import nli_metrics
    from grader.tasks.nli import HELDBACK_LABELS, count_from_records

    record = _read_json(artifacts / "nli" / f"train_{mode}.json")
    labels = _read_npz_array(artifacts / "nli" / f"predictions_{mode}.npz", "labels")
    if not isinstance(record, dict):
        return None
    summary: dict = {"task": "nli", "mode": mode, "profile": profile.to_dict(), "model": profile.nli.model}
    try:
        trainable, total = count_from_records(record.get("params") or [])
    except (TypeError, ValueError):
        trainable = total = 0
    summary.update(trainable_params=trainable, total_params=total,
                   trainable_percent=100.0 * trainable / total if total else 0.0)
    y_true = np.load(heldback / HELDBACK_LABELS, allow_pickle=False)
    if labels is not None and labels.shape == y_true.shape and np.all((labels >= 0) & (labels <= 2)):
        summary.update(nli_metrics(y_true, labels))
    else:
        summary["metrics_note"] = "predictions missing or malformed: no accuracy could be computed"
    history, malformed = cap_history(record.get("history"), profile.nli.epochs)
    summary["history"] = _finite_history(history)
    if malformed:
        summary["history_malformed"] = malformed
    for key, source in (("train_time_s", "train_s"), ("examples_per_s", "examples_per_s"),
                        ("peak_memory_mb", "peak_memory_mb")):
        value = record.get(source)
        summary[key] = float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
    summary["n_train"] = int(record.get("n_train") or 0)
    summary["n_eval"] = int(y_true.size)
    return summary


def fraud_summary(artifacts: Path, heldback: Path, profile) -> dict | None:
    """``fraud.json`` for the graded detector (``no_resampling`` and ``leaky`` are null: only the
    experiments measure them)."""
    from grader.oracles.fraud_metrics import fraud_metrics

    meta = _read_json(heldback / "fraud" / "detector_meta.json")
    record = _read_json(artifacts / "fraud" / "detector.json")
    proba = _read_npz_array(artifacts / "fraud" / "detector.npz", "proba")
    if not isinstance(meta, dict) or not isinstance(record, dict):
        return None
    y_test = np.load(heldback / "fraud" / "test_labels.npy", allow_pickle=False)
    summary: dict = {"task": "fraud", "profile": profile.to_dict(), "class_counts": meta["class_counts"]}

    # The trusted inputs recorded d, G and r of the detector's training part (grader/tasks/fraud.py).
    adasyn = meta.get("adasyn") if isinstance(meta.get("adasyn"), dict) else {}
    summary["adasyn"] = {key: adasyn.get(key) for key in ("d", "G", "r", "k", "beta")}
    summary["adasyn"]["r"] = adasyn.get("r") or []
    history, malformed = cap_history(record.get("history"), profile.fraud.epochs)
    summary["history"] = _keras_history(history)
    if malformed:
        summary["history_malformed"] = malformed
    if proba is not None and proba.shape == y_test.shape and np.all(np.isfinite(proba)):
        summary["correct"] = fraud_metrics(y_test, np.clip(proba, 0.0, 1.0))
    else:
        summary["correct"] = None
        summary["metrics_note"] = "predict_proba output missing or malformed: no PR-AUC could be computed"
    summary["no_resampling"] = None     # the other two arms are measured by `grader experiments` only
    summary["leaky"] = None
    times = record.get("times") if isinstance(record.get("times"), dict) else {}
    summary["times"] = {"train_s": times.get("train_s"), "predict_s": times.get("predict_s")}
    return summary


def write_summaries(artifacts: Path, heldback: Path, profile, out: Path) -> list[Path]:
    """Write every summary the run allows into ``out``; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for mode in NLI_MODES:
        if (heldback / "nli").is_dir():
            data = nli_summary(artifacts, heldback, profile, mode)
            if data is not None:
                path = out / f"nli_{mode}.json"
                path.write_text(json.dumps(data, indent=1), encoding="utf-8")
                written.append(path)
    if (heldback / "fraud").is_dir():
        data = fraud_summary(artifacts, heldback, profile)
        if data is not None:
            path = out / "fraud.json"
            path.write_text(json.dumps(data, indent=1), encoding="utf-8")
            written.append(path)
    return written

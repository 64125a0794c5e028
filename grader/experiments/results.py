"""The results JSON of docs/CONTRACTS.md from what the sandboxed parts wrote (trusted side).

Every metric is computed here, by the oracles, from the predictions and the
labels: the NLI labels are the trusted side's own copy; the fraud test labels
come from the part (the submission's own split decides the test rows). What a
part reports about itself (counts, history, times) is read with the capped
readers of :mod:`grader.results.safe_io` and kept only when it has the
expected shape; anything malformed is left out, never guessed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from grader.results.safe_io import read_json, read_npz
from grader.summary import _finite_history, _keras_history, cap_history

ARTIFACTS = "experiments"
"""The parts' artifacts folder, relative to the artifacts root."""


class PartResultError(ValueError):
    """A part ended normally but left results that cannot be used; the message says which."""


def _record(art: Path, stem: str) -> dict:
    try:
        data = read_json(art / ARTIFACTS / f"{stem}.json")
    except (OSError, ValueError) as err:
        raise PartResultError(f"{stem}.json is missing or malformed ({str(err)[:200]})") from None
    if not isinstance(data, dict):
        raise PartResultError(f"{stem}.json is not a JSON object")
    return data


def _arrays(art: Path, stem: str, keys: list[str]) -> dict:
    try:
        return read_npz(art / ARTIFACTS / f"{stem}.npz", keys)
    except (OSError, KeyError, ValueError) as err:
        raise PartResultError(f"{stem}.npz is missing or malformed ({str(err)[:200]})") from None


def _number(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _counts(value) -> dict | None:
    """``{"0": n, "1": n}`` of non-negative ints, or None."""
    if not isinstance(value, dict):
        return None
    out = {}
    for key in ("0", "1"):
        v = value.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            return None
        out[key] = v
    return out


def nli_result(art: Path, profile, mode: str, labels: np.ndarray) -> dict:
    """``nli_<mode>.json`` of one trained mode (raises :class:`PartResultError`)."""
    from grader.oracles.nli_metrics import nli_metrics

    stem = f"nli_{mode}"
    record = _record(art, stem)
    predicted = _arrays(art, stem, ["labels"])["labels"]
    if predicted.shape != labels.shape or predicted.dtype.kind not in "iu" or not np.all(
            (predicted >= 0) & (predicted <= 2)):
        raise PartResultError(f"predict returned {predicted.shape} values ({predicted.dtype}), expected "
                              f"{labels.shape[0]} label ids in 0..2")
    trainable, total = record.get("trainable_params"), record.get("total_params")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (trainable, total)) or not total:
        raise PartResultError(f"{stem}.json holds no parameter counts")
    result = {"task": "nli", "mode": mode, "profile": profile.to_dict(), "model": profile.nli.model,
              "trainable_params": trainable, "total_params": total,
              "trainable_percent": 100.0 * trainable / total}
    result.update(nli_metrics(labels, predicted))
    history, malformed = cap_history(record.get("history"), profile.nli.epochs)
    result["history"] = _finite_history(history)
    if malformed:
        result["history_malformed"] = malformed
    for key in ("train_time_s", "examples_per_s", "peak_memory_mb"):
        result[key] = _number(record.get(key))
    result["n_train"] = int(_number(record.get("n_train")) or 0)
    result["n_eval"] = int(labels.size)
    return result


def fraud_arm(art: Path, arm: str) -> dict:
    """One arm: ``{"metrics", "record"}`` (raises :class:`PartResultError`)."""
    from grader.oracles.fraud_metrics import fraud_metrics

    stem = f"fraud_{arm}"
    record = _record(art, stem)
    arrays = _arrays(art, stem, ["y_test", "proba"])
    y_test, proba = arrays["y_test"], arrays["proba"]
    if (y_test.ndim != 1 or proba.shape != y_test.shape or y_test.dtype.kind not in "iu"
            or not np.all((y_test == 0) | (y_test == 1)) or proba.dtype.kind != "f" or not np.all(np.isfinite(proba))):
        raise PartResultError(f"{stem}.npz: expected matching 1-D test labels (0/1) and finite probabilities, "
                              f"got {y_test.shape} {y_test.dtype} and {proba.shape} {proba.dtype}")
    if len(np.unique(y_test)) < 2:
        raise PartResultError(f"{stem}: the test set holds one class only; PR-AUC needs both")
    test = record.get("test") if isinstance(record.get("test"), dict) else {}
    rows, synthetic = test.get("rows"), test.get("synthetic_rows")
    if rows != int(y_test.size) or not isinstance(synthetic, int) or not 0 <= synthetic <= rows:
        raise PartResultError(f"{stem}.json: the test set's row counts do not match its labels")
    record["test"] = {"rows": rows, "synthetic_rows": synthetic, "class_counts": _counts(test.get("class_counts"))}
    return {"metrics": fraud_metrics(y_test, np.clip(proba, 0.0, 1.0)), "record": record}


def fraud_result(profile, arms: dict[str, dict], errors: dict[str, str]) -> dict | None:
    """``fraud.json`` from the arms that ran (``fraud_arm``'s values); None without the ``correct`` arm,
    which holds the class counts, ADASYN's weights and the history the report shows."""
    correct = arms.get("correct")
    if correct is None:
        return None
    rec = correct["record"]
    counts = rec.get("class_counts") if isinstance(rec.get("class_counts"), dict) else {}
    ad = rec.get("adasyn") if isinstance(rec.get("adasyn"), dict) else {}
    r = ad.get("r") if isinstance(ad.get("r"), list) else []
    history, malformed = cap_history(rec.get("history"), profile.fraud.epochs)
    times = rec.get("times") if isinstance(rec.get("times"), dict) else {}
    result = {
        "task": "fraud", "profile": profile.to_dict(),
        "class_counts": {key: _counts(counts.get(key))
                         for key in ("original", "train_before", "train_after", "validation", "test")},
        "adasyn": {"d": _number(ad.get("d")), "G": ad.get("G") if isinstance(ad.get("G"), int) else None,
                   "r": [float(v) for v in r if _number(v) is not None], "k": profile.fraud.adasyn_k,
                   "beta": profile.fraud.adasyn_beta},
        "history": _keras_history(history),
        "no_resampling": arms["no_resampling"]["metrics"] if "no_resampling" in arms else None,
        "correct": correct["metrics"],
        "leaky": arms["leaky"]["metrics"] if "leaky" in arms else None,
        "test_sets": {arm: part["record"]["test"] for arm, part in arms.items()},
        "times": {key: _number(times.get(key)) for key in ("adasyn_s", "train_s", "predict_s", "total_s")},
    }
    if "leaky" in arms:
        result["leaky_test"] = arms["leaky"]["record"]["test"]
    if malformed:
        result["history_malformed"] = malformed
    if errors:
        result["errors"] = dict(errors)
    return result

"""Task 2 experiment: the leakage-safe pipeline, and the original report's mistake beside it.

``python -m solutions.fraud --profile {smoke,cpu,paper} [--data creditcard.csv] [--out DIR]``

Two runs with the same CNN, seed and budget (epochs, batch size):

- **correct**: stratified split of the raw rows, a stratified validation part carved
  out of the training part, ADASYN on the rest of the training part only; metrics on
  the untouched, original-distribution test set.
- **leaky** (what the homework's original report did): ADASYN on the whole set, then
  the split, so the test set holds synthetic frauds interpolated from training frauds
  and has a ~50 % fraud rate instead of 0.17 %.

``fraud.json`` (docs/CONTRACTS.md) gets the correct run's counts, ADASYN weights,
history, metrics and times, and the leaky run's metrics under ``"leaky"``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from grader.errors import DataError, MizanError
from grader.profiles import FRAUD_VALIDATION_FRACTION, PROFILES, Profile, get_profile

# Rows the table compares; the inflation column is leaky - correct.
TABLE_ROWS = (
    ("PR-AUC", ("pr_auc",)),
    ("ROC-AUC", ("roc_auc",)),
    ("base rate (test)", ("base_rate",)),
    ("precision @0.5", ("at_0.5", "precision")),
    ("recall @0.5", ("at_0.5", "recall")),
    ("F1 @0.5", ("at_0.5", "f1")),
    ("best F1", ("best_f1", "f1")),
)


def make_sampler(cfg):
    """The reference ADASYN (He et al. 2008) with the profile's beta, k and seed."""
    from solutions.adasyn import ADASYN

    return ADASYN(beta=cfg.adasyn_beta, k=cfg.adasyn_k, random_state=cfg.seed)


def class_counts(y) -> dict:
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2)
    return {"0": int(counts[0]), "1": int(counts[1])}


class HoldOutThenResample:
    """A sampler for ``split_then_resample`` that first carves a stratified validation part.

    The validation rows are original training rows, kept out of ADASYN: resampling
    them would put synthetic neighbours of validation frauds into training.
    """

    def __init__(self, sampler, *, val_size: float, seed: int):
        self.sampler = sampler
        self.val_size = val_size
        self.seed = seed

    def fit_resample(self, X, y):
        from sklearn.model_selection import train_test_split

        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=self.val_size, stratify=y, random_state=self.seed)
        self.X_val_, self.y_val_, self.y_before_ = X_val, y_val, y_fit
        start = time.perf_counter()
        try:
            X_res, y_res = self.sampler.fit_resample(X_fit, y_fit)
        except ValueError as err:
            raise DataError(f"ADASYN could not resample the training part: {err}") from err
        self.seconds_ = time.perf_counter() - start
        return X_res, y_res


def _train_and_score(X_fit, y_fit, X_val, y_val, X_test, y_test, cfg) -> tuple[dict, dict, dict]:
    import keras  # noqa: F401  (the one-off import, ~10 s, is not training time)

    from grader.oracles.fraud_metrics import fraud_metrics
    from solutions.fraud import FraudDetector

    detector = FraudDetector(epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed)
    start = time.perf_counter()
    detector.fit(X_fit, y_fit, validation_data=(X_val, y_val))
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    proba = detector.predict_proba(X_test)
    predict_s = time.perf_counter() - start
    return fraud_metrics(y_test, proba), detector.history_, {"train_s": train_s, "predict_s": predict_s}


def run_correct(X, y, cfg) -> dict:
    """Split, carve validation, ADASYN on the training part only, train, score on the raw test set."""
    from solutions.fraud import split_then_resample

    wrapper = HoldOutThenResample(make_sampler(cfg), val_size=FRAUD_VALIDATION_FRACTION, seed=cfg.seed)
    X_res, X_test, y_res, y_test = split_then_resample(X, y, wrapper, test_size=cfg.test_size, seed=cfg.seed)
    metrics, history, times = _train_and_score(X_res, y_res, wrapper.X_val_, wrapper.y_val_, X_test, y_test, cfg)
    adasyn = wrapper.sampler
    r = getattr(adasyn, "r_", None)
    return {
        "class_counts": {"original": class_counts(y), "train_before": class_counts(wrapper.y_before_),
                         "train_after": class_counts(y_res), "validation": class_counts(wrapper.y_val_),
                         "test": class_counts(y_test)},
        "adasyn": {"d": float(adasyn.d_), "G": int(adasyn.G_),
                   "r": [] if r is None else [float(v) for v in np.asarray(r)],
                   "k": cfg.adasyn_k, "beta": cfg.adasyn_beta},
        "history": history,
        "metrics": metrics,
        "times": {"adasyn_s": wrapper.seconds_, **times},
    }


def run_leaky(X, y, cfg) -> dict:
    """The original report's protocol: ADASYN on all rows, then split; same model and budget."""
    from sklearn.model_selection import train_test_split

    sampler = make_sampler(cfg)
    try:
        X_all, y_all = sampler.fit_resample(X, y)
    except ValueError as err:
        raise DataError(f"ADASYN could not resample the whole set (leaky run): {err}") from err
    X_all, y_all = np.asarray(X_all), np.asarray(y_all)
    row = np.arange(len(y_all))  # rows >= len(y) are synthetic
    X_train, X_test, y_train, y_test, _, row_test = train_test_split(
        X_all, y_all, row, test_size=cfg.test_size, stratify=y_all, random_state=cfg.seed)
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=FRAUD_VALIDATION_FRACTION, stratify=y_train, random_state=cfg.seed)
    metrics, _, _ = _train_and_score(X_fit, y_fit, X_val, y_val, X_test, y_test, cfg)
    synthetic = row_test >= len(y)
    return {
        "metrics": metrics,
        "test": {"rows": int(len(y_test)), "synthetic_rows": int(synthetic.sum()),
                 "class_counts": class_counts(y_test)},
    }


def run_experiment(profile: Profile, *, leaky: bool = True) -> dict:
    """Everything ``fraud.json`` holds, for one profile."""
    from grader.data.fraud import load_fraud_frame, split_xy

    cfg = profile.fraud
    X, y = split_xy(load_fraud_frame(cfg))
    correct = run_correct(X, y, cfg)
    result = {
        "task": "fraud",
        "profile": profile.to_dict(),
        "class_counts": correct["class_counts"],
        "adasyn": correct["adasyn"],
        "history": correct["history"],
        "correct": correct["metrics"],
        "leaky": None,
        "times": correct["times"],
    }
    if leaky:
        measured = run_leaky(X, y, cfg)
        result["leaky"] = measured["metrics"]
        result["leaky_test"] = measured["test"]
    return result


def _get(block: dict, path: tuple[str, ...]) -> float:
    for key in path:
        block = block[key]
    return float(block)


def comparison_table(result: dict) -> str:
    """A plain-text table of correct vs leaky metrics and the inflation."""
    correct, leaky = result["correct"], result["leaky"]
    lines = [f"{'metric':<18} {'correct':>9} {'leaky':>9} {'leaky-correct':>14}"]
    for label, path in TABLE_ROWS:
        c = _get(correct, path)
        if leaky is None:
            lines.append(f"{label:<18} {c:>9.4f} {'-':>9} {'-':>14}")
        else:
            v = _get(leaky, path)
            lines.append(f"{label:<18} {c:>9.4f} {v:>9.4f} {v - c:>+14.4f}")
    if result.get("leaky_test"):
        t = result["leaky_test"]
        lines.append(f"leaky test set: {t['synthetic_rows']} of {t['rows']} rows are synthetic "
                     f"(class counts {t['class_counts']})")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m solutions.fraud",
        description="Fraud CNN with a leakage-safe split-then-ADASYN pipeline, measured against the leaky one.")
    parser.add_argument("--profile", choices=tuple(PROFILES), default=None,
                        help="budget and data (default: $PROFILE or cpu)")
    parser.add_argument("--data", default=None, help="path to creditcard.csv (switches the data source to csv)")
    parser.add_argument("--out", default=None, help="output folder (default: build/results/<profile>/)")
    parser.add_argument("--no-leaky", action="store_true",
                        help="skip the leaky comparison run (fraud.json then has \"leaky\": null)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        profile = get_profile(args.profile)
        if args.data:
            profile = profile.replace(fraud={"source": "csv", "data_path": args.data})
        out = Path(args.out) if args.out else Path("build") / "results" / profile.name
        start = time.perf_counter()
        result = run_experiment(profile, leaky=not args.no_leaky)
        result["times"]["total_s"] = time.perf_counter() - start
        out.mkdir(parents=True, exist_ok=True)
        path = out / "fraud.json"
        path.write_text(json.dumps(result, indent=1), encoding="utf-8")
    except MizanError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: could not write the results: {err}", file=sys.stderr)
        return 2
    counts = result["class_counts"]
    print(f"profile {profile.name}: train {counts['train_before']} -> ADASYN -> {counts['train_after']}, "
          f"validation {counts['validation']}, test {counts['test']}")
    print(comparison_table(result))
    print(f"wrote {path} in {result['times']['total_s']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Task 2 experiment, one arm per sandboxed part: the same CNN, seed and budget under three protocols.

- ``no_resampling``: the submission's ``split_then_resample`` with a sampler that
  only holds out the validation part: the CNN sees the raw class ratio.
- ``correct``: the same split, then the submission's ADASYN on the rest of the
  training part only (split first, resample the training part: He et al. 2008
  oversample training data only).
- ``leaky``: the original report's mistake: the submission's ADASYN on every
  row, then a stratified split, so the test set holds synthetic frauds
  interpolated from training frauds.

In all three a stratified validation part (``FRAUD_VALIDATION_FRACTION`` of the
training part, original rows, before any resampling) gives the history its
``val_loss``; the test set is never used in training. Each part runs inside the
sandbox and writes the test labels and the predicted probabilities (the trusted
side computes the metrics), the class counts, the history, the times, and how
many test rows are not rows of the original data (synthetic).

Artifacts: ``experiments/fraud_<arm>.json`` and ``experiments/fraud_<arm>.npz`` (``y_test``, ``proba``).
"""

from __future__ import annotations

import time

import numpy as np

from grader.experiments.progress import ProgressWriter, keras_epochs
from grader.run.step_api import StepContext, step

ARMS = ("no_resampling", "correct", "leaky")
DATA_INPUT = "fraud/data.npz"
"""The whole data set (``X`` float64, ``y`` int64) relative to the inputs folder."""
CALLS = {"no_resampling": ("fraud.split_then_resample", "fraud.FraudDetector.fit", "fraud.FraudDetector.predict_proba"),
         "correct": ("fraud.split_then_resample", "adasyn.ADASYN.fit_resample", "fraud.FraudDetector.fit",
                     "fraud.FraudDetector.predict_proba"),
         "leaky": ("adasyn.ADASYN.fit_resample", "fraud.FraudDetector.fit", "fraud.FraudDetector.predict_proba")}


def step_id(arm: str) -> str:
    return f"experiments.fraud_{arm}"


def part_timeout(profile) -> float:
    """CPU seconds of one arm: the graded detector step's budget."""
    return max(300.0, 0.8 * profile.timeout_s)


def class_counts(y) -> dict:
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2)
    return {"0": int(counts[0]), "1": int(counts[1])}


class HoldOutThenResample:
    """A sampler for ``split_then_resample`` that first carves a stratified validation part, then
    resamples the rest with ``sampler`` (None: keeps it as it is, the ``no_resampling`` arm).

    The validation rows are original training rows, kept out of ADASYN: resampling them
    would put synthetic neighbours of validation frauds into training.
    """

    def __init__(self, sampler, *, val_size: float, seed: int):
        self.sampler, self.val_size, self.seed = sampler, val_size, seed

    def fit_resample(self, X, y):
        from sklearn.model_selection import train_test_split

        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=self.val_size, stratify=y, random_state=self.seed)
        self.X_val_, self.y_val_, self.y_before_ = X_val, y_val, y_fit
        start = time.perf_counter()
        if self.sampler is not None:
            X_fit, y_fit = self.sampler.fit_resample(X_fit, y_fit)
        self.seconds_ = time.perf_counter() - start
        return X_fit, y_fit


def synthetic_rows(X_test: np.ndarray, X: np.ndarray) -> int:
    """How many rows of ``X_test`` are not rows of the original data ``X`` (bit for bit)."""
    original = {row.tobytes() for row in np.ascontiguousarray(X, dtype=np.float64)}
    return int(sum(row.tobytes() not in original for row in np.ascontiguousarray(X_test, dtype=np.float64)))


def _as_xy(pair, what: str) -> tuple[np.ndarray, np.ndarray]:
    from grader.run.steps.fraud import as_float_array, as_int_array

    X, y = pair
    return as_float_array(X, f"{what} X"), as_int_array(y, f"{what} y")


def _adasyn_record(sampler, cfg) -> dict:
    from grader.run.steps.fraud import as_float_array

    record = {"k": cfg.adasyn_k, "beta": cfg.adasyn_beta}
    for key, attr in (("d", "d_"), ("G", "G_")):
        value = getattr(sampler, attr, None)
        record[key] = None if value is None else float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    if record["G"] is not None:
        record["G"] = int(record["G"])
    r = getattr(sampler, "r_", None)
    record["r"] = [] if r is None else as_float_array(r, "ADASYN r_").reshape(-1).tolist()
    return record


def _leaky_split(sampler, X, y, cfg) -> tuple[tuple, dict, float]:
    """ADASYN on every row, then the split: ``((X_fit, y_fit, X_val, y_val, X_test, y_test), counts, s)``."""
    from sklearn.model_selection import train_test_split

    from grader.profiles import FRAUD_VALIDATION_FRACTION

    start = time.perf_counter()
    X_all, y_all = _as_xy(sampler.fit_resample(X, y), "ADASYN.fit_resample(all rows)")
    seconds = time.perf_counter() - start
    X_train, X_test, y_train, y_test = train_test_split(
        X_all, y_all, test_size=cfg.test_size, stratify=y_all, random_state=cfg.seed)
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=FRAUD_VALIDATION_FRACTION, stratify=y_train, random_state=cfg.seed)
    counts = {"original": class_counts(y), "resampled": class_counts(y_all), "train": class_counts(y_fit),
              "validation": class_counts(y_val), "test": class_counts(y_test)}
    return (X_fit, y_fit, X_val, y_val, X_test, y_test), counts, seconds


def _split_first(fraud, sampler, X, y, cfg) -> tuple[tuple, dict, float]:
    """The submission's ``split_then_resample`` with the validation part held out before ``sampler``."""
    from grader.profiles import FRAUD_VALIDATION_FRACTION

    wrapper = HoldOutThenResample(sampler, val_size=FRAUD_VALIDATION_FRACTION, seed=cfg.seed)
    X_fit, X_test, y_fit, y_test = fraud.split_then_resample(X, y, wrapper, test_size=cfg.test_size, seed=cfg.seed)
    X_fit, y_fit = _as_xy((X_fit, y_fit), "split_then_resample training part")
    X_test, y_test = _as_xy((X_test, y_test), "split_then_resample test part")
    if not hasattr(wrapper, "X_val_"):
        raise RuntimeError("split_then_resample never called sampler.fit_resample on the training part")
    counts = {"original": class_counts(y), "train_before": class_counts(wrapper.y_before_),
              "train_after": class_counts(y_fit), "validation": class_counts(wrapper.y_val_),
              "test": class_counts(y_test)}
    return (X_fit, y_fit, wrapper.X_val_, wrapper.y_val_, X_test, y_test), counts, wrapper.seconds_


def run_arm(arm: str, fraud, adasyn, X: np.ndarray, y: np.ndarray, cfg, say=lambda text: None) -> dict:
    """One arm with the submission modules ``fraud`` and ``adasyn`` (None for ``no_resampling``)."""
    from grader.run.steps.fraud import as_float_array

    start_all = time.perf_counter()
    sampler = None if arm == "no_resampling" else adasyn.ADASYN(beta=cfg.adasyn_beta, k=cfg.adasyn_k,
                                                                 random_state=cfg.seed)
    split = _leaky_split(sampler, X, y, cfg) if arm == "leaky" else _split_first(fraud, sampler, X, y, cfg)
    (X_fit, y_fit, X_val, y_val, X_test, y_test), counts, adasyn_s = split
    record: dict = {"arm": arm, "class_counts": counts}
    if sampler is not None:
        record["adasyn"] = _adasyn_record(sampler, cfg)
    record["test"] = {"rows": int(len(y_test)), "synthetic_rows": synthetic_rows(X_test, X),
                      "class_counts": class_counts(y_test)}
    fit = class_counts(y_fit)
    say(f"training on {len(y_fit)} rows ({fit['0']} legitimate, {fit['1']} fraud), testing on {len(y_test)} "
        f"({record['test']['synthetic_rows']} of them synthetic)")

    detector = fraud.FraudDetector(epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed)
    with keras_epochs(cfg.epochs, say):
        start = time.perf_counter()
        detector.fit(X_fit, y_fit, validation_data=(X_val, y_val))
        train_s = time.perf_counter() - start
    start = time.perf_counter()
    proba = detector.predict_proba(X_test)
    predict_s = time.perf_counter() - start
    history = {}
    raw = getattr(detector, "history_", None)
    for key, values in raw.items() if isinstance(raw, dict) else ():
        try:
            history[str(key)[:64]] = as_float_array(values, f"history_[{key!r}]").reshape(-1).tolist()
        except (TypeError, ValueError):
            continue
    record["history"] = history
    record["times"] = {"adasyn_s": adasyn_s, "train_s": train_s, "predict_s": predict_s,
                       "total_s": time.perf_counter() - start_all}
    record["proba"] = as_float_array(proba, "predict_proba(X_test)").reshape(-1)
    record["y_test"] = y_test
    return record


def _part(ctx: StepContext, arm: str) -> None:
    fraud = ctx.module("fraud")
    adasyn = None if arm == "no_resampling" else ctx.module("adasyn")
    profile = ctx.profile
    say = ProgressWriter(ctx.out, f"fraud {arm}")
    with np.load(ctx.inputs / DATA_INPUT, allow_pickle=False) as data:
        X, y = np.array(data["X"]), np.array(data["y"])
    record = run_arm(arm, fraud, adasyn, X, y, profile.fraud, say)
    ctx.write_npz(f"experiments/fraud_{arm}.npz", y_test=record.pop("y_test"), proba=record.pop("proba"))
    ctx.write_json(f"experiments/fraud_{arm}.json", record)
    say(f"done: {record['times']['train_s']:.1f} s of training")


@step(step_id("no_resampling"), task="experiments", timeout_s=part_timeout, calls=CALLS["no_resampling"])
def fraud_no_resampling(ctx: StepContext) -> None:
    _part(ctx, "no_resampling")


@step(step_id("correct"), task="experiments", timeout_s=part_timeout, calls=CALLS["correct"])
def fraud_correct(ctx: StepContext) -> None:
    _part(ctx, "correct")


@step(step_id("leaky"), task="experiments", timeout_s=part_timeout, calls=CALLS["leaky"])
def fraud_leaky(ctx: StepContext) -> None:
    _part(ctx, "leaky")

"""Untrusted steps of the fraud task: call the student's API and record plain artifacts.

Each step runs in its own sandboxed process (GRADING.md, "Steps"). Every value
the student returns is coerced here to a plain ``float64`` / ``int64`` array or a
Python number before it is written, and object dtypes are refused, so a returned
object whose ``__eq__`` always answers True never reaches a check. Cases inside
a step are isolated: an exception (or a per-case time-out) in one is recorded
and the next case still runs, and the artifacts are rewritten after every case,
so a process killed from outside keeps what was recorded before.
"""

from __future__ import annotations

import json
import signal
import time
from contextlib import contextmanager

import numpy as np

from grader.run.step_api import StepContext, step

ATTRIBUTES = ("d_", "G_", "r_", "r_hat_", "g_")
CASE_TIMEOUT_S = 120
ID_COLUMN = 0


class CaseTimeout(BaseException):
    """Raised by the per-case alarm; a BaseException so that ``except Exception`` cannot swallow it."""


@contextmanager
def _time_limit(seconds: float):
    """Interrupt one case after ``seconds`` (SIGALRM, main thread only; otherwise no limit)."""
    def on_alarm(signum, frame):
        raise CaseTimeout(f"the call ran longer than {seconds:.0f} s")

    try:
        previous = signal.signal(signal.SIGALRM, on_alarm)
    except ValueError:                      # not the main thread: the step's own timeout applies
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _error_record(err: BaseException) -> dict:
    return {"status": "timeout" if isinstance(err, CaseTimeout) else "error",
            "error_type": type(err).__name__, "message": str(err)[:500]}


# -- coercion: nothing but plain numbers leaves the student's objects -----------------------
def as_float_array(value, what: str) -> np.ndarray:
    """``value`` as a new float64 ndarray; refuses object, string and complex dtypes."""
    if hasattr(value, "to_numpy") and callable(value.to_numpy):     # pandas objects
        value = value.to_numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be a numeric array; got dtype {arr.dtype} ({type(value).__name__})")
    return np.array(arr, dtype=np.float64, copy=True)


def as_int_array(value, what: str) -> np.ndarray:
    """``value`` as int64; float values must be whole numbers."""
    arr = as_float_array(value, what)
    if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
        raise TypeError(f"{what} must hold whole numbers")
    return arr.astype(np.int64)


def as_float(value, what: str) -> float:
    arr = as_float_array(value, what)
    if arr.size != 1:
        raise TypeError(f"{what} must be a single number; got shape {arr.shape}")
    return float(arr.reshape(()))


def as_int(value, what: str) -> int:
    arr = as_int_array(value, what)
    if arr.size != 1:
        raise TypeError(f"{what} must be a single whole number; got shape {arr.shape}")
    return int(arr.reshape(()))


def _load_cases(ctx: StepContext, stem: str) -> tuple[list[dict], dict]:
    meta = json.loads((ctx.inputs / "fraud" / f"{stem}.json").read_text(encoding="utf-8"))
    with np.load(ctx.inputs / "fraud" / f"{stem}.npz", allow_pickle=False) as data:
        arrays = {name: np.array(data[name]) for name in data.files}
    return meta, arrays


def _resample(ADASYN, params: dict, X: np.ndarray, y: np.ndarray) -> tuple[object, np.ndarray, np.ndarray]:
    sampler = ADASYN(**params)
    out = sampler.fit_resample(X.copy(), y.copy())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"fit_resample must return a tuple (X_res, y_res); got {type(out).__name__}")
    X_res = as_float_array(out[0], "X_res")
    y_res = as_int_array(out[1], "y_res")
    if X_res.ndim != 2 or y_res.ndim != 1 or len(X_res) != len(y_res):
        raise TypeError(f"X_res must be 2-D and y_res 1-D of the same length; got shapes "
                        f"{X_res.shape} and {y_res.shape}")
    return sampler, X_res, y_res


@step("fraud.adasyn_cases", task="fraud", timeout_s=600, visible=True,
      calls=("adasyn.ADASYN.fit_resample",))
def adasyn_cases(ctx: StepContext) -> None:
    """Run ``ADASYN.fit_resample`` on each grader case; record outputs and fitted attributes."""
    ADASYN = ctx.module("adasyn").ADASYN
    cases, data = _load_cases(ctx, "adasyn_cases")
    records: dict[str, dict] = {}
    arrays: dict[str, np.ndarray] = {}
    for case in cases:
        name = case["name"]
        X, y = data[f"X__{name}"], data[f"y__{name}"]
        record: dict = {"status": "ok", "attributes": {}, "attribute_errors": {}}
        started = time.perf_counter()
        try:
            with _time_limit(CASE_TIMEOUT_S):
                sampler, X_res, y_res = _resample(ADASYN, case["params"], X, y)
                arrays[f"X_res__{name}"], arrays[f"y_res__{name}"] = X_res, y_res
                for attr in ATTRIBUTES:
                    if not hasattr(sampler, attr):
                        record["attribute_errors"][attr] = "missing"
                        continue
                    value = getattr(sampler, attr)
                    try:
                        if attr == "d_":
                            record["attributes"][attr] = as_float(value, attr)
                        elif attr == "G_":
                            record["attributes"][attr] = as_int(value, attr)
                        elif attr == "g_":
                            arrays[f"g__{name}"] = as_int_array(value, attr).reshape(-1)
                        else:
                            arrays[f"{attr.rstrip('_')}__{name}"] = as_float_array(value, attr).reshape(-1)
                    except (TypeError, ValueError) as err:
                        record["attribute_errors"][attr] = str(err)[:300]
                if case.get("repeat"):
                    _, X_again, _ = _resample(ADASYN, case["params"], X, y)
                    arrays[f"X_res_again__{name}"] = X_again
        except BaseException as err:  # noqa: BLE001 - any failure (SystemExit too) is recorded
            record.update(_error_record(err))
        record["wall_s"] = round(time.perf_counter() - started, 4)
        records[name] = record
        ctx.write_npz("fraud/adasyn_cases.npz", **arrays)
        ctx.write_json("fraud/adasyn_cases.json", records)


@step("fraud.adasyn_errors", task="fraud", timeout_s=300, visible=True,
      calls=("adasyn.ADASYN.fit_resample",))
def adasyn_errors(ctx: StepContext) -> None:
    """Feed each bad input to ``ADASYN``; record the exception it raised, or that none was raised."""
    ADASYN = ctx.module("adasyn").ADASYN
    cases, data = _load_cases(ctx, "adasyn_errors")
    records: dict[str, dict] = {}
    for case in cases:
        name = case["name"]
        X, y = data[f"X__{name}"], data[f"y__{name}"]
        record = {"raised": False, "error_type": None, "is_value_error": False, "message": ""}
        try:
            with _time_limit(CASE_TIMEOUT_S):
                ADASYN(**case["params"]).fit_resample(X.copy(), y.copy())
        except CaseTimeout as err:
            record.update(raised=True, error_type="timeout", message=str(err))
        except BaseException as err:  # noqa: BLE001 - SystemExit from a bad input is recorded too
            record.update(raised=True, error_type=type(err).__name__,
                          is_value_error=isinstance(err, ValueError), message=str(err)[:300])
        records[name] = record
        ctx.write_json("fraud/adasyn_errors.json", records)


class RecordingSampler:
    """A sampler that logs the ids of the rows it is given and marks the rows it adds.

    Column ``ID_COLUMN`` of the grader's split frame is a unique row id >= 0. Each
    call returns its input unchanged, followed by one copy of every minority row
    whose id is replaced by ``-(id + 1)``: the trusted side can tell every row of
    the returned parts apart (original, added by the sampler, or modified).
    """

    def __init__(self):
        self.calls: list[np.ndarray] = []

    def fit_resample(self, X, y):
        X = as_float_array(X, "X given to the sampler")
        y = as_int_array(y, "y given to the sampler")
        self.calls.append(X[:, ID_COLUMN].copy())
        values, counts = np.unique(y, return_counts=True)
        minority = values[np.argmin(counts)] if len(values) else 0
        extra = X[y == minority].copy()
        extra[:, ID_COLUMN] = -(extra[:, ID_COLUMN] + 1)
        return np.vstack([X, extra]), np.r_[y, np.full(len(extra), minority, dtype=np.int64)]


@step("fraud.split", task="fraud", timeout_s=300, visible=True, calls=("fraud.split_then_resample",))
def split(ctx: StepContext) -> None:
    """Call ``split_then_resample`` on the identifiable frame with a recording sampler, per run."""
    split_then_resample = ctx.module("fraud").split_then_resample
    with np.load(ctx.inputs / "fraud" / "split_frame.npz", allow_pickle=False) as data:
        X, y = np.array(data["X"]), np.array(data["y"])
    runs = json.loads((ctx.inputs / "fraud" / "split_runs.json").read_text(encoding="utf-8"))
    records: dict[str, dict] = {}
    arrays: dict[str, np.ndarray] = {}
    for run in runs:
        name = run["name"]
        sampler = RecordingSampler()
        record: dict = {"status": "ok"}
        try:
            with _time_limit(CASE_TIMEOUT_S):
                out = split_then_resample(X.copy(), y.copy(), sampler,
                                          test_size=run["test_size"], seed=run["seed"])
                if not isinstance(out, (tuple, list)) or len(out) != 4:
                    raise TypeError("split_then_resample must return (X_train, X_test, y_train, y_test); "
                                    f"got {type(out).__name__}")
                parts = {"X_train": as_float_array(out[0], "X_train"), "X_test": as_float_array(out[1], "X_test"),
                         "y_train": as_int_array(out[2], "y_train").reshape(-1),
                         "y_test": as_int_array(out[3], "y_test").reshape(-1)}
                for key, value in parts.items():
                    arrays[f"{key}__{name}"] = value
        except BaseException as err:  # noqa: BLE001 - SystemExit in one run is recorded too
            record.update(_error_record(err))
        record["sampler_calls"] = len(sampler.calls)
        for i, ids in enumerate(sampler.calls):
            arrays[f"call{i}__{name}"] = ids
        records[name] = record
        ctx.write_npz("fraud/split.npz", **arrays)
        ctx.write_json("fraud/split.json", records)


def _jsonable(value):
    """A config value as JSON: numbers, strings, lists, dicts; anything else by its repr."""
    return json.loads(json.dumps(value, default=lambda v: repr(v)[:200]))


def describe_loss(loss) -> dict:
    """What ``model.compile(loss=...)`` was given: a name, a Loss object, or a function."""
    if loss is None:
        return {"kind": "none", "name": None, "config": {}}
    if isinstance(loss, str):
        return {"kind": "str", "name": loss, "config": {}}
    if isinstance(loss, (list, tuple, dict)):
        return {"kind": type(loss).__name__, "name": repr(loss)[:200], "config": {}}
    if hasattr(loss, "get_config") and not isinstance(loss, type):
        try:
            config = _jsonable(loss.get_config())
        except Exception:  # noqa: BLE001
            config = {}
        return {"kind": "object", "name": type(loss).__name__, "config": config}
    return {"kind": "function", "name": getattr(loss, "__name__", repr(loss)[:100]), "config": {}}


@step("fraud.cnn_arch", task="fraud", timeout_s=300, visible=True, calls=("fraud.build_cnn",))
def cnn_arch(ctx: StepContext) -> None:
    """``build_cnn(30)``: model JSON, parameter counts, optimizer and loss."""
    build_cnn = ctx.module("fraud").build_cnn
    model = build_cnn(30)
    ctx.write_text("fraud/cnn_model.json", model.to_json())
    trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    non_trainable = int(sum(int(np.prod(w.shape)) for w in model.non_trainable_weights))
    optimizer = getattr(model, "optimizer", None)
    opt = {"class": None, "learning_rate": None, "config": {}}
    if optimizer is not None:
        opt["class"] = type(optimizer).__name__
        try:
            opt["config"] = _jsonable(optimizer.get_config())
        except Exception as err:  # noqa: BLE001
            opt["config"] = {"error": str(err)[:200]}
        try:
            opt["learning_rate"] = as_float(np.asarray(optimizer.learning_rate), "learning_rate")
        except Exception:  # noqa: BLE001 - a schedule: the config says which
            opt["learning_rate"] = None
    ctx.write_json("fraud/cnn.json", {
        "total_params": as_int(model.count_params(), "count_params()"),
        "trainable_params": trainable, "non_trainable_params": non_trainable,
        "input_shape": _jsonable(getattr(model, "input_shape", None)),
        "optimizer": opt, "loss": describe_loss(getattr(model, "loss", None)),
    })


@step("fraud.detector", task="fraud", timeout_s=lambda profile: max(300.0, 0.8 * profile.timeout_s),
      visible=False, calls=("fraud.FraudDetector.fit", "fraud.FraudDetector.predict_proba"))
def detector(ctx: StepContext) -> None:
    """Train ``FraudDetector`` on the grader's resampled training part; predict held-back inputs."""
    FraudDetector = ctx.module("fraud").FraudDetector
    folder = ctx.inputs / "fraud"
    budget = json.loads((folder / "detector.json").read_text(encoding="utf-8"))
    with np.load(folder / "detector_train.npz", allow_pickle=False) as d:
        X_train, y_train = np.array(d["X"]), np.array(d["y"])
    with np.load(folder / "detector_val.npz", allow_pickle=False) as d:
        X_val, y_val = np.array(d["X"]), np.array(d["y"])
    with np.load(folder / "detector_test.npz", allow_pickle=False) as d:
        X_test = np.array(d["X"])
    model = FraudDetector(epochs=budget["epochs"], batch_size=budget["batch_size"], seed=budget["seed"])
    started = time.perf_counter()
    model.fit(X_train, y_train, validation_data=(X_val, y_val))
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    proba = as_float_array(model.predict_proba(X_test), "predict_proba(X)")
    predict_s = time.perf_counter() - started
    ctx.write_npz("fraud/detector.npz", proba=proba)
    history = {}
    raw = getattr(model, "history_", None)
    if isinstance(raw, dict):
        for key, values in raw.items():
            try:
                history[str(key)] = as_float_array(values, f"history_[{key!r}]").reshape(-1).tolist()
            except (TypeError, ValueError):
                continue
    ctx.write_json("fraud/detector.json", {
        "history": history, "history_is_dict": isinstance(raw, dict),
        "times": {"train_s": round(train_s, 3), "predict_s": round(predict_s, 3)},
        "n_train": int(len(y_train)), "n_test": int(len(X_test)), "budget": budget,
    })

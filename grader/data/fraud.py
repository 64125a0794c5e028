"""Credit-card fraud data: a seeded generator shaped like the ULB set, and its real loader.

The real data (Dal Pozzolo et al. 2015, Kaggle ``mlg-ulb/creditcardfraud``) has
31 columns: ``Time`` (seconds since the first transaction, over two days),
``V1``..``V28`` (the PCA components the bank released instead of the raw
features), ``Amount`` and ``Class`` (1 = fraud, 492 of 284,807 rows, 0.172 %).

``generate_creditcard`` imitates that shape so that everything offline (the
``smoke`` and ``cpu`` profiles, the tests, the student checks) runs without the
file: the same columns and dtypes, PCA-like components with the real set's
decreasing spreads and heavy tails, fraud shifted on the components that carry
it in the real set (V14, V12, V10, V17, V4, V11, V3, ...) with a share of
frauds that look ordinary, so a linear model finds fraud but cannot separate it.
``load_creditcard`` reads the real file and rejects anything of another schema
with a message that names the file and the problem.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from grader.errors import DataError

if TYPE_CHECKING:  # pandas is imported lazily: grader.cli must start instantly
    import pandas as pd

    from grader.profiles import FraudConfig, Profile

N_COMPONENTS = 28
FEATURES: list[str] = ["Time", *(f"V{j}" for j in range(1, N_COMPONENTS + 1)), "Amount"]
LABEL = "Class"
COLUMNS: list[str] = [*FEATURES, LABEL]

TWO_DAYS_S = 172_792  # the real set's largest Time
MAX_AMOUNT = 25_691.16  # the real set's largest Amount

# Standard deviations of V1..V28 in the real set (rounded): PCA components in
# decreasing order of variance.
_V_STD = np.array([
    1.96, 1.65, 1.52, 1.42, 1.38, 1.33, 1.24, 1.19, 1.10, 1.09, 1.02, 1.00, 0.995, 0.959,
    0.915, 0.876, 0.849, 0.838, 0.814, 0.771, 0.735, 0.726, 0.624, 0.606, 0.521, 0.482,
    0.404, 0.330,
])

# Fraud shift per component, in units of that component's spread. Signs and the
# ranking follow the real set's fraud means (V14, V12, V10, V17 most negative;
# V4, V11 positive); magnitudes are smaller so that classes overlap.
_FRAUD_SHIFT = {
    "V14": -2.4, "V12": -2.0, "V10": -1.8, "V17": -2.0, "V4": 1.7, "V11": 1.5, "V3": -1.3,
    "V7": -1.0, "V16": -1.0, "V9": -0.8, "V1": -0.6, "V2": 0.6, "V18": -0.6, "V5": -0.5,
}

_DF = 5.0  # degrees of freedom of the multivariate t: heavy, shared tails per row
_STEALTH_SHARE = 0.3  # frauds that carry almost none of the shift


def _fraud_direction() -> np.ndarray:
    shift = np.zeros(N_COMPONENTS)
    for name, value in _FRAUD_SHIFT.items():
        shift[int(name[1:]) - 1] = value
    return shift


def _hour_intensity(minutes: np.ndarray, night_level: float) -> np.ndarray:
    """Relative activity per minute of day: low from about 1 to 7 a.m., as in the real Time."""
    hours = minutes / 60.0
    day = 0.5 * (1.0 - np.cos(2.0 * np.pi * (hours - 3.5) / 24.0))  # 0 at 3:30, 1 at 15:30
    return night_level + (1.0 - night_level) * day**1.5


def _sample_time(rng: np.random.Generator, n: int, night_level: float) -> np.ndarray:
    minutes = np.arange(24 * 60)
    cdf = np.cumsum(_hour_intensity(minutes, night_level))
    cdf /= cdf[-1]
    minute = np.searchsorted(cdf, rng.random(n), side="right")
    day = rng.integers(0, 2, size=n)
    seconds = day * 86_400 + minute * 60 + rng.integers(0, 60, size=n)
    return np.minimum(seconds, TWO_DAYS_S).astype(np.float64)


def _sample_components(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-scaled multivariate t rows times the real spreads: uncorrelated, heavy-tailed."""
    z = rng.standard_normal((n, N_COMPONENTS))
    w = np.sqrt(_DF / rng.chisquare(_DF, size=n)) / np.sqrt(_DF / (_DF - 2.0))
    return z * w[:, None] * _V_STD


def generate_creditcard(n_rows: int = 284_807, n_fraud: int = 492, seed: int = 0) -> "pd.DataFrame":
    """A seeded frame with the real ``creditcard.csv``'s 31 columns and dtypes.

    Rows are sorted by ``Time`` as in the real file; exactly ``n_fraud`` rows
    have ``Class`` 1. Legitimate rows: V1..V28 from a multivariate t (5 degrees
    of freedom) scaled to the real components' spreads; ``Amount`` log-normal
    (median about 22, mean about 90, as in the real set) and correlated with V2,
    V7 and V20 the way the real Amount is; ``Time`` with a night-time trough.
    Fraud rows: the same draw shifted along ``_FRAUD_SHIFT`` with a random
    severity (30 % of frauds nearly unshifted), ``Amount`` from a heavier-tailed
    mixture of tiny test charges and large ones, ``Time`` flatter over the day.
    """
    import pandas as pd

    for name, value in (("n_rows", n_rows), ("n_fraud", n_fraud), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise DataError(f"generate_creditcard: {name} must be an integer, got {value!r}")
    if n_fraud < 1 or n_rows <= n_fraud:
        raise DataError(
            f"generate_creditcard: need 1 <= n_fraud < n_rows, got n_fraud={n_fraud}, n_rows={n_rows}"
        )
    rng = np.random.default_rng(seed)
    n_legit = n_rows - n_fraud

    v = _sample_components(rng, n_rows)
    fraud = np.zeros(n_rows, dtype=bool)
    fraud[n_legit:] = True

    # Fraud: shift along one direction with a per-row severity; a share barely moves.
    stealth = rng.random(n_fraud) < _STEALTH_SHARE
    severity = np.where(stealth, rng.uniform(0.0, 0.35, n_fraud), rng.uniform(0.45, 1.6, n_fraud))
    jitter = 1.0 + 0.35 * rng.standard_normal((n_fraud, N_COMPONENTS))
    v[n_legit:] += severity[:, None] * _fraud_direction() * jitter * _V_STD
    v[n_legit:] *= 1.0 + 0.5 * severity[:, None]  # shifted frauds also spread wider

    # Amount: legitimate log-normal tied to V2 (-), V7 (+), V20 (+); fraud mixture.
    zv = v[:n_legit, [1, 6, 19]] / _V_STD[[1, 6, 19]]
    mix = np.clip(zv @ np.array([-0.35, 0.25, 0.2]), -3.0, 3.0)
    log_amount = np.log(22.0) + 1.66 * (mix + np.sqrt(1 - 0.35**2 - 0.25**2 - 0.2**2)
                                        * rng.standard_normal(n_legit))
    amount = np.empty(n_rows)
    amount[:n_legit] = np.exp(log_amount)
    amount[:n_legit][rng.random(n_legit) < 0.0064] = 0.0  # the real set's zero-amount rows
    small = rng.random(n_fraud) < 0.45
    amount[n_legit:] = np.where(small, np.exp(rng.normal(0.3, 0.8, n_fraud)),
                                np.exp(rng.normal(4.4, 1.6, n_fraud)))
    amount = np.round(np.clip(amount, 0.0, MAX_AMOUNT), 2)

    time = np.empty(n_rows)
    time[:n_legit] = _sample_time(rng, n_legit, night_level=0.08)
    time[n_legit:] = _sample_time(rng, n_fraud, night_level=0.6)

    order = np.argsort(time, kind="stable")
    data = {"Time": time[order]}
    for j in range(N_COMPONENTS):
        data[f"V{j + 1}"] = v[order, j]
    data["Amount"] = amount[order]
    data[LABEL] = fraud[order].astype(np.int64)
    return pd.DataFrame(data, columns=COLUMNS)


def load_creditcard(path: str | os.PathLike) -> "pd.DataFrame":
    """Read the Kaggle/ULB ``creditcard.csv`` and check its schema.

    The real file quotes its header (``"Time","V1",...,"Class"``) and its
    ``Class`` values (``"0"``); both quoted and unquoted forms are read. Extra
    columns are dropped; features come back as float64 and ``Class`` as int64,
    in the order of ``COLUMNS``. Anything else raises ``DataError`` naming the
    file and the problem.
    """
    import pandas as pd

    path = os.fspath(path)
    where = f"credit-card data {path!r}"
    if not os.path.isfile(path):
        raise DataError(
            f"{where}: file not found. Download creditcard.csv (Kaggle mlg-ulb/creditcardfraud) "
            "and set fraud.data_path to its path in the course configuration (for one run: --set "
            "fraud.data_path=/path/to/creditcard.csv), or use a profile with generated data (smoke, cpu)."
        )
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{where}: the file is empty; expected a header {COLUMNS[0]!r}..{LABEL!r}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"{where}: not a readable CSV file ({err})") from None
    frame.columns = [str(c).lstrip("\ufeff").strip().strip('"') for c in frame.columns]

    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}; creditcard.csv has the 31 columns "
            f"Time, V1..V28, Amount, Class"
        )
    if len(frame) == 0:
        raise DataError(f"{where}: the file has a header but no rows")

    out = {}
    for name in COLUMNS:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            raise DataError(f"{where}: column {name!r} is not numeric (it holds True/False)")
        if not pd.api.types.is_numeric_dtype(column):
            # pandas kept text in it: name the first cell that is not a number
            numbers = pd.to_numeric(column, errors="coerce")
            bad = (numbers.isna() & column.notna()).to_numpy()
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"{where}: column {name!r} is not numeric (data row {row + 1} holds {column.iloc[row]!r})"
                )
            column = numbers
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        nan = np.isnan(values)
        if nan.any():
            raise DataError(
                f"{where}: column {name!r} has {int(nan.sum())} missing or NaN value(s) "
                f"(first at data row {int(np.flatnonzero(nan)[0]) + 1}); fill or drop those rows"
            )
        if not np.isfinite(values).all():
            raise DataError(f"{where}: column {name!r} holds infinite values")
        out[name] = values

    label = out[LABEL]
    not_binary = sorted(set(np.unique(label).tolist()) - {0.0, 1.0})
    if not_binary:
        shown = ", ".join(f"{v:g}" for v in not_binary[:5])
        raise DataError(f"{where}: column {LABEL!r} must hold only 0 and 1, found {shown}")
    if not (label == 1).any():
        raise DataError(f"{where}: no positive class (no row with {LABEL} = 1); the fraud task needs frauds")
    if not (label == 0).any():
        raise DataError(f"{where}: no negative class (no row with {LABEL} = 0)")
    out[LABEL] = label.astype(np.int64)
    return pd.DataFrame(out, columns=COLUMNS)


def load_fraud_frame(fraud_cfg: "FraudConfig | Profile") -> "pd.DataFrame":
    """The frame a profile's fraud section names: generated (seeded) or ``creditcard.csv``.

    Takes the ``FraudConfig`` or the whole ``Profile`` (its ``fraud`` section is used).
    """
    fraud_cfg = getattr(fraud_cfg, "fraud", fraud_cfg)
    if fraud_cfg.source == "generated":
        return generate_creditcard(fraud_cfg.n_rows, fraud_cfg.n_fraud, fraud_cfg.seed)
    if fraud_cfg.source == "csv":
        return load_creditcard(fraud_cfg.data_path)
    raise DataError(f"fraud.source={fraud_cfg.source!r}: choose 'generated' or 'csv'")


def split_xy(frame: "pd.DataFrame") -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: the 30 features as a float64 array in ``FEATURES`` order, ``Class`` as int64."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"split_xy: the frame lacks column(s) {', '.join(missing)}")
    X = frame[FEATURES].to_numpy(dtype=np.float64)
    y = frame[LABEL].to_numpy(dtype=np.int64)
    return X, y
